"""Verified values: points only for values the grader itself saw to be right.

Everything inside a submission's kernel can be rewritten by the submission (module
dictionaries, ``print``, the checks a hidden test calls), so an in-kernel test's verdict is
only as trustworthy as the kernel. This module moves the deciding comparison outside:

1. Every test cell's hidden section defines ``graded_values(rng, rtol=..., atol=...)``
   (optionally ``rtol32``/``atol32`` for float32 values and ``allow=("torch",)``): the
   student's values on inputs drawn from ``rng`` (``extract_probes`` reads it, and the
   literal defaults, from the *source* notebook with ``ast``).
2. A *verification run* (``run_verification``): a fresh sandboxed kernel in which the
   packages that could stand in for the student's code (``BLOCKED_PACKAGES``: dl_helpers,
   torch, scipy, sklearn) cannot be imported -- their install folders are covered, in the
   sandbox's file system, by an empty folder whose ``__init__.py`` raises ``ImportError``
   (``package_dirs``); and its root holds nothing but the environment and the system's
   libraries (the sandbox's allow-listed root), so no other copy of them on the
   machine is reachable either. It runs the import statements of the source notebook's setup cells
   (each in ``try/except ImportError``), the submission's answer cells (only those whose
   ``grade_id`` is an answer cell of the source, the first of each), then one *probe cell*
   per test cell: it calls ``graded_values`` on ``np.random.default_rng([seed, crc32(id)])``
   and prints one line ``MARK nonce payload``. The seed is drawn with ``secrets`` per
   version of the source (kept with the expected values in the course folder's cache,
   ``expected``), the nonce per submission; both exist only in the grader (and its masked
   scratch and course folders) until the probe cell is sent.
3. Outside the kernel, ``parse_probe_output`` accepts exactly one marked line with the
   right nonce in the probe cell's own stdout (none, two, or a wrong nonce: no values), and
   ``compare`` checks every value against the *expected* values, which the same machinery
   computed from the source notebook's solution with the same seed
   (``checks.assert_close`` semantics: type, shape, dtype, finiteness, tolerance).

A test cell then keeps nbgrader's in-kernel score only if its values matched (``apply``);
otherwise it scores 0 with a one-line reason. Forging the probe's output needs the right
values, which needs the student's own working code: the inputs are secret until the probe
runs and the reference implementations cannot be imported.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import binascii
import contextlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from traitlets.config import Config

from dl_course.kernel_code import Name, call_cell
from dl_course.kernel_code.values_probe import __dlgrader_emit
from dl_course.layout import SETUP_TAG
from dl_course.notebooks import (
    HIDDEN_BEGIN,
    HIDDEN_END,
    is_answer_cell,
    is_test_cell,
    nbgrader_meta,
)

MARK = "DLGRADER-VALUES"
BLOCKED_PACKAGES = ("dl_helpers", "torch", "scipy", "sklearn")
MAX_PAYLOAD_CHARS = 8_000_000  # one probe's result line; larger counts as no values
MAX_DEPTH = 32  # nesting of returned containers
BLOCKER_SOURCE = (
    "raise ImportError(\n"
    '    f"{__name__} is not available while the grader checks your values: "\n'
    '    "exercises are solved with NumPy only"\n'
    ")\n"
)
KEY = "dl_grader_verify"  # metadata key of the cells a verification run adds
NOTE_KEY = "dl_grader_note"  # a test cell's note in the autograded notebook (feedback)


class ProbeError(ValueError):
    """A test cell's ``graded_values`` is missing or malformed (the notebook author's bug)."""


@dataclass(frozen=True)
class Probe:
    """One test cell's ``graded_values``: its source and the comparison it asks for."""

    grade_id: str
    source: str
    rtol: float
    atol: float
    rtol32: float
    atol32: float
    allow: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {**self.__dict__, "allow": list(self.allow)}

    @classmethod
    def from_dict(cls, data: dict) -> Probe:
        return cls(**{**data, "allow": tuple(data["allow"])})

    def tolerance(self, dtype: np.dtype | None) -> tuple[float, float]:
        """``(rtol, atol)`` for a value of ``dtype`` (float32 and smaller use the 32 pair)."""
        small = {"f": 4, "c": 8}
        if dtype is not None and dtype.kind in small and dtype.itemsize <= small[dtype.kind]:
            return self.rtol32, self.atol32
        return self.rtol, self.atol


# --- reading graded_values from a test cell ---------------------------------------------


def hidden_section(source: str) -> str | None:
    """The code between the hidden-test markers, or ``None``."""
    if HIDDEN_BEGIN not in source or HIDDEN_END not in source:
        return None
    return source.split(HIDDEN_BEGIN, 1)[1].split(HIDDEN_END, 1)[0]


def extract_probe(grade_id: str, cell_source: str) -> Probe:
    """The ``graded_values`` function of a test cell's hidden section, with its defaults.

    Raises ``ProbeError`` naming the cell when there is none, when it does not take ``rng``
    first, or when ``rtol``/``atol`` (required), ``rtol32``/``atol32`` or ``allow`` are not
    literal defaults.
    """
    hidden = hidden_section(cell_source)
    if hidden is None:
        raise ProbeError(f"test cell {grade_id!r} has no hidden section")
    try:
        tree = ast.parse(hidden)
    except SyntaxError as error:
        raise ProbeError(f"test cell {grade_id!r}: hidden tests do not parse: {error}") from None
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "graded_values"]
    if len(found) != 1:
        raise ProbeError(
            f"test cell {grade_id!r} must define graded_values(rng, rtol=..., atol=...) once "
            f"in its hidden section (found {len(found)})"
        )
    fn = found[0]
    params = [a.arg for a in fn.args.args]
    if not params or params[0] != "rng":
        raise ProbeError(f"test cell {grade_id!r}: graded_values must take rng first")
    named = dict(zip(params[len(params) - len(fn.args.defaults) :], fn.args.defaults, strict=True))
    named.update(
        {a.arg: d for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults, strict=True) if d}
    )
    defaults = {}
    for name, node in named.items():
        try:
            defaults[name] = ast.literal_eval(node)
        except ValueError:
            raise ProbeError(
                f"test cell {grade_id!r}: the default of {name!r} must be a literal"
            ) from None
    for name in ("rtol", "atol"):
        if not isinstance(defaults.get(name), int | float) or isinstance(defaults[name], bool):
            raise ProbeError(f"test cell {grade_id!r}: graded_values needs a number {name}=...")
    allow = defaults.get("allow", ())
    if not isinstance(allow, tuple) or not all(a in BLOCKED_PACKAGES for a in allow):
        raise ProbeError(
            f"test cell {grade_id!r}: allow must be a tuple of names from {BLOCKED_PACKAGES}"
        )
    rtol, atol = float(defaults["rtol"]), float(defaults["atol"])
    return Probe(
        grade_id=grade_id,
        source=ast.get_source_segment(hidden, fn) or ast.unparse(fn),
        rtol=rtol,
        atol=atol,
        rtol32=float(defaults.get("rtol32", rtol)),
        atol32=float(defaults.get("atol32", atol)),
        allow=tuple(sorted(allow)),
    )


def extract_probes(nb: nbformat.NotebookNode) -> dict[str, Probe]:
    """``{grade_id: Probe}`` for every test cell of a source notebook (``ProbeError`` if one
    lacks ``graded_values``: its points could never be verified)."""
    return {
        nbgrader_meta(c)["grade_id"]: extract_probe(nbgrader_meta(c)["grade_id"], c.source)
        for c in nb.cells
        if is_test_cell(c)
    }


def answer_ids(nb: nbformat.NotebookNode) -> list[str]:
    """The answer cells' grade_ids of a source notebook, in notebook order."""
    return [nbgrader_meta(c)["grade_id"] for c in nb.cells if is_answer_cell(c)]


def answer_sources(nb: nbformat.NotebookNode, ids: list[str]) -> list[str]:
    """The sources of a submission's answer cells for ``ids`` (the source notebook's answer
    ids, in its order): the first code cell carrying each id; ids without one are skipped."""
    first: dict[str, str] = {}
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        source = cell.get("source")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if gid in ids and gid not in first and isinstance(source, str):
            first[gid] = source
    return [first[gid] for gid in ids if gid in first]


def setup_preamble(nb: nbformat.NotebookNode) -> str:
    """The import statements of the source notebook's setup cells, each in
    ``try/except ImportError`` (magics and every other statement dropped)."""
    lines = []
    for cell in nb.cells:
        if cell.cell_type != "code" or SETUP_TAG not in cell.get("metadata", {}).get("tags", []):
            continue
        tree = _parse_cell(cell.source)
        for node in tree.body if tree else []:
            if isinstance(node, ast.Import | ast.ImportFrom):
                lines += ["try:", f"    {ast.unparse(node)}", "except ImportError:", "    pass"]
    return "\n".join(lines)


def poison_source(names: list[str]) -> str:
    """Code that makes ``names`` unimportable through ``sys.modules``: the stand-in for
    blocking them in the file system when grading without the sandbox (best effort only:
    the submission can undo it)."""
    return (
        "import sys as _dlgrader_sys\n"
        f"for _dlgrader_name in {names!r}:\n"
        "    _dlgrader_sys.modules[_dlgrader_name] = None\n"
        "del _dlgrader_sys, _dlgrader_name\n"
    )


def _parse_cell(source: str) -> ast.Module | None:
    """A cell's code as an AST, IPython syntax (magics) translated first; ``None`` when it
    does not parse."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError, TypeError):
        return None


def forgiving(source: str) -> str:
    """A submission's answer cell with every top-level statement in its own
    ``try/except Exception``: an ``import torch`` or a ``print(ref.sigmoid(1))`` at top level
    then costs nothing but itself (the functions defined after it still exist). A cell that
    does not parse is returned as it is."""
    tree = _parse_cell(source)
    if tree is None or not tree.body:
        return source
    wrapped = [
        ast.Try(
            body=[node],
            handlers=[ast.ExceptHandler(type=ast.Name("Exception"), name=None, body=[ast.Pass()])],
            orelse=[],
            finalbody=[],
        )
        for node in tree.body
    ]
    module = ast.Module(body=wrapped, type_ignores=[])
    return ast.unparse(ast.fix_missing_locations(module))


# --- the probe cell and its output -------------------------------------------------------

def entropy(seed: int, grade_id: str) -> list[int]:
    """The probe's ``default_rng`` entropy: the run's secret seed and the test cell's id."""
    return [seed, zlib.crc32(grade_id.encode())]


def probe_cell_source(probe: Probe, seed: int, nonce: str) -> str:
    """The code of the probe cell for ``probe`` (see the module docstring)."""
    emit = call_cell(
        __dlgrader_emit, Name("graded_values"), entropy(seed, probe.grade_id), nonce, MARK,
        MAX_DEPTH,
    )  # fmt: skip
    return f"{probe.source}\n\n{emit}del graded_values\n"


class Unreadable:
    """A returned value the probe could not serialise (its type name is all that came)."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<a {self.type_name}>"


def decode(node: object, depth: int = 0) -> object:
    """The value a probe encoded (``ValueError`` for anything malformed). Arrays are read
    with ``allow_pickle=False`` and must hold booleans or numbers."""
    if depth > MAX_DEPTH + 1:
        raise ValueError("values nested too deeply")
    if node is None or isinstance(node, bool | str):
        return node
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError(f"malformed value {str(node)[:60]!r}")
    ((kind, body),) = node.items()
    if kind in ("ndarray", "scalar"):
        if not isinstance(body, str):
            raise ValueError("malformed array")
        try:
            array = np.load(io.BytesIO(base64.b64decode(body, validate=True)), allow_pickle=False)
        except (binascii.Error, ValueError, OSError, EOFError) as error:
            raise ValueError(f"unreadable array: {error}") from None
        if array.dtype.kind not in "biufc":
            raise ValueError(f"array of dtype {array.dtype}")
        return array if kind == "ndarray" else array[()]
    if kind == "int" and isinstance(body, str) and len(body) < 400:
        return int(body)
    if kind == "float" and isinstance(body, str):
        return float(body)
    if kind in ("list", "tuple") and isinstance(body, list):
        items = [decode(v, depth + 1) for v in body]
        return items if kind == "list" else tuple(items)
    if kind == "dict" and isinstance(body, list):
        out = {}
        for pair in body:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError("malformed dict")
            key = decode(pair[0], depth + 1)
            if not isinstance(key, str | int | float | bool | tuple) and key is not None:
                raise ValueError("unhashable key")
            out[key] = decode(pair[1], depth + 1)
        return out
    if kind == "other" and isinstance(body, str):
        return Unreadable(body[:60])
    raise ValueError(f"malformed value of kind {kind!r}")


@dataclass(frozen=True)
class Outcome:
    """What one probe cell delivered: the payload (still encoded) or why there is none."""

    payload: dict | None = None  # {"values": ...} or {"error": "..."}
    problem: str | None = None  # no values at all: why

    def to_dict(self) -> dict:
        return {"payload": self.payload, "problem": self.problem}

    @classmethod
    def from_dict(cls, data: dict) -> Outcome:
        return cls(data.get("payload"), data.get("problem"))


def parse_probe_output(texts: list[str], nonce: str) -> Outcome:
    """The probe's result from the stdout texts of its own cell: exactly one line starting
    with ``MARK``, carrying ``nonce``; anything else means no values."""
    lines = [line for line in "".join(texts).splitlines() if line.startswith(MARK)]
    if not lines:
        return Outcome(problem="the grader received no values (no result line)")
    if len(lines) > 1:
        return Outcome(
            problem=f"the grader received no values ({len(lines)} result lines where the "
            "grader prints one: printing lines that imitate it is not allowed)"
        )
    parts = lines[0].split(" ", 2)
    if len(parts) != 3 or parts[1] != nonce:
        return Outcome(problem="the grader received no values (a result line not the grader's)")
    if len(parts[2]) > MAX_PAYLOAD_CHARS:
        return Outcome(problem="the grader received no values (the result was too large)")
    try:
        payload = json.loads(parts[2])
    except ValueError:
        return Outcome(problem="the grader received no values (an unreadable result line)")
    if not isinstance(payload, dict) or not (
        set(payload) == {"values"} or (set(payload) == {"error"} and isinstance(payload["error"],
                                                                               str))
    ):
        return Outcome(problem="the grader received no values (a malformed result line)")
    return Outcome(payload=payload)


# --- comparing ---------------------------------------------------------------------------


def _label(path: str) -> str:
    return path or "the set of values"


def compare(got: object, expected: object, probe: Probe, path: str = "") -> str | None:
    """``None`` when ``got`` matches ``expected``, else what differs (the first difference).

    Arrays, NumPy scalars and Python numbers are compared by ``checks.assert_close`` (type,
    shape, dtype for arrays and NumPy scalars, finite where finite is expected, then
    ``|got - expected| <= atol + rtol * |expected|``) with the probe's tolerance for the
    expected dtype; a Python float or int expected accepts any real number. ``str``, ``bool``
    and ``None`` must be equal and of the same type; lists and tuples (interchangeable, as
    in ``assert_close``) element by element; dicts key by key (same keys).
    """
    name = _label(path)
    if isinstance(got, Unreadable):
        return f"{name}: got {got!r}, which the grader cannot read (return arrays or numbers)"
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{name}: expected a dict, got {_kind(got)}"
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        if missing or extra:
            return f"{name}: missing keys {missing[:3]}, unexpected keys {extra[:3]}"
        for key, want in expected.items():
            problem = compare(got[key], want, probe, f"{path}[{key!r}]" if path else repr(key))
            if problem:
                return problem
        return None
    if isinstance(expected, list | tuple):
        if not isinstance(got, list | tuple) or len(got) != len(expected):
            return f"{name}: expected a sequence of {len(expected)}, got {_kind(got)}"
        for i, (g, want) in enumerate(zip(got, expected, strict=True)):
            problem = compare(g, want, probe, f"{path}[{i}]" if path else f"item {i}")
            if problem:
                return problem
        return None
    if expected is None or isinstance(expected, str | bool):
        if type(got) is not type(expected) or got != expected:
            return f"{name}: expected {expected!r}, got {_short(got)}"
        return None
    if isinstance(expected, np.ndarray | np.generic | int | float):
        dtype = expected.dtype if isinstance(expected, np.ndarray | np.generic) else None
        if isinstance(got, bool):  # a bool would pass as the number 0 or 1
            return f"{name}: expected {_phrase(expected)}, got {_short(got)}"
        rtol, atol = probe.tolerance(dtype)
        try:
            _assert_close(got, expected, rtol, atol, name)
        except AssertionError as error:
            return str(error)
        return None
    return f"{name}: the expected value has a type the grader cannot compare"


def _assert_close(got: object, expected: object, rtol: float, atol: float, name: str) -> None:
    """``checks.assert_close`` for one value, from its own steps (type, shape, dtype, finite,
    values), minus its check that the *calling* process is untampered: this process is the
    grader, and a hook some library installs here must not read as a wrong value."""
    from dl_helpers.checks import values

    reference = np.asarray(expected)
    result = values._result_array(got, reference.shape, name)
    values._check_shape(result, reference.shape, name)
    if isinstance(expected, np.ndarray | np.generic):
        values._check_dtype(result, reference.dtype, name)
    result, reference = values._as_numbers(result, name), values._as_numbers(reference, "expected")
    values._check_finite(result, reference, name)
    values._check_values(result, reference, rtol, atol, name)


def _kind(value: object) -> str:
    if isinstance(value, list | tuple | dict):
        return f"a {type(value).__name__} of {len(value)}"
    return _short(value)


def _short(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}, dtype {value.dtype}"
    text = repr(value)
    return f"{type(value).__name__} {text[:40] + '...' if len(text) > 40 else text}"


def _phrase(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}, dtype {value.dtype}"
    return "a number"


def judge(outcome: Outcome | None, expected: Outcome, probe: Probe) -> str | None:
    """``None`` when the submission's values match the expected ones, else the reason."""
    if outcome is None:
        return "the grader received no values (the verification did not reach this test)"
    if outcome.problem:
        return outcome.problem
    assert outcome.payload is not None
    if "error" in outcome.payload:
        error = outcome.payload["error"]
        if error.split(":")[0] in ("NameError", "ImportError", "ModuleNotFoundError",
                                   "AttributeError"):  # fmt: skip
            return (
                "your code could not run on the grader's own inputs, where "
                f"{', '.join(BLOCKED_PACKAGES)} are unavailable ({error})"
            )
        return f"computing your values on the grader's own inputs failed ({error})"
    if expected.payload is None or "values" not in expected.payload:
        return "the grader has no expected values for this test (see the grading log)"
    try:
        got = decode(outcome.payload["values"])
    except ValueError as error:
        return f"the grader could not read the values it received ({error})"
    want = decode(expected.payload["values"])
    problem = compare(got, want, probe)
    if problem:
        return f"on the grader's own inputs your code gave wrong values: {problem}"
    return None


def apply(
    scores: dict[str, list[float]], reasons: dict[str, str | None]
) -> tuple[dict[str, float], dict[str, str]]:
    """Final scores from nbgrader's in-kernel ``{grade_id: [score, max]}`` and each test
    cell's verification reason (``None``: verified): a cell keeps its score only if verified.

    Returns the scores and, for every cell whose in-kernel points were withheld, a note
    ``"0/<max>: <reason>"``.
    """
    final, notes = {}, {}
    for gid, (score, points) in scores.items():
        reason = reasons.get(gid, "the grader received no values (no verification ran)")
        if reason is None:
            final[gid] = float(score)
        else:
            final[gid] = 0.0
            if score and score > 0:
                notes[gid] = f"0/{points:g}: {reason}"[:600]
    return final, notes


# --- the verification run ------------------------------------------------------------------


_FIND_SPECS = """
import importlib.util, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        spec = None
    found[name] = list(spec.submodule_search_locations or []) if spec else []
print(json.dumps(found))
"""


def package_dirs(names: tuple[str, ...] | list[str] = BLOCKED_PACKAGES) -> dict[str, list[str]]:
    """The install folders of the packages ``names``, found without importing them: where
    this process finds them, and where a kernel would (``python -P`` with the kernel's
    environment: no ``PYTHONPATH``), which can differ (an editable install run from another
    checkout)."""
    from dl_course.sandbox import kernel_env

    found: dict[str, list[str]] = {name: [] for name in names}
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        found[name] += list(spec.submodule_search_locations or []) if spec else []
    try:
        kernel = subprocess.run(
            [sys.executable, "-P", "-c", _FIND_SPECS, *names], env=kernel_env("/tmp"),
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        for name, locations in json.loads(kernel.stdout).items():
            found[name] += locations
    except (OSError, subprocess.SubprocessError, ValueError):
        pass  # this process's view alone
    return {
        name: sorted({str(Path(p).resolve()) for p in paths if Path(p).is_dir()})
        for name, paths in found.items()
    }


class _Client(NotebookClient):
    """nbclient with a per-cell output cap (a flood neither exhausts memory nor hides the
    probe's line behind a truncation: the cap is far above any probe's result)."""

    max_cell_output_bytes = 16_000_000

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._sizes: dict[int, int] = {}

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {}), default=str))
        used = self._sizes.get(cell_index, 0) + size
        self._sizes[cell_index] = used
        if used <= self.max_cell_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        return None


@dataclass
class Settings:
    """Where and how a verification kernel runs (``SandboxedKernelManager`` options)."""

    work_dir: Path
    ipc_dir: Path
    masked: list[str]
    blocker: Path
    memory_mb: int = 2048
    cpu_seconds: int = 300
    unsafe: bool = False
    cell_timeout: int = 30
    budget: float = 240.0  # seconds for the whole run
    files_from: Path | None = None  # the assignment's files (not notebooks) to work beside
    quiet: bool = False  # discard the kernel process's own stdout/stderr (not the cells')
    packages: dict[str, list[str]] | None = None  # package_dirs(), computed once per run
    font_list: Path | None = None  # matplotlib's font list to start with (``fonts``)


def _cell(source: str, role: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata[KEY] = role
    return cell


def run_verification(
    preamble: str,
    answers: list[str],
    probes: list[Probe],
    seed: int,
    nonce: str,
    settings: Settings,
) -> dict[str, Outcome]:
    """Run the answers and one probe per test cell in fresh verification kernels (one per
    ``allow`` group) and return each probe's ``Outcome`` (see the module docstring).
    A kernel that dies or overruns ``settings.budget`` gives the probes it did not finish
    an ``Outcome`` with the reason; nothing here raises for the submission's sake."""
    verifier = Verifier(preamble, sorted({p.allow for p in probes}), settings)
    try:
        return verifier.finish(answers, probes, seed, nonce)
    finally:
        verifier.close()


class Verifier:
    """A verification run in two steps, so that its slow start can overlap other work.

    Creating it starts one kernel per ``allow`` group (sandboxed, blocked packages covered)
    in a background thread and runs the trusted preamble there: no student code yet.
    ``finish`` then runs the answer cells and the probes and returns the outcomes; ``close``
    kills the kernels. The worker creates it before nbgrader's run and finishes it after
    nbgrader's kernel is gone, so student code never runs in both kernels at once.
    """

    def __init__(self, preamble: str, groups: list[tuple[str, ...]], settings: Settings) -> None:
        self.settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._groups = {
            allow: _Group(preamble, [p for p in BLOCKED_PACKAGES if p not in allow], settings,
                          index)
            for index, allow in enumerate(groups)
        }  # fmt: skip
        self._started = {
            allow: asyncio.run_coroutine_threadsafe(group.start(), self._loop)
            for allow, group in self._groups.items()
        }

    def finish(
        self,
        answers: list[str],
        probes: list[Probe],
        seed: int,
        nonce: str,
        budget: float | None = None,
    ) -> dict[str, Outcome]:
        """Run the answers, then the probes; ``budget`` seconds (default: the settings')."""
        deadline = time.monotonic() + (self.settings.budget if budget is None else budget)
        outcomes: dict[str, Outcome] = {}
        for allow, group in self._groups.items():
            mine = [p for p in probes if p.allow == allow]
            if not mine:
                continue
            run = group.finish(self._started[allow], answers, mine, seed, nonce, deadline)
            outcomes.update(asyncio.run_coroutine_threadsafe(run, self._loop).result())
        for probe in probes:  # a probe whose allow-set had no kernel
            outcomes.setdefault(probe.grade_id, Outcome(problem="the grader received no values"))
        return outcomes

    def close(self) -> None:
        # A kernel still starting (a submission that failed before it ran) must be up before
        # it can be killed: its sandbox dies with this thread only once it has said so, and
        # the thread ends here.
        for started in self._started.values():
            with contextlib.suppress(Exception):
                started.result(timeout=60)
        for group in self._groups.values():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(group.close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        with contextlib.suppress(RuntimeError):
            self._loop.close()


class _Group:
    """One verification kernel: the packages ``blocked`` in it, its cells so far."""

    def __init__(self, preamble: str, blocked: list[str], settings: Settings, index: int):
        from dl_course.sandbox import SandboxedKernelManager, prepare_dirs

        self.settings = settings
        work = settings.work_dir.with_name(f"{settings.work_dir.name}-{index}")
        ipc = settings.ipc_dir.with_name(f"{settings.ipc_dir.name}-{index}")
        if settings.files_from is not None:  # a fresh copy: nothing of another run in it
            shutil.copytree(settings.files_from, work, ignore=shutil.ignore_patterns("*.ipynb"))
        prepare_dirs(work, ipc)
        poison = poison_source(blocked) if settings.unsafe and blocked else ""
        packages = settings.packages if settings.packages is not None else package_dirs(blocked)
        self.nb = nbformat.v4.new_notebook(cells=[_cell(poison + preamble, "preamble")])
        self.nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                          "language": "python"}  # fmt: skip
        config = Config(
            {
                "SandboxedKernelManager": {
                    "work_dir": str(work),
                    "ipc_dir": str(ipc),
                    "masked_paths": settings.masked,
                    "blocked_paths": [d for name in blocked for d in packages.get(name, [])],
                    "blocker_file": str(settings.blocker),
                    "font_list": str(settings.font_list or ""),
                    "memory_mb": settings.memory_mb,
                    "cpu_seconds": settings.cpu_seconds,
                    "unsafe": settings.unsafe,
                }
            }
        )
        self.client = _Client(
            self.nb,
            config=config,
            kernel_manager_class=SandboxedKernelManager,
            timeout=settings.cell_timeout,
            allow_errors=True,
            interrupt_on_timeout=True,
            raise_on_iopub_timeout=False,
            iopub_timeout=10,
            shutdown_kernel="immediate",
            resources={"metadata": {"path": str(work)}},
        )
        self.stack = contextlib.AsyncExitStack()
        self.stopped = ""  # why execution stopped early

    async def start(self) -> None:
        """Start the kernel and run the preamble (trusted code only)."""
        self.client.reset_execution_trackers()
        quiet = self.settings.quiet
        streams = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL} if quiet else {}
        try:
            await self.stack.enter_async_context(self.client.async_setup_kernel(**streams))
            await self._run(self.nb.cells[0], time.monotonic() + self.settings.budget)
        except Exception as error:
            self.stopped = self.stopped or _why(error)

    async def finish(self, started, answers, probes, seed, nonce, deadline) -> dict:
        await asyncio.wrap_future(started)
        cells = [_cell(forgiving(source), "answer") for source in answers]
        cells += [_cell(probe_cell_source(p, seed, nonce), p.grade_id) for p in probes]
        for cell in cells:
            self.nb.cells.append(cell)
            if self.stopped:
                continue
            try:
                await self._run(cell, deadline)
            except Exception as error:
                self.stopped = _why(error)
        return {c.metadata[KEY]: self._outcome(c, nonce) for c in cells
                if c.metadata[KEY] != "answer"}  # fmt: skip

    async def _run(self, cell, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        index = self.nb.cells.index(cell)
        try:
            await asyncio.wait_for(
                self.client.async_execute_cell(cell, index, execution_count=index + 1),
                timeout=remaining,
            )
        except TimeoutError:
            cell.execution_count = None
            raise

    def _outcome(self, cell, nonce: str) -> Outcome:
        if cell.get("execution_count") is None and not cell.outputs:
            return Outcome(problem=f"the grader received no values ({self.stopped})")
        texts = [o.get("text", "") for o in cell.outputs
                 if o.get("output_type") == "stream" and o.get("name") == "stdout"]  # fmt: skip
        outcome = parse_probe_output(texts, nonce)
        interrupted = any(o.get("ename") == "KeyboardInterrupt" for o in cell.outputs
                          if o.get("output_type") == "error")  # fmt: skip
        if outcome.problem and interrupted:
            outcome = Outcome(
                problem=f"the grader received no values (the probe ran past "
                f"{self.settings.cell_timeout} s and was interrupted)"
            )
        return outcome

    async def close(self) -> None:
        await self.stack.aclose()  # kills the kernel (shutdown_kernel="immediate")


def _why(error: BaseException) -> str:
    """Why a verification kernel stopped, for the students' notes."""
    if isinstance(error, TimeoutError):
        return "the verification ran out of time"
    if isinstance(error, DeadKernelError):
        return "the verification kernel died (os._exit, a crash, or a resource limit)"
    return f"the verification could not run ({type(error).__name__}: {error})"[:300]


def encode_outcomes(outcomes: dict[str, Outcome]) -> str:
    return json.dumps({gid: o.to_dict() for gid, o in outcomes.items()})


def decode_outcomes(text: str) -> dict[str, Outcome]:
    return {gid: Outcome.from_dict(d) for gid, d in json.loads(text).items()}

