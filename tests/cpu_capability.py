"""Do a notebook's compared outputs survive a change of torch's CPU kernels?

torch picks its CPU kernels by capability (``torch.backends.cpu.get_cpu_capability()``);
``ATEN_CPU_CAPABILITY=default|avx2|avx512`` overrides it, capped at what the CPU has. Float
results differ in the last bits between capabilities, and a chaotic experiment (large
learning rate, hundreds of steps) turns those bits into different printed numbers, so stored
outputs made on one CPU fail nbval on another. ``tests/test_cpu_capability.py`` runs every
solution notebook under each capability other than the native one (nbval runs that one).

What counts as a difference is exactly what nbval 0.11 compares: the cell options, stream
coalescing, sanitizing and output comparison are nbval's own functions; only the loop that
executes the cells is written here, mirroring ``IPyNbCell.runtest`` (``test_cpu_capability``
checks both agree on a fixture notebook).

For authors, before committing a notebook::

    .venv/bin/python -m tests.cpu_capability solutions/NN_slug/NN_slug.ipynb

runs it under every capability this CPU supports (native included) and prints, per cell,
whether its outputs match the stored ones and agree across capabilities.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import os
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from queue import Empty
from types import SimpleNamespace

import nbformat
from nbformat import NotebookNode
from nbval.kernel import CURRENT_ENV_KERNEL_NAME, RunningKernel, start_new_kernel
from nbval.plugin import (
    IPyNbCell,
    coalesce_streams,
    find_comment_markers,
    find_metadata_tags,
    get_sanitize_patterns,
    nocolors,
    transform_streams_for_comparison,
)

ROOT = Path(__file__).resolve().parents[1]
SANITIZE_FILE = ROOT / "tests" / "nbval_sanitize.cfg"  # pyproject's --nbval-sanitize-with
CELL_TIMEOUT = 60.0  # pyproject's --nbval-cell-timeout
CAPABILITIES = ("default", "avx2", "avx512")  # x86 ATEN_CPU_CAPABILITY values, lowest first
# Keys nbval never compares (IPyNbFile.skip_compare without --nbdime): PNG/JPEG are skipped.
SKIP_COMPARE = (
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
    "image/jpeg",
)
OUTPUT_TIMEOUT = 5  # IPyNbCell.output_timeout
RULE = (
    "a number from a chaotic run is never compared verbatim: make the experiment stable or tag "
    "the cell nbval-ignore-output and check its claim in code (CONTRIBUTING.md)"
)
_CHECK = "print(__import__('torch').backends.cpu.get_cpu_capability())"


# ---------------------------------------------------------------- which capabilities -----


def _probe_capability(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", _CHECK], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().lower()


@cache
def native_capability() -> str:
    """The capability nbval's kernel gets: this process's environment, as it is."""
    import torch

    return torch.backends.cpu.get_cpu_capability().lower()


@cache
def supported_capabilities() -> tuple[str, ...]:
    """The members of ``CAPABILITIES`` this CPU can run (torch caps a request at its best)."""
    if "ATEN_CPU_CAPABILITY" in os.environ:  # native is a forced value: ask for the best
        env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
        best = _probe_capability(env)
    else:
        best = native_capability()
    if best not in CAPABILITIES:  # not x86 (or an unknown name): only the portable kernels
        return ("default",)
    return CAPABILITIES[: CAPABILITIES.index(best) + 1]


# ------------------------------------------------------------- nbval's comparison -----


def cell_options(cell: NotebookNode) -> dict[str, bool]:
    """nbval's options for a code cell (``IPyNbFile.collect`` under ``--nbval``): ``skip``
    (not even executed), ``check`` (outputs compared), ``check_exception`` (may raise)."""
    options = defaultdict(bool, find_metadata_tags(cell.metadata))
    options.update(dict(find_comment_markers(cell.source)))  # comments win, as in nbval
    options.setdefault("check", True)
    return options


class Comparison:
    """nbval's ``IPyNbCell.compare_outputs`` and ``sanitize``, lifted off its pytest item."""

    compare_outputs = IPyNbCell.compare_outputs
    sanitize = IPyNbCell.sanitize
    format_output_compare = IPyNbCell.format_output_compare  # nbval calls it on a mismatch
    colors = nocolors

    def __init__(self, sanitize_file: Path | str | None = SANITIZE_FILE) -> None:
        text = Path(sanitize_file).read_text() if sanitize_file else ""
        self.parent = SimpleNamespace(
            sanitize_patterns=dict(get_sanitize_patterns(text)), skip_compare=SKIP_COMPARE
        )
        # no pytest here: format_output_compare then falls back to its plain repr
        self.ihook = SimpleNamespace(pytest_assertrepr_compare=lambda **_: [])
        self.config = None

    def same(self, produced: list, stored: list) -> bool:
        """True when nbval would accept ``produced`` for a cell that stored ``stored``."""
        return self.compare_outputs(
            coalesce_streams(copy.deepcopy(produced)), coalesce_streams(copy.deepcopy(stored))
        )

    def render(self, outputs: list) -> str:
        """The compared text of ``outputs``, sanitized, one ``[key]`` block per value."""
        blocks = []
        for out in transform_streams_for_comparison(coalesce_streams(copy.deepcopy(outputs))):
            for key, value in out.items():
                values = value.items() if key == "data" else [(key, value)]
                for k, v in values:
                    if k not in SKIP_COMPARE:
                        blocks.append(f"[{k}]\n{self.sanitize(v)}")
        return "\n".join(blocks)


# ------------------------------------------------------------------ execution -----


@dataclass
class CellRun:
    """What one code cell produced; ``error`` is set when nbval would fail it outright."""

    outputs: list = field(default_factory=list)
    error: str = ""
    executed: bool = True


@dataclass
class Run:
    capability: str
    cells: list[CellRun]  # one per code cell, nbval's "Cell N" numbering
    seconds: float


class _Kernel(RunningKernel):
    """nbval's kernel (``--nbval-current-env``) with an environment of our choosing."""

    def __init__(self, cwd: Path, env: dict[str, str], startup_timeout: float = 60) -> None:
        self.km, self.kc = start_new_kernel(
            startup_timeout=startup_timeout,
            kernel_name=CURRENT_ENV_KERNEL_NAME,
            stderr=subprocess.DEVNULL,
            cwd=str(cwd),
            env=env,
        )
        self._ensure_iopub_up()


def _execute_cell(kernel: _Kernel, source: str, timeout: float) -> tuple[list, str, str]:
    """Run ``source`` as nbval does; return (outputs, error name, error text)."""
    msg_id = kernel.execute_cell_input(source, allow_stdin=False)
    try:
        kernel.await_reply(msg_id, timeout=timeout)
    except Empty:
        kernel.interrupt()
        return [], "Timeout", f"cell ran over {timeout:g} s"
    outs, error = [], ("", "")
    while True:
        try:
            msg = kernel.get_message("iopub", timeout=OUTPUT_TIMEOUT)
        except Empty:
            return outs, "Timeout", f"no output for {OUTPUT_TIMEOUT} s"
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        out = NotebookNode(output_type=kind)
        if kind == "status" and content["execution_state"] == "idle":
            break
        if kind in ("display_data", "execute_result"):
            out.metadata, out.data = content["metadata"], content["data"]
            if kind == "execute_result":
                out.execution_count = content["execution_count"]
            outs.append(out)
        elif kind == "stream":
            out.name, out.text = content["name"], content["text"]
            outs.append(out)
        elif kind == "error":
            out.ename, out.evalue = content["ename"], content["evalue"]
            out.traceback = content["traceback"]
            outs.append(out)
            error = (content["ename"], content["evalue"])
    return coalesce_streams(outs), *error


def execute(notebook: Path, capability: str, *, timeout: float = CELL_TIMEOUT) -> Run:
    """Execute ``notebook``'s code cells as nbval does, in a fresh kernel whose torch uses
    ``capability``. Raises ``RuntimeError`` when the kernel's torch reports another one."""
    nb = nbformat.read(notebook, as_version=4)
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "TQDM_DISABLE": "1",
        "ATEN_CPU_CAPABILITY": capability,
    }
    start = time.perf_counter()
    kernel = _Kernel(notebook.parent, env)
    try:
        # Checked before the notebook runs; prints only, defines no name in the namespace.
        outs, ename, evalue = _execute_cell(kernel, _CHECK, timeout)
        got = "".join(o.get("text", "") for o in outs).strip().lower()
        if got != capability:
            raise RuntimeError(
                f"asked the kernel for ATEN_CPU_CAPABILITY={capability}, but its torch reports "
                f"{got or f'{ename}: {evalue}'}: this run would not test {capability}"
            )
        cells = []
        for cell in (c for c in nb.cells if c.cell_type == "code"):
            options = cell_options(cell)
            if options["skip"]:
                cells.append(CellRun(executed=False))
                continue
            outs, ename, evalue = _execute_cell(kernel, cell.source, timeout)
            unexpected = ename and (ename == "Timeout" or not options["check_exception"])
            cells.append(CellRun(outs, f"{ename}: {evalue}" if unexpected else ""))
    finally:
        kernel.stop()
    return Run(capability, cells, time.perf_counter() - start)


# ------------------------------------------------------------------- verdicts -----


@dataclass
class CellDiff:
    number: int  # nbval's "Cell N": index among code cells
    first_line: str
    stored: str
    produced: str
    error: str = ""

    def describe(self, max_lines: int = 12) -> str:
        head = f"  Cell {self.number}: {self.first_line}"
        if self.error:
            return f"{head}\n    raised {self.error}"
        diff = list(
            difflib.unified_diff(
                self.stored.splitlines(), self.produced.splitlines(), "stored", "produced",
                n=0, lineterm="",
            )
        )[2:]  # drop the ---/+++ header; '-' is stored, '+' produced
        diff = [d for d in diff if not d.startswith("@@")]
        more = [f"    ... {len(diff) - max_lines} more lines"] if len(diff) > max_lines else []
        return "\n".join([head, *(f"    {d}" for d in diff[:max_lines]), *more])


def first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "")[:80]


def differences(notebook: Path, run: Run, comparison: Comparison) -> list[CellDiff]:
    """The code cells of ``notebook`` that nbval would fail given ``run``'s outputs."""
    nb = nbformat.read(notebook, as_version=4)
    found = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    for number, (cell, got) in enumerate(zip(code, run.cells, strict=True)):
        options = cell_options(cell)
        if not got.executed:
            continue
        unrun = cell.execution_count is None  # nbval compares only cells run when stored
        if got.error or (unrun and cell.outputs):
            error = got.error or "nothing, but the unrun stored cell has outputs"
            found.append(CellDiff(number, first_line(cell.source), "", "", error))
        elif options["check"] and not unrun and not comparison.same(got.outputs, cell.outputs):
            found.append(
                CellDiff(
                    number,
                    first_line(cell.source),
                    comparison.render(cell.outputs),
                    comparison.render(got.outputs),
                )
            )
    return found


def failure_message(notebook: Path, capability: str, diffs: list[CellDiff]) -> str:
    try:
        name = notebook.resolve().relative_to(ROOT)
    except ValueError:
        name = notebook
    lines = [
        f"{name}: under ATEN_CPU_CAPABILITY={capability}, {len(diffs)} cell(s) give outputs "
        f"other than the stored ones ('-' stored, '+' produced):",
        *(d.describe() for d in diffs),
        f"Rule: {RULE}. Which cells are chaotic: .venv/bin/python -m tests.cpu_capability {name}",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------- author command -----


def report(notebook: Path, runs: list[Run], comparison: Comparison) -> tuple[str, bool]:
    """A per-cell table: each capability's verdict against the stored outputs, and whether
    the capabilities agree with each other (ignored cells included). Returns (text, ok)."""
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    diffs = {run.capability: differences(notebook, run, comparison) for run in runs}
    failing = {cap: {d.number for d in found} for cap, found in diffs.items()}
    caps = [run.capability for run in runs]
    width = max(len(c) for c in caps) + 1
    lines = [
        f"{notebook}: native {native_capability()}; "
        + ", ".join(f"{r.capability} {r.seconds:.1f} s" for r in runs),
        "'same': matches the stored output; 'DIFF': nbval would fail it; "
        "'-': not compared by nbval (the last column says whether capabilities agree anyway)",
        f"{'cell':>4}  " + "".join(f"{c:<{width}}" for c in caps) + f"{'agree':<7}first line",
    ]
    bad = set()
    for number, cell in enumerate(code):
        options = cell_options(cell)
        results = [run.cells[number] for run in runs]
        if not results[0].executed:
            lines.append(f"{number:>4}  " + "skipped (nbval-skip)".ljust(width * len(caps) + 7)
                         + first_line(cell.source))
            continue
        compared = options["check"] and cell.execution_count is not None
        marks = []
        for run in runs:
            if number in failing[run.capability]:
                marks.append("DIFF")
                bad.add(number)
            else:
                marks.append("same" if compared else "-")
        agree = all(r.error == results[0].error for r in results) and all(
            comparison.same(r.outputs, results[0].outputs) for r in results[1:]
        )
        lines.append(
            f"{number:>4}  " + "".join(f"{m:<{width}}" for m in marks)
            + f"{'yes' if agree else 'NO':<7}{first_line(cell.source)}"
        )
    if bad:
        for cap, found in diffs.items():
            if found:
                lines.append(f"under {cap} ('-' stored, '+' produced):")
                lines.extend(d.describe() for d in found)
        lines.append(f"FAILING under some capability: {', '.join(f'Cell {n}' for n in sorted(bad))}"
                     f". Rule: {RULE}.")
    else:
        lines.append("every compared output is identical under every capability")
    return "\n".join(lines), not bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.cpu_capability",
        description="Execute notebooks under every torch CPU capability this machine supports "
        "and show, per cell, which outputs change (chaotic cells).",
    )
    parser.add_argument("notebooks", nargs="+", type=Path, help="solutions/NN_slug/NN_slug.ipynb")
    parser.add_argument("--jobs", type=int, default=min(3, os.cpu_count() or 1),
                        help="capabilities executed at once (default: %(default)s)")
    args = parser.parse_args(argv)
    comparison, caps = Comparison(), supported_capabilities()
    ok = True
    for notebook in args.notebooks:
        # spawn: the parent has imported torch, and forking after that is not safe
        with ProcessPoolExecutor(max(1, args.jobs), mp_context=get_context("spawn")) as pool:
            runs = list(pool.map(execute, [notebook] * len(caps), caps))
        text, notebook_ok = report(notebook, runs, comparison)
        print(text)
        ok &= notebook_ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
