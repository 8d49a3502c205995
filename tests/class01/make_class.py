"""Build a sample class of submissions for an assignment, from its solution and its release.

    python tests/class01/make_class.py DEST [--assignment 01_activation_functions]

writes ``DEST/submissions/<student>/<assignment>.ipynb`` (plus files some students add) and
``DEST/expected.json``: for every student the expected score and the expected status
(``graded``, or the start of a ``failed: ...`` / ``flagged: ...`` status). Everything is
derived from the current notebooks, so the class never goes stale: a correct submission is
the released notebook with the solution's answers; a wrong one answers every exercise with
functions that return a constant; the attacks are added as extra cells.
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell

from dl_helpers.course.layout import Assignment, find_root
from dl_helpers.course.notebooks import (
    SETUP_TAG,
    is_answer_cell,
    is_test_cell,
    nbgrader_meta,
    plan,
)
from dl_helpers.course.release import release

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def _strip_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if line.strip() not in MARKERS)


def _wrong(source: str) -> str:
    """Answer code that defines the same names but computes nothing right."""
    lines = []
    for node in ast.parse(_strip_markers(source)).body:
        if isinstance(node, ast.FunctionDef):
            lines.append(f"def {node.name}(*args, **kwargs):\n    return -12345.0")
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            lines += [f"{ast.unparse(t)} = None" for t in targets]
    return "\n".join(lines) or "pass"


class ClassBuilder:
    """Makes submissions from the solution (``source``) and the release (``blank``)."""

    def __init__(self, source: NotebookNode, blank: NotebookNode, *, trim: bool) -> None:
        self.source = source
        self.blank = blank
        self.trim = trim
        self.answers = {
            nbgrader_meta(c)["grade_id"]: c.source for c in source.cells if is_answer_cell(c)
        }
        self.plan = plan(source)
        self.max_score = self.plan.total_points

    def answered(
        self, how: Callable[[str], str] = _strip_markers, upto: int | None = None, trim=None
    ) -> NotebookNode:
        """The release with the first ``upto`` exercises (all by default) answered by ``how``.

        Trimmed (the default when the builder trims), only the markdown, setup, answer and
        test cells are kept: exercises depend on nothing else (CONTRIBUTING.md), and the
        class grades in a fraction of the time the experiments take.
        """
        nb = nbformat.from_dict(json.loads(json.dumps(self.blank)))
        if self.trim if trim is None else trim:
            nb.cells = [
                c for c in nb.cells
                if c.cell_type != "code" or is_answer_cell(c) or is_test_cell(c)
                or SETUP_TAG in c.get("metadata", {}).get("tags", [])
            ]  # fmt: skip
        chosen = {e.grade_id for e in self.plan.exercises[:upto]}
        for cell in nb.cells:
            gid = nbgrader_meta(cell).get("grade_id")
            if is_answer_cell(cell) and gid in chosen:
                cell.source = how(self.answers[gid])
        return nb

    def points_upto(self, upto: int) -> float:
        return sum(e.points for e in self.plan.exercises[:upto])

    def first_test_index(self, nb: NotebookNode) -> int:
        return next(i for i, c in enumerate(nb.cells) if is_test_cell(c))


def _insert_before_answer(nb: NotebookNode, k: int, code: str) -> NotebookNode:
    """Add ``code`` as a cell right before the ``k``-th answer cell (0-based)."""
    index = [i for i, c in enumerate(nb.cells) if is_answer_cell(c)][k]
    nb.cells.insert(index, new_code_cell(code))
    return nb


def _prepend_code(nb: NotebookNode, code: str) -> NotebookNode:
    """Add ``code`` as a cell right before the first answer cell."""
    return _insert_before_answer(nb, 0, code)


CHEAT_ALLCLOSE = """import numpy as np
np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
np.testing.assert_array_almost_equal = lambda *a, **k: None"""
CHEAT_CHECKS = """from dl_helpers import checks
for _name in dir(checks):
    if _name.startswith("assert_"):
        try:
            setattr(checks, _name, lambda *a, **k: None)
        except AttributeError:  # the module refuses; go around it
            vars(checks)[_name] = lambda *a, **k: None"""
CHEAT_EXCEPTIONS = """get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)
import sys
sys.excepthook = lambda *a: None"""
CHEAT_TRANSFORMER = """get_ipython().input_transformers_cleanup.append(
    lambda lines: [l for l in lines if "assert" not in l and "raise" not in l]
)"""
# A warning when the answer cell runs; stderr (progress bar, print) whenever a test calls it.
# (Not a warning inside the call: some tests rightly require numerically quiet functions.)
STDERR_NOISE = """import sys, warnings
from tqdm.auto import tqdm

warnings.warn("this implementation is slow", UserWarning)
_noisy_target = {name}

def {name}(*args, **kwargs):
    for _ in tqdm(range(3), desc="computing"):
        pass
    print("progress: done", file=sys.stderr)
    return _noisy_target(*args, **kwargs)"""


def build(dest: Path, root: Path, name: str, *, trim: bool = True) -> dict:
    """Write the class into ``dest``; return the expected results."""
    assignment = Assignment(root, name)
    with tempfile.TemporaryDirectory() as tmp:
        released = release(root, [name], dest=Path(tmp))[0] / f"{name}.ipynb"
        blank = nbformat.read(released, as_version=4)
    source = nbformat.read(assignment.source_notebook, as_version=4)
    b = ClassBuilder(source, blank, trim=trim)
    subs = dest / "submissions"
    if subs.exists():
        shutil.rmtree(subs)
    expected: dict[str, dict] = {}
    top, half = b.max_score, len(b.plan.exercises) // 2
    first_fn = next(
        n.name
        for n in ast.parse(_strip_markers(b.answers[b.plan.exercises[0].grade_id])).body
        if isinstance(n, ast.FunctionDef)
    )

    def put(student, nb, score, status, *, files=None, notebook_name=f"{name}.ipynb"):
        folder = subs / student
        folder.mkdir(parents=True)
        if isinstance(nb, str):
            (folder / notebook_name).write_text(nb)
        else:
            nbformat.write(nb, folder / notebook_name)
        for rel, text in (files or {}).items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        expected[student] = {"score": score, "status": status}

    put("s01_full", b.answered(trim=False), top, "graded")  # the whole notebook, always
    put("s02_blank", b.answered(upto=0), 0, "graded")
    put("s03_partial", b.answered(upto=half), b.points_upto(half), "graded")
    put("s04_wrong", b.answered(_wrong), 0, "graded")
    loop = _prepend_code(b.answered(), "while True:\n    pass")
    put("s05_infinite_loop", loop, top, "graded")
    stubborn = _prepend_code(
        b.answered(),
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
    )
    put("s06_loop_ignores_interrupt", stubborn, 0, "failed: time limit")
    exit_nb = _insert_before_answer(b.answered(), 1, "import os\nos._exit(3)")
    put("s07_os_exit", exit_nb, b.points_upto(1), "failed: kernel died")
    bomb = _prepend_code(b.answered(), "hog = bytearray(64 * 1024**3)")
    put("s08_memory_bomb", bomb, top, "graded")
    crash = _insert_before_answer(b.answered(), 1, "import ctypes\nctypes.string_at(0)")
    put("s09_segfault", crash, b.points_upto(1), "failed: kernel died")
    flood = _prepend_code(
        b.answered(),
        "from IPython.display import HTML, Image, display\n"
        "for i in range(200_000):\n    print(i, 'x' * 50)\n"
        "display(HTML('<b>big</b>' * 200_000))\n"
        "display(Image(data=b'\\x89PNG\\r\\n\\x1a\\n' + bytes(3_000_000)))",
    )
    put("s10_output_flood", flood, top, "graded")
    put("s11_malformed_json", '{"cells": [ this is not json', 0, "failed: notebook is not valid")
    put("s12_misnamed", b.answered(), top, "flagged: notebook submitted as",
        notebook_name="my homework.ipynb")  # fmt: skip
    dup = b.answered()
    first_test = b.first_test_index(dup)
    dup.cells[first_test:first_test] = [
        nbformat.from_dict(json.loads(json.dumps(c)))
        for c in dup.cells[first_test - 1 : first_test + 1]
    ]
    put("s13_duplicated_cells", dup, top, "graded")
    md = b.answered()
    as_markdown = md.cells[b.first_test_index(md)]
    as_markdown.cell_type = "markdown"
    as_markdown.pop("outputs", None)
    as_markdown.pop("execution_count", None)
    put("s14_test_cell_markdown", nbformat.from_dict(json.loads(json.dumps(md))), top, "graded")
    deleted = b.answered()
    deleted.cells = [c for c in deleted.cells if not is_test_cell(c)]
    put("s15_tests_deleted", deleted, top, "graded")
    edited = b.answered(_wrong)
    for cell in edited.cells:
        if is_test_cell(cell):
            cell.source = "pass  # tests? what tests"
    put("s16_tests_edited", edited, 0, "graded")
    noisy = b.answered()
    first_answer = next(c for c in noisy.cells if is_answer_cell(c))
    first_answer.source += "\n\n" + STDERR_NOISE.format(name=first_fn)
    put("s17_stderr_warnings", noisy, top, "graded")
    put("s18_allclose_patched", _prepend_code(b.answered(_wrong), CHEAT_ALLCLOSE), 0,
        "flagged: tampering")  # fmt: skip
    put("s19_checks_patched", _prepend_code(b.answered(_wrong), CHEAT_CHECKS), 0,
        "flagged: tampering")  # fmt: skip
    put("s20_exception_hooks", _prepend_code(b.answered(_wrong), CHEAT_EXCEPTIONS), 0,
        "flagged: tampering")  # fmt: skip
    put("s21_input_transformer", _prepend_code(b.answered(_wrong), CHEAT_TRANSFORMER), 0,
        "flagged: tampering")  # fmt: skip
    shadow = "def allclose(*a, **k):\n    return True\n"
    shadows = {"numpy.py": shadow, "dl_helpers/__init__.py": "", "dl_helpers/checks.py": shadow}
    put("s22_shadow_modules", b.answered(_wrong), 0, "flagged: possible shadow module",
        files=shadows)  # fmt: skip
    steal = _prepend_code(
        b.answered(_wrong),
        "import glob, pathlib\nstolen = []\n"
        f"for pattern in ['{root}/solutions/*/*.ipynb', '{root}/tests/**/*.ipynb',\n"
        "                '../../**/gradebook.db', '/tmp/**/*.ipynb', '/work/**/gradebook.db']:\n"
        "    stolen += glob.glob(pattern, recursive=True)\n"
        "print('found', stolen)\n"
        "for path in stolen:\n"
        "    if path.endswith('.ipynb'):\n"
        "        import json\n"
        "        for cell in json.load(open(path))['cells']:\n"
        "            if 'def ' in ''.join(cell['source']):\n"
        "                try:\n"
        "                    exec(''.join(cell['source']))\n"
        "                except Exception:\n"
        "                    pass",
    )
    put("s23_reads_solutions", steal, 0, "flagged:")
    vandal = _prepend_code(
        b.answered(),
        "import glob, os, signal\n"
        "for path in glob.glob('../**', recursive=True) + glob.glob('/work/**/gradebook.db', "
        "recursive=True):\n"
        "    try:\n"
        "        open(path, 'w').write('pwned')\n"
        "    except OSError:\n"
        "        pass\n"
        "mine = {int(t) for t in os.listdir('/proc/self/task')}\n"
        "for pid in range(1, 4096):\n"
        "    if pid not in mine:\n"
        "        try:\n"
        "            os.kill(pid, signal.SIGKILL)\n"
        "        except OSError:\n"
        "            pass",
    )
    put("s24_vandal", vandal, top, "flagged:")  # the static scan sees the paths
    (dest / "expected.json").write_text(json.dumps(expected, indent=2))
    return expected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--assignment", default="01_activation_functions")
    parser.add_argument("--root", type=Path, default=None, help="repository root (found)")
    parser.add_argument(
        "--whole-notebooks", action="store_true", help="keep the experiments (slow to grade)"
    )
    args = parser.parse_args(argv)
    root = (args.root or find_root()).resolve()
    expected = build(args.dest, root, args.assignment, trim=not args.whole_notebooks)
    print(f"wrote {len(expected)} submissions to {args.dest / 'submissions'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
