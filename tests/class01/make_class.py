"""Build a sample class of submissions for an assignment, from its solution and its release.

    python tests/class01/make_class.py DEST [--assignment 01_activation_functions]

writes ``DEST/submissions/<student>/<assignment>.ipynb`` (plus files some students add) and
``DEST/expected.json``: for every student the expected score and the expected status
(``graded``, or the start of a ``failed: ...`` / ``flagged: ...`` status). Everything is
derived from the current notebooks, so the class never goes stale: a correct submission is
the released notebook with the solution's answers; a wrong one answers every exercise with
functions that return a constant; the attacks are added as extra cells, or (s25-s29, attacks
on the grader's verification of values) written into the answer cells themselves.
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

from dl_course.layout import Assignment, find_root
from dl_course.notebooks import (
    SETUP_TAG,
    is_answer_cell,
    is_test_cell,
    nbgrader_meta,
    plan,
)
from dl_course.release import release

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def _strip_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if line.strip() not in MARKERS)


def _returns(value: str) -> Callable[[str], str]:
    """Answer code that defines the same names, each function returning ``value``."""

    def answer(source: str) -> str:
        lines = []
        for node in ast.parse(_strip_markers(source)).body:
            if isinstance(node, ast.FunctionDef):
                lines.append(f"def {node.name}(*args, **kwargs):\n    return {value}")
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                lines += [f"{ast.unparse(t)} = None" for t in targets]
        return "\n".join(lines) or "pass"

    return answer


# Answer code that defines the same names but computes nothing right.
_wrong = _returns("-12345.0")


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

    def answered_by(self, choose: Callable[[str, str], str], *, first: str = "") -> NotebookNode:
        """The release with each answer cell ``choose(grade_id, solution_source)``, and
        ``first`` put at the top of the first answer cell."""
        nb = self.answered()
        for cell in nb.cells:
            if is_answer_cell(cell):
                gid = nbgrader_meta(cell)["grade_id"]
                cell.source = choose(gid, self.answers[gid])
        if first:
            first_answer = next(c for c in nb.cells if is_answer_cell(c))
            first_answer.source = f"{first}\n\n\n{first_answer.source}"
        return nb

    def points_of(self, *exercises: str) -> float:
        """Points of the test cells of the named exercises (answer grade_ids)."""
        return sum(e.points for e in self.plan.exercises if e.grade_id in exercises)

    def test_points(self, *tests: str) -> float:
        """Points of the named test cells."""
        return sum(t.points for e in self.plan.exercises for t in e.tests if t.grade_id in tests)

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


# --- attacks on the verification of values (s25-s29) ---------------------------------------
# In the first answer cell: the checks a hidden test calls are rewritten through the module's
# dictionary (reached without any text the static scan looks for), and json.dumps, with which
# the grader's integrity probe prints its report, is patched to report a clean kernel. Every
# in-kernel test that relies on ``checks`` then passes, whatever the answers return.
CHECKS_DICT_ATTACK = r"""import importlib, json

_checks = importlib.import_module("dl_" + "helpers.checks")
_table = getattr(_checks, "__di" + "ct__")
_clean_ids = {k: id(v) for k, v in _table.items()}


def _call_through(func, *args, name=None, **kwargs):
    return func(*args, **kwargs)


for _key in list(_table):
    if _key in ("assert_not_mutated", "assert_no_warnings"):
        _table[_key] = _call_through
    elif _key == "tampering_report":
        _table[_key] = lambda *args, **kwargs: []
    elif _key.startswith("assert_") or _key == "run_cases":
        _table[_key] = lambda *args, **kwargs: None
_real_dumps = json.dumps


def _clean_report(obj, *args, **kwargs):
    if isinstance(obj, dict) and "ids" in obj and "tampering" in obj:
        ids = obj["ids"].get("dl_helpers.checks", {})
        ids = {k: _clean_ids.get(k, v) for k, v in ids.items()}
        obj = {**obj, "tampering": [], "hooks": [], "overridden": [],
               "ids": {**obj["ids"], "dl_helpers.checks": ids}}
    return _real_dumps(obj, *args, **kwargs)


json.dumps = _clean_report"""
# The serialiser a probe would use emits made-up values: every float array it saves becomes
# one of the right shape and dtype filled with 0.5, and an error report becomes a result.
FAKE_SERIALISER = r"""import base64

_np = importlib.import_module("num" + "py")
_real_save = _np.save


def _made_up_save(file, arr, *args, **kwargs):
    arr = _np.asarray(arr)
    fake = _np.full(arr.shape, 0.5, dtype=arr.dtype) if arr.dtype.kind == "f" else arr
    return _real_save(file, fake, *args, **kwargs)


setattr(_np, "sa" + "ve", _made_up_save)
_real_b64 = base64.b64encode
base64.b64encode = lambda data, *args: _real_b64(bytes(data), *args)
_dumps_before = json.dumps


def _no_errors(obj, *args, **kwargs):
    if isinstance(obj, dict) and set(obj) == {"error"}:
        obj = {"values": {"dict": []}}
    return _dumps_before(obj, *args, **kwargs)


json.dumps = _no_errors"""
# Forged result lines: guessed nonces printed by the answer cell and, from inside every
# answer function, a line with the nonce harvested from the caller's frames, while a patched
# print swallows the grader's own line.
FORGED_LINES = r"""import sys

_MARK = "DLGRADER-" + "VALUES"
_FORGED_PAYLOAD = ' {"values": {"dict": []}}'
_forged = []
_builtins = importlib.import_module("bui" + "ltins")
_real_print = _builtins.print


def _forge(*args, **kwargs):
    frame = sys._getframe(1)
    while frame is not None and "nonce" not in frame.f_locals:
        frame = frame.f_back
    nonce = frame.f_locals["nonce"] if frame is not None else "0" * 32
    if not _forged:  # one forged line per probe, with the harvested nonce
        _forged.append(nonce)
        _real_print("\n" + _MARK + " " + str(nonce) + _FORGED_PAYLOAD)
    return None


def _filtering_print(*args, **kwargs):
    text = " ".join(str(a) for a in args)
    if _forged and _MARK in text and not text.endswith(_FORGED_PAYLOAD):
        _forged.clear()
        return None
    return _real_print(*args, **kwargs)


_builtins.print = _filtering_print
for _guess in ("0" * 32, "f" * 32, "deadbeef" * 4):
    print(_MARK + " " + _guess + _FORGED_PAYLOAD)"""
# Functions that patch the checks on their first call, then return the reference's values.
PATCH_ON_FIRST_CALL = r"""_patched = []


def _patch_checks_once():
    if _patched:
        return
    _patched.append(True)
    import importlib

    table = getattr(importlib.import_module("dl_" + "helpers.checks"), "__di" + "ct__")
    for key in list(table):
        if key in ("assert_not_mutated", "assert_no_warnings"):
            table[key] = lambda func, *args, name=None, **kwargs: func(*args, **kwargs)
        elif key == "tampering_report":
            table[key] = lambda *args, **kwargs: []
        elif key.startswith("assert_") or key == "run_cases":
            table[key] = lambda *args, **kwargs: None"""
# (joined at run time: the in-kernel check would see a constant-folded "dl_" + "helpers")
LAUNDER_RELU_DL_HELPERS = r'''def relu(x):
    """max(x, 0), from the reference, reached by an obfuscated import."""
    return __import__("".join(("dl_", "helpers.", "activations"))).activations.relu(x)'''
LAUNDER_LEAKY_TORCH = r'''def leaky_relu(x, alpha=0.01):
    """Leaky ReLU from torch, reached by an obfuscated import."""
    import importlib

    lib = importlib.import_module("".join(("to", "rch")))
    return lib.nn.functional.leaky_relu(lib.from_numpy(np.array(x)), alpha).numpy()'''


def _laundered(source: str) -> str:
    """The answer's functions patch the checks on their first call and return the
    reference's value (``ref``, which the setup cell binds); its variables become None."""
    lines = []
    for node in ast.parse(_strip_markers(source)).body:
        if isinstance(node, ast.FunctionDef):
            lines.append(
                f"def {node.name}(*args, **kwargs):\n    _patch_checks_once()\n"
                f"    return getattr(ref, {node.name!r}, lambda *a, **k: None)(*args, **kwargs)"
            )
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            lines += [f"{ast.unparse(t)} = None" for t in targets]
    return "\n".join(lines) or "pass"


def _replace_function(source: str, replacement: str) -> str:
    """An answer cell's ``source`` with the function that ``replacement`` defines swapped in."""
    code = _strip_markers(source)
    new = ast.parse(replacement).body[0]
    kept = [
        ast.get_source_segment(code, node)
        for node in ast.parse(code).body
        if not (isinstance(node, ast.FunctionDef) and node.name == getattr(new, "name", None))
    ]
    return "\n\n\n".join([*(k for k in kept if k), replacement])


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

    # Attacks on the verification of values: each scores exactly the points of the exercises
    # it honestly solved, whatever its in-kernel tests said (notebook 01's exercises).
    def solved(*honest: str, other: Callable[[str], str] | None = None):
        other = other or _returns("None")
        return lambda gid, source: _strip_markers(source) if gid in honest else other(source)

    def launder(gid: str, source: str) -> str:
        if gid == "relu":
            return _replace_function(source, LAUNDER_RELU_DL_HELPERS)
        if gid == "leaky_relu":
            return _replace_function(source, LAUNDER_LEAKY_TORCH)
        return _strip_markers(source)

    if {"relu", "leaky_relu", "prelu", "softmax", "softmax_backward", "dead_fraction",
            "output_activation"} <= set(b.answers):  # fmt: skip
        put("s25_checks_dict_and_report",
            b.answered_by(solved("relu"), first=CHECKS_DICT_ATTACK),
            b.points_of("relu"), "flagged:")  # fmt: skip
        # (its made-up serialiser would spoil honest answers too: it solves none)
        put("s26_fake_serialiser",
            b.answered_by(solved(other=_returns("args[0]")),
                          first=CHECKS_DICT_ATTACK + "\n\n\n" + FAKE_SERIALISER),
            0, "flagged:")  # fmt: skip
        put("s27_forged_result_lines",
            b.answered_by(solved("prelu", other=_returns("_forge(*args, **kwargs)")),
                          first=CHECKS_DICT_ATTACK + "\n\n\n" + FORGED_LINES),
            b.points_of("prelu"), "flagged:")  # fmt: skip
        put("s28_patches_on_first_call",
            b.answered_by(solved("dead_fraction", "output_activation", other=_laundered),
                          first=PATCH_ON_FIRST_CALL),
            b.points_of("dead_fraction", "output_activation"), "flagged:")  # fmt: skip
        put("s29_launders_reference", b.answered_by(launder),
            top - b.test_points("test_relu", "test_leaky_relu"),
            "flagged: values not verified")  # fmt: skip
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
