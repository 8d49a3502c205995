"""Gate: stored outputs must not depend on which CPU kernels torch picks.

nbval (same ``make test`` run) executes every solution notebook under this CPU's native torch
capability and compares the stored outputs. This gate executes each notebook again, in a
fresh kernel, under every other capability the CPU supports (``ATEN_CPU_CAPABILITY`` =
default / avx2 / avx512), and fails when any output nbval compares would differ: stored
outputs made on one CPU must pass on every other. The machinery lives in
``tests/cpu_capability.py``, which is also the authors' command.

One test per (notebook, capability), each in a class of its own: pytest-xdist's
``--dist loadscope`` hands out whole classes (functions: whole modules), so the runs spread
over the workers beside nbval's notebooks instead of queueing on one worker.

The rest of this file tests the comparison itself, on small notebooks written here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from dl_course.layout import assignments
from tests.cpu_capability import (
    CAPABILITIES,
    CELL_TIMEOUT,
    RULE,
    SANITIZE_FILE,
    CellRun,
    Comparison,
    Run,
    differences,
    execute,
    failure_message,
    native_capability,
    report,
    supported_capabilities,
)

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------- the gate -----


class _CapabilityGate:
    notebook: Path
    capability: str

    @pytest.mark.slow
    def test_outputs_identical(self, request: pytest.FixtureRequest):
        capability = self.capability
        option = request.config.option
        sanitize = getattr(option, "nbval_sanitize_with", None) or SANITIZE_FILE
        timeout = option.nbval_cell_timeout if getattr(option, "nbval", False) else CELL_TIMEOUT
        run = execute(self.notebook, capability, timeout=timeout)
        diffs = differences(self.notebook, run, Comparison(sanitize))
        if diffs:
            pytest.fail(failure_message(self.notebook, capability, diffs), pytrace=False)


# Only the capabilities this CPU can run, less the native one nbval's run already covers
# (chosen here rather than skipped at run time: every test collected really runs).
GATED = [c for c in supported_capabilities() if c != native_capability()]
for _assignment in assignments(ROOT):
    for _capability in GATED:
        _name = f"Test_{_assignment.name}_{_capability}"
        globals()[_name] = type(
            _name,
            (_CapabilityGate,),
            {"notebook": _assignment.source_notebook, "capability": _capability},
        )


# ------------------------------------------------------- the comparison, on fixtures -----


def _stdout(text: str):
    return new_output("stream", name="stdout", text=text)


def _display(**data):
    return new_output("display_data", data=data)


def _cell(source: str, outputs=(), tags=(), count: int | None = 1):
    return new_code_cell(
        source, outputs=list(outputs), execution_count=count, metadata={"tags": list(tags)}
    )


def _diffs(tmp_path: Path, cells, produced, comparison=None) -> list:
    """``differences`` for a notebook of ``cells`` whose run produced ``produced``."""
    path = tmp_path / "fixture.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    run = Run("avx2", [p if isinstance(p, CellRun) else CellRun(list(p)) for p in produced], 0.0)
    return differences(path, run, comparison or Comparison())


def test_identical_outputs_pass(tmp_path):
    stored = [_stdout("loss 0.123\n"), _display(**{"text/plain": "1.5", "text/html": "<b>1</b>"})]
    assert _diffs(tmp_path, [_cell("run()", stored)], [stored]) == []


@pytest.mark.parametrize(
    "produced",
    [
        [_stdout("loss 0.124\n"), _display(**{"text/plain": "1.5", "text/html": "<b>1</b>"})],
        [_stdout("loss 0.123\n"), _display(**{"text/plain": "1.6", "text/html": "<b>1</b>"})],
        [_stdout("loss 0.123\n"), _display(**{"text/plain": "1.5", "text/html": "<b>2</b>"})],
        [_stdout("loss 0.123\n")],
        [
            _stdout("loss 0.123\n"),
            _display(**{"text/plain": "1.5", "text/html": "<b>1</b>"}),
            new_output("stream", name="stderr", text="warning\n"),
        ],
    ],
    ids=["stream digit", "text/plain digit", "html", "missing output", "extra stderr"],
)
def test_a_changed_output_fails(tmp_path, produced):
    stored = [_stdout("loss 0.123\n"), _display(**{"text/plain": "1.5", "text/html": "<b>1</b>"})]
    (diff,) = _diffs(tmp_path, [_cell("setup()", [_stdout("ok\n")]), _cell("run()", stored)],
                     [[_stdout("ok\n")], produced])
    assert diff.number == 1 and diff.first_line == "run()"


def test_svg_is_compared_and_png_is_not(tmp_path):
    stored = [_display(**{"image/png": "iVBORw0KGgoAAAA", "image/svg+xml": "<svg>1</svg>"})]
    new_png = [_display(**{"image/png": "iVBORw0KGgoBBBB", "image/svg+xml": "<svg>1</svg>"})]
    new_svg = [_display(**{"image/png": "iVBORw0KGgoAAAA", "image/svg+xml": "<svg>2</svg>"})]
    assert _diffs(tmp_path, [_cell("plot()", stored)], [new_png]) == []
    assert len(_diffs(tmp_path, [_cell("plot()", stored)], [new_svg])) == 1


def test_sanitized_patterns_are_ignored(tmp_path):
    stored = [_stdout("<Figure size 432x288 with 1 Axes> at 0x7f3a2c in /tmp/ipykernel_12/3.py\n")]
    produced = [_stdout("<Figure size 864x576 with 2 Axes> at 0x55d1e0 in /tmp/ipykernel_9/4.py\n")]
    assert _diffs(tmp_path, [_cell("f()", stored)], [produced]) == []
    # the same outputs differ without the sanitize file: the file is what made them equal
    assert len(_diffs(tmp_path, [_cell("f()", stored)], [produced], Comparison(None))) == 1
    # and only the sanitized part is forgiven
    assert len(_diffs(tmp_path, [_cell("f()", stored)], [[_stdout("x at 0x55d1e0\n")]])) == 1


def test_an_address_pattern_does_not_eat_a_figure_size(tmp_path):
    # "640x480" holds "0x480": the address pattern must not take it (it once did, and the
    # figure pattern then never matched a width ending in 0).
    stored = [_stdout("<Figure size 640x480 with 1 Axes>\n")]
    produced = [_stdout("<Figure size 640x480 with 2 Axes>\n")]
    assert _diffs(tmp_path, [_cell("f()", stored)], [produced]) == []
    assert len(_diffs(tmp_path, [_cell("f()", stored)], [[_stdout("<Fig 640x480>\n")]])) == 1


@pytest.mark.parametrize(
    "cell",
    [
        _cell("train()", [_stdout("acc 0.967\n")], tags=["nbval-ignore-output"]),
        _cell("# NBVAL_IGNORE_OUTPUT\ntrain()", [_stdout("acc 0.967\n")]),
        _cell("train()", [_stdout("acc 0.967\n")], tags=["nbval-skip"]),
        _cell("train()", [], count=None),  # stored unrun: nbval runs it, compares nothing
    ],
    ids=["ignore tag", "ignore comment", "skip tag", "unrun"],
)
def test_cells_nbval_does_not_compare_are_ignored(tmp_path, cell):
    produced = CellRun(executed=False) if "nbval-skip" in cell.metadata.tags else [
        _stdout("acc 0.978\n")
    ]
    assert _diffs(tmp_path, [cell], [produced]) == []


def test_streams_are_coalesced_as_nbval_does(tmp_path):
    stored = [_stdout("a\nb\n")]
    assert _diffs(tmp_path, [_cell("f()", stored)], [[_stdout("a\n"), _stdout("b\n")]]) == []


def test_exceptions(tmp_path):
    error = new_output("error", ename="ValueError", evalue="bad x", traceback=["tb"])
    other = new_output("error", ename="ValueError", evalue="bad y", traceback=["other tb"])
    expected = _cell("f()", [error], tags=["raises-exception"])
    # an expected exception is compared by name and message, never by traceback
    same = new_output("error", ename="ValueError", evalue="bad x", traceback=["new tb"])
    assert _diffs(tmp_path, [expected], [[same]]) == []
    assert len(_diffs(tmp_path, [expected], [[other]])) == 1
    # an unexpected one fails the cell whatever its tags say about outputs
    ignored = _cell("f()", [_stdout("1\n")], tags=["nbval-ignore-output"])
    (diff,) = _diffs(tmp_path, [ignored], [CellRun([other], "ValueError: bad y")])
    assert "ValueError: bad y" in diff.describe()


def test_failure_message_names_everything(tmp_path):
    cells = [_cell("x = 1", []), _cell("# dying units\nprint(dead)", [_stdout("dead 60.9%\n")])]
    diffs = _diffs(tmp_path, cells, [[], [_stdout("dead 71.9%\n")]])
    message = failure_message(tmp_path / "fixture.ipynb", "avx512", diffs)
    for part in ["fixture.ipynb", "ATEN_CPU_CAPABILITY=avx512", "Cell 1: # dying units",
                 "-dead 60.9%", "+dead 71.9%", RULE]:
        assert part in message, part


def test_supported_capabilities_include_native():
    supported = supported_capabilities()
    assert supported[0] == "default"
    assert native_capability() in supported or native_capability() not in CAPABILITIES


# --------------------------------------- agreement with nbval itself, on a real kernel -----

AGREEMENT_CELLS = [  # (source, stored outputs, tags, execution count); comments: nbval's verdict
    ('print("1.5")', [_stdout("1.5\n")], [], 1),  # pass
    ('print("1.5")', [_stdout("1.6\n")], [], 1),  # fail: a digit
    ("print(hex(id(object())))", [_stdout("0x7f00deadbeef\n")], [], 1),  # pass: sanitized
    ("print(2)", [_stdout("3\n")], ["nbval-ignore-output"], 1),  # pass: ignored
    (
        'from IPython.display import display\n'
        'display({"image/png": "iVBORw0KGgoAAAA", "text/plain": "<img>"}, raw=True)',
        [_display(**{"image/png": "iVBORw0KGgoBBBB", "text/plain": "<img>"})],
        [],
        1,
    ),  # pass: PNG never compared
    ("# NBVAL_IGNORE_OUTPUT\nprint(4)", [_stdout("5\n")], [], 1),  # pass: ignored
    ('raise ValueError("x")',
     [new_output("error", ename="ValueError", evalue="x", traceback=[])],
     ["raises-exception"], 1),  # pass
    ('raise ValueError("y")',
     [new_output("error", ename="ValueError", evalue="x", traceback=[])],
     ["raises-exception"], 1),  # fail: other message
    ("1 / 0", [], [], 1),  # fail: unexpected exception
    ("print(1)", [_stdout("2\n")], ["nbval-skip"], 1),  # skipped
    ("print(7)", [], [], None),  # pass: unrun reference
    ('print("a")\nimport sys\n_ = sys.stdout.write("b\\n")', [_stdout("a\n"), _stdout("b\n")], [],
     1),  # pass: streams coalesced
    ('from IPython.display import HTML\nHTML("<b>1</b>")',
     [new_output("execute_result", execution_count=1, data={
         "text/html": "<b>2</b>", "text/plain": "<IPython.core.display.HTML object>"})],
     [], 1),  # fail: HTML compared
    ('import sys\nprint("w", file=sys.stderr)',
     [new_output("stream", name="stderr", text="v\n")], [], 1),  # fail: stderr compared
    ("print(1)", [], [], 1),  # fail: run cell stored without outputs
]
NBVAL_FAILS = {1, 7, 8, 12, 13, 14}


def _nbval_failures(notebook: Path) -> set[int]:
    """Run nbval itself (repository options, none of its conftest) on ``notebook``."""
    (notebook.parent / "pytest.ini").write_text("[pytest]\n")
    report = notebook.parent / "report.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--noconftest",
         "--rootdir", str(notebook.parent), "--nbval", "--nbval-current-env",
         f"--nbval-sanitize-with={SANITIZE_FILE}", f"--junitxml={report}", "-q", notebook.name],
        cwd=notebook.parent, capture_output=True, check=False,
        env={**os.environ, "MPLBACKEND": "Agg", "TQDM_DISABLE": "1"},
    )
    failed = set()
    for case in ET.parse(report).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(int(case.get("name").removeprefix("Cell ")))
    return failed


@pytest.mark.slow
def test_verdicts_agree_with_nbval(tmp_path):
    notebook = tmp_path / "agreement.ipynb"
    cells = [_cell(src, outs, tags, count) for src, outs, tags, count in AGREEMENT_CELLS]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), notebook)
    assert _nbval_failures(notebook) == NBVAL_FAILS  # the fixture probes what we think it does
    run = execute(notebook, native_capability())
    assert {d.number for d in differences(notebook, run, Comparison())} == NBVAL_FAILS


def test_author_report_marks_chaotic_cells(tmp_path):
    cells = [_cell("setup()", [_stdout("ok\n")]),
             _cell("train()", [_stdout("acc 0.967\n")]),
             _cell("timeit()", [_stdout("3 ms\n")], tags=["nbval-ignore-output"])]
    path = tmp_path / "fixture.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    runs = [
        Run("avx2", [CellRun([_stdout("ok\n")]), CellRun([_stdout("acc 0.967\n")]),
                     CellRun([_stdout("3 ms\n")])], 1.0),
        Run("avx512", [CellRun([_stdout("ok\n")]), CellRun([_stdout("acc 0.978\n")]),
                       CellRun([_stdout("4 ms\n")])], 1.0),
    ]
    text, ok = report(path, runs, Comparison())
    rows = {row[0]: row for row in map(str.split, text.splitlines()) if row and row[0].isdigit()}
    assert not ok
    assert rows["0"][1:4] == ["same", "same", "yes"]
    assert rows["1"][1:4] == ["same", "DIFF", "NO"]
    assert rows["2"][1:4] == ["-", "-", "NO"]
    assert "+acc 0.978" in text and RULE in text


@pytest.mark.slow
def test_the_kernel_runs_the_requested_capability_or_the_run_fails(tmp_path):
    notebook = tmp_path / "empty.ipynb"
    nbformat.write(new_notebook(cells=[_cell("x = 1", [])]), notebook)
    others = [c for c in supported_capabilities() if c != native_capability()]
    for capability in others[:1]:  # torch in the kernel confirmed it, or execute raised
        assert execute(notebook, capability).capability == capability
    # torch ignores a value it does not know and runs its native kernels: caught, not tested
    with pytest.raises(RuntimeError, match=f"torch reports {native_capability()}"):
        execute(notebook, "bogus")
