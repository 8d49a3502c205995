"""The nbgrader preprocessors of this course, one idea each, in the order they run.

Grading (``Autograde``; nbgrader's own steps around them, see ``autograde_steps``):

- ``DropEmptyNbgraderMetadata`` -- works around nbgrader 0.9.6 failing on a duplicated cell;
- ``GuardedExecute`` -- nbgrader's ``Execute`` with the sandboxed kernel
  (``SandboxedKernelManager``), the integrity probe cells (``integrity``), per-cell output
  caps and a kernel death that costs only the tests that did not run; it leaves an
  ``ExecutionReport``;
- ``RelabelStderr`` -- stderr of a test cell is shown as output: nbgrader would score a
  passing test that warns 0.

Feedback (``GenerateFeedback``, see ``feedback_steps``):

- ``ScrubHiddenTracebacks`` -- errors of cells with hidden tests keep only ``Error: message``
  (a traceback would quote the hidden line);
- ``ScoreTable`` -- a table of points per test at the top, with the grader's notes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Dict, Integer, List, Unicode

from dl_course import integrity, warmup
from dl_course.jobs import ExecutionReport
from dl_course.notebooks import HIDDEN_BEGIN, is_test_cell
from dl_course.phases import PHASES, phase
from dl_course.sandbox import SandboxedKernelManager
from dl_course.verify import NOTE_KEY

PROBE_KEY = "dl_grader_probe"  # metadata of the probe cells GuardedExecute adds (and removes)


class DropEmptyNbgraderMetadata(NbGraderPreprocessor):
    """Remove the empty ``nbgrader`` metadata ``DeduplicateIds`` leaves on duplicated cells
    (nbgrader 0.9.6's ``OverwriteCells.add_missing_cells`` fails on it: ``KeyError``)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.get("metadata", {}).get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
        return cell, resources


def _probe_cell(source: str, where: str) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata[PROBE_KEY] = where
    return cell


def _error(ename: str, evalue: str) -> NotebookNode:
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


class GuardedExecute(Execute):
    """nbgrader's ``Execute`` with a sandboxed kernel, probes, output caps and death handling."""

    probe_modules = List(Unicode(), help="Modules whose callables the probes fingerprint.").tag(
        config=True
    )
    probe_aliases = Dict(help="Module aliases the notebook binds, e.g. {'np': 'numpy'}.").tag(
        config=True
    )
    report_path = Unicode(help="Where to write the ExecutionReport (JSON).").tag(config=True)
    max_cell_output_bytes = Integer(256_000, help="Output kept per cell.").tag(config=True)

    def __init__(self, **kwargs) -> None:
        kwargs["kernel_manager_class"] = SandboxedKernelManager
        super().__init__(**kwargs)
        self._cell_bytes: dict[int, int] = {}

    def preprocess(self, nb: NotebookNode, resources: dict, km=None):
        probe = integrity.probe_source(list(self.probe_modules), dict(self.probe_aliases))
        cells: list[NotebookNode] = [_probe_cell(probe, "start")]
        for cell in nb.cells:
            cells.append(cell)
            if is_test_cell(cell):
                cells.append(_probe_cell(probe, cell.metadata["nbgrader"]["grade_id"]))
        nb.cells = cells
        died = None
        start = time.perf_counter()
        # A kernel started ahead of need (``warmup``), handed over in the submission's turn;
        # nbclient leaves a kernel it was given running, so this shuts it down
        # (``_cleanup_kernel``) as nbclient does its own.
        with phase("waiting for the turn and the warm kernel"):
            given = km or warmup.take()
        try:
            nb, resources = super().preprocess(nb, resources, given)
        except DeadKernelError:
            died = "kernel died (os._exit, a crash, or a resource limit)"
        except Exception as error:  # e.g. the kernel never started: say why, then fail
            report = ExecutionReport(error=f"{type(error).__name__}: {error}")
            Path(self.report_path).write_text(report.to_json())
            raise
        finally:
            if given is not None and km is None and self.km is not None:
                self._cleanup_kernel()
            PHASES["execute (all)"] += time.perf_counter() - start
        probes = [
            (c.metadata[PROBE_KEY], _probe_report(c)) for c in nb.cells if PROBE_KEY in c.metadata
        ]
        nb.cells = [c for c in nb.cells if PROBE_KEY not in c.metadata]
        if died:
            for cell in nb.cells:
                if is_test_cell(cell) and cell.get("execution_count") is None:
                    cell.outputs.append(_error("NotRun", f"this test did not run: {died}"))
            probes = [(where, report) for where, report in probes if report is not None]
        Path(self.report_path).write_text(ExecutionReport(died=died, probes=probes).to_json())
        return nb, resources

    async def async_start_new_kernel(self, **kwargs) -> None:
        with phase("kernel start"):
            await super().async_start_new_kernel(**kwargs)

    async def async_start_new_kernel_client(self):
        with phase("kernel ready"):
            return await super().async_start_new_kernel_client()

    async def _async_cleanup_kernel(self) -> None:
        with phase("kernel shutdown"):
            await super()._async_cleanup_kernel()

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        kind = "probe cells" if PROBE_KEY in cell.get("metadata", {}) else "notebook cells"
        with phase(kind):
            return await super().async_execute_cell(
                cell, cell_index, execution_count, store_history
            )

    # nbconvert's preprocess calls the synchronous wrappers, bound to nbclient's methods.
    start_new_kernel = run_sync(async_start_new_kernel)
    start_new_kernel_client = run_sync(async_start_new_kernel_client)
    _cleanup_kernel = run_sync(_async_cleanup_kernel)
    execute_cell = run_sync(async_execute_cell)

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {}), default=str))
        used = self._cell_bytes.get(cell_index, 0)
        self._cell_bytes[cell_index] = used + size
        if used + size <= self.max_cell_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if used <= self.max_cell_output_bytes:
            note = f"[output truncated by the grader: more than {self.max_cell_output_bytes} bytes]"
            outs.append(nbformat.v4.new_output("stream", name="stdout", text=note + "\n"))
        return None


def _probe_report(cell: NotebookNode) -> dict | None:
    texts = [o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"]
    return integrity.parse_probe(texts)


class RelabelStderr(NbGraderPreprocessor):
    """Show stderr of test cells as plain output: a passing test that warns keeps its points.

    nbgrader scores a test cell 0 when it has *any* stderr output; failures are exceptions,
    which stay errors.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if is_test_cell(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
        return cell, resources


class ScrubHiddenTracebacks(NbGraderPreprocessor):
    """Reduce error outputs of cells with hidden tests to ``ename: evalue``."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and HIDDEN_BEGIN in cell.source:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
        return cell, resources


def _cell_text(text: str) -> str:
    """``text`` safe inside a markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;")


class ScoreTable(NbGraderPreprocessor):
    """Insert a markdown table of points per autograded test at the top of the notebook."""

    def preprocess(self, nb, resources):
        rows = [
            (c.metadata.nbgrader["grade_id"], c.metadata.nbgrader.get("score"),
             c.metadata.nbgrader.get("points"), c.metadata.get(NOTE_KEY, ""))
            for c in nb.cells
            if is_test_cell(c)
        ]  # fmt: skip
        total = resources.get("nbgrader", {})
        lines = [
            f"## Your score: {total.get('score', 0):g} / {total.get('max_score', 0):g}",
            "",
            "| test | points | out of | note |",
            "| --- | ---: | ---: | --- |",
        ]
        lines += [
            f"| `{gid}` | {score or 0:g} | {points or 0:g} | {_cell_text(note)} |"
            for gid, score, points, note in rows
        ]
        nb.cells.insert(0, nbformat.v4.new_markdown_cell("\n".join(lines)))
        return nb, resources


def autograde_steps() -> dict:
    """``Autograde``'s preprocessors: nbgrader's pipeline with ours in it (sanitize: clear
    outputs, de-duplicate ids, restore test cells and cell types from the gradebook)."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        LimitOutput,
        OverwriteCells,
        OverwriteKernelspec,
        SaveAutoGrades,
    )

    return {
        "sanitize_preprocessors": [
            ClearOutput, DeduplicateIds, DropEmptyNbgraderMetadata, OverwriteKernelspec,
            OverwriteCells, CheckCellMetadata,
        ],
        "autograde_preprocessors": [
            GuardedExecute, RelabelStderr, ClearMetadataPreprocessor, LimitOutput,
            SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
        ],
    }  # fmt: skip


def feedback_steps() -> list:
    """``GenerateFeedback``'s preprocessors: hidden tests never reach the student."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import ClearHiddenTests, GetGrades

    return [
        ScrubHiddenTracebacks, ClearHiddenTests, GetGrades, ScoreTable, CSSHTMLHeaderPreprocessor,
    ]  # fmt: skip
