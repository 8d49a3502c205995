"""The grader's verification of values (``dl_course.verify``), unit by unit.

Serialisation round trip (dtype, shape and Python-vs-NumPy types kept), the parser of a
probe's output (exactly one marked line with the run's nonce), the comparator and its
messages, reading ``graded_values`` and its defaults from a hidden section, the final scores,
and -- in a real sandbox -- that the blocked packages cannot be imported by the verification
kernel while NumPy can.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import numpy as np
import pytest

from dl_course import verify
from dl_course.layout import find_root
from tests.sandbox_tool import require_bwrap

ROOT = find_root(Path(__file__))
NOTEBOOK01 = ROOT / "solutions" / "01_activation_functions" / "01_activation_functions.ipynb"


def _probe(source: str, grade_id: str = "test_x") -> verify.Probe:
    return verify.extract_probe(grade_id, f"### BEGIN HIDDEN TESTS\n{source}\n### END HIDDEN TESTS")


def _emit(values: object, nonce: str = "n0nce") -> list[str]:
    """The stdout of a probe cell whose graded_values returns ``values`` (run here)."""
    namespace: dict = {"np": np, "VALUES": values}
    source = verify.probe_cell_source(
        _probe("def graded_values(rng, rtol=0.0, atol=0.0):\n    return VALUES"), 1, nonce
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<probe>", "exec"), namespace)
    return [out.getvalue()]


# --- serialisation -----------------------------------------------------------------------


def test_round_trip_keeps_dtype_shape_and_types():
    values = {
        "f32": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
        "f64 0-d": np.array(0.25),
        "np scalar": np.float32(1.5),
        "bools": np.array([True, False]),
        "ints": np.arange(3, dtype=np.int16),
        "complex": np.array([1 + 2j], dtype=np.complex64),
        "py float": 0.1,
        "a third": 1 / 3,  # every digit of a double survives
        "py int": 10**30,
        "flag": True,
        "none": None,
        "text": "sigmoid",
        "nested": [np.zeros((0, 2)), (1.0, "a"), {"k": [np.inf, np.nan]}],
        "tail": np.array([-np.inf, np.nan, -0.0]),
    }
    outcome = verify.parse_probe_output(_emit(values), "n0nce")
    assert outcome.problem is None, outcome
    got = verify.decode(outcome.payload["values"])
    assert list(got) == list(values)
    for key in ("f32", "f64 0-d", "bools", "ints", "complex", "tail"):
        assert isinstance(got[key], np.ndarray)
        assert got[key].dtype == values[key].dtype and got[key].shape == values[key].shape
        np.testing.assert_array_equal(got[key], values[key])
    assert type(got["np scalar"]) is np.float32 and got["np scalar"] == 1.5
    assert type(got["py float"]) is float and got["py float"] == 0.1
    assert got["a third"] == 1 / 3
    assert type(got["py int"]) is int and got["py int"] == 10**30
    assert got["flag"] is True and got["none"] is None and got["text"] == "sigmoid"
    assert isinstance(got["nested"], list) and isinstance(got["nested"][1], tuple)
    assert got["nested"][0].shape == (0, 2)
    assert np.isnan(got["nested"][2]["k"][1])
    assert np.signbit(got["tail"][2])


def test_unserialisable_values_and_errors_are_reported():
    class Odd:
        pass

    got = verify.decode(verify.parse_probe_output(_emit({"x": Odd()}), "n0nce").payload["values"])
    assert isinstance(got["x"], verify.Unreadable) and got["x"].type_name == "Odd"
    objects = verify.parse_probe_output(_emit(np.array([Odd()], dtype=object)), "n0nce")
    assert "error" in objects.payload  # no pickles: the probe refuses object arrays


def test_decode_refuses_pickles_and_malformed_values():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    import base64

    pickled = {"ndarray": base64.b64encode(buffer.getvalue()).decode()}
    for bad in (pickled, {"ndarray": "not base64!"}, {"weird": 1}, [1, 2], {"int": 5}):
        with pytest.raises(ValueError):
            verify.decode(bad)


# --- the parser ----------------------------------------------------------------------------


def test_parser_takes_exactly_one_line_with_the_nonce():
    line = _emit({"a": 1.0}, nonce="right")[0]
    assert verify.parse_probe_output([line], "right").payload is not None
    assert verify.parse_probe_output(["noise\n", line, "more noise\n"], "right").problem is None
    # split across stream messages
    assert verify.parse_probe_output([line[:20], line[20:]], "right").problem is None

    missing = verify.parse_probe_output(["nothing here\n"], "right")
    assert missing.payload is None and "no result line" in missing.problem
    two = verify.parse_probe_output([line, line], "right")
    assert two.payload is None and "2 result lines" in two.problem
    wrong = verify.parse_probe_output(_emit({"a": 1.0}, nonce="guessed"), "right")
    assert wrong.payload is None and "not the grader's" in wrong.problem
    broken = verify.parse_probe_output([f"{verify.MARK} right {{not json\n"], "right")
    assert broken.payload is None and "unreadable" in broken.problem
    odd = verify.parse_probe_output([f"{verify.MARK} right {json.dumps({'x': 1})}\n"], "right")
    assert odd.payload is None and "malformed" in odd.problem
    huge = f"{verify.MARK} right " + "x" * (verify.MAX_PAYLOAD_CHARS + 1) + "\n"
    assert "too large" in verify.parse_probe_output([huge], "right").problem


# --- the comparator ------------------------------------------------------------------------

PROBE = verify.Probe("test_x", "", rtol=1e-10, atol=1e-15, rtol32=1e-5, atol32=1e-7)


def test_compare_values_and_messages():
    x = np.array([[0.5, 0.25], [0.125, 0.731]])
    assert verify.compare({"a": x.copy()}, {"a": x}, PROBE) is None
    worse = x.copy()
    worse[1, 1] = 0.5
    message = verify.compare({"a": worse}, {"a": x}, PROBE)
    assert message.startswith("'a': 1 of 4 values differ")
    assert "at index [1, 1]: expected 0.731, got 0.5" in message
    assert "got float32" in verify.compare({"a": x.astype(np.float32)}, {"a": x}, PROBE)
    assert "got (2,)" in verify.compare({"a": x[0]}, {"a": x}, PROBE)
    assert "NaN or inf" in verify.compare({"a": x * np.nan}, {"a": x}, PROBE)
    assert "forget `return`" in verify.compare({"a": None}, {"a": x}, PROBE)
    assert "missing keys ['b']" in verify.compare({"a": x}, {"a": x, "b": 1.0}, PROBE)
    assert "unexpected keys ['c']" in verify.compare({"a": x, "c": 1}, {"a": x}, PROBE)
    assert "expected 'relu'" in verify.compare({"s": "tanh"}, {"s": "relu"}, PROBE)
    assert verify.compare({"s": None}, {"s": None}, PROBE) is None
    assert "expected True" in verify.compare({"s": 1}, {"s": True}, PROBE)
    assert "sequence of 2" in verify.compare({"t": (x,)}, {"t": (x, x)}, PROBE)
    assert verify.compare({"t": [x, x]}, {"t": (x, x)}, PROBE) is None  # as assert_close
    assert "cannot read" in verify.compare({"a": verify.Unreadable("Odd")}, {"a": x}, PROBE)


def test_compare_tolerances_follow_the_dtype():
    x64 = np.array([1.0, 2.0])
    x32 = x64.astype(np.float32)
    assert verify.compare(x64 * (1 + 1e-11), x64, PROBE) is None
    assert verify.compare(x64 * (1 + 1e-9), x64, PROBE) is not None  # rtol=1e-10
    assert verify.compare(x32 * np.float32(1 + 1e-6), x32, PROBE) is None  # rtol32=1e-5
    assert verify.compare(x32 * np.float32(1 + 1e-4), x32, PROBE) is not None


def test_a_python_float_expected_accepts_any_real_scalar():
    assert verify.compare({"f": np.float32(0.5)}, {"f": 0.5}, PROBE) is None
    assert verify.compare({"f": np.float64(0.5)}, {"f": 0.5}, PROBE) is None
    assert verify.compare({"f": 0.5}, {"f": 0.5}, PROBE) is None
    assert verify.compare({"f": 0.6}, {"f": 0.5}, PROBE) is not None
    assert verify.compare({"f": "0.5"}, {"f": 0.5}, PROBE) is not None
    assert verify.compare({"f": True}, {"f": 1.0}, PROBE) is not None


def test_judge_reasons():
    expected = verify.Outcome(payload={"values": {"dict": [["a", {"float": "1.0"}]]}})
    right = verify.Outcome(payload={"values": {"dict": [["a", {"float": "1.0"}]]}})
    wrong = verify.Outcome(payload={"values": {"dict": [["a", {"float": "2.0"}]]}})
    assert verify.judge(right, expected, PROBE) is None
    assert "gave wrong values: 'a':" in verify.judge(wrong, expected, PROBE)
    name_error = verify.Outcome(payload={"error": "NameError: name 'ref' is not defined"})
    reason = verify.judge(name_error, expected, PROBE)
    assert "could not run" in reason and "torch" in reason and "'ref'" in reason
    crash = verify.Outcome(payload={"error": "ZeroDivisionError: division by zero"})
    assert "inputs failed (ZeroDivisionError" in verify.judge(crash, expected, PROBE)
    nothing = verify.Outcome(problem="the grader received no values (no result line)")
    assert verify.judge(nothing, expected, PROBE) == nothing.problem
    assert "received no values" in verify.judge(None, expected, PROBE)


def test_apply_keeps_only_verified_points():
    scores = {"test_a": [2.0, 2.0], "test_b": [1.0, 1.0], "test_c": [0.0, 3.0], "test_d": [1, 1]}
    final, notes = verify.apply(scores, {"test_a": None, "test_b": "wrong values: 'x'"})
    assert final == {"test_a": 2.0, "test_b": 0.0, "test_c": 0.0, "test_d": 0.0}
    assert notes["test_b"] == "0/1: wrong values: 'x'"
    assert "no verification ran" in notes["test_d"]
    assert "test_c" not in notes and "test_a" not in notes  # 0 in the kernel: nothing withheld


# --- reading graded_values ---------------------------------------------------------------


def test_extract_probe_reads_the_function_and_its_literal_defaults():
    probe = _probe(
        "x = 1\n\n\ndef graded_values(rng, rtol=1e-7, atol=0, rtol32=1e-5, atol32=1e-6,\n"
        "                  allow=('torch',)):\n    '''doc'''\n    return {'x': rng.random()}\n"
    )
    assert probe.source.startswith("def graded_values(rng, rtol=1e-7")
    assert probe.source.rstrip().endswith("return {'x': rng.random()}")
    assert (probe.rtol, probe.atol, probe.rtol32, probe.atol32) == (1e-7, 0.0, 1e-5, 1e-6)
    assert probe.allow == ("torch",)
    plain = _probe("def graded_values(rng, rtol=1e-6, atol=1e-12):\n    return {}")
    assert (plain.rtol32, plain.atol32, plain.allow) == (1e-6, 1e-12, ())
    assert plain.tolerance(np.dtype("float32")) == (1e-6, 1e-12)


@pytest.mark.parametrize(
    "hidden, problem",
    [
        ("x = 1", "must define graded_values"),
        ("def graded_values(x, rtol=1e-6, atol=0):\n    pass", "rng first"),
        ("def graded_values(rng, atol=0):\n    pass", "number rtol"),
        ("def graded_values(rng, rtol=TOL, atol=0):\n    pass", "must be a literal"),
        ("def graded_values(rng, rtol=1, atol=0, allow=('jax',)):\n    pass", "allow"),
        ("def graded_values(rng, rtol=1, atol=0):\n    pass\n" * 2, "found 2"),
    ],
)
def test_extract_probe_refuses_malformed_graded_values(hidden, problem):
    with pytest.raises(verify.ProbeError, match=problem):
        _probe(hidden)
    with pytest.raises(verify.ProbeError, match="no hidden section"):
        verify.extract_probe("test_x", "assert True")


def test_notebook01_every_test_cell_has_graded_values():
    nb = nbformat.read(NOTEBOOK01, as_version=4)
    probes = verify.extract_probes(nb)
    tests = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    assert len(probes) == len(tests) >= 14  # one probe per test cell
    assert all(p.allow == () for p in probes.values())  # NumPy only
    assert probes["test_relu"].rtol == 0.0 and probes["test_tanh"].rtol32 == 1e-5


def test_forgiving_answer_cells_and_preamble():
    source = "import torch\nprint(ref.sigmoid(1.0))\n\ndef f(x):\n    return x + 1\n"
    namespace: dict = {}
    exec(verify.forgiving(source).replace("import torch", "import no_such_module_x"), namespace)
    assert namespace["f"](1) == 2
    assert verify.forgiving("def broken(:\n") == "def broken(:\n"  # left to fail as written
    preamble = verify.setup_preamble(nbformat.read(NOTEBOOK01, as_version=4))
    assert "import numpy as np" in preamble and "%matplotlib" not in preamble
    assert "plotting.use_style()" not in preamble and "except ImportError" in preamble


def test_the_secret_seed_is_only_in_masked_places(tmp_path):
    from dl_course.autograde import Grader, Limits
    from dl_course.intake import Submission
    from dl_course.layout import assignments

    (assignment,) = assignments(ROOT, ["01_activation_functions"])
    course = tmp_path / "course"
    grader = Grader.open(assignment, course, "sqlite://", Limits(), masked=[course])
    try:
        assert grader.scratch in grader.masked  # job files, expected values, blocker
        assert grader.expected.is_relative_to(grader.scratch)
        assert grader.seed.bit_length() > 64
        assert str(grader.seed) not in grader.preamble
        # what a worker's kernels are told to hide: the course folder and the scratch folder
        grader.template = tmp_path / "template"
        sub = Submission("alice", tmp_path / "alice.ipynb", None, datetime.now(UTC))
        job = grader.job(sub, 0)
        assert set(job.masked) == {str(course), str(grader.scratch)}
        for path in (job.result_path, job.verify.expected, job.verify.blocker, job.work_root):
            assert Path(path).is_relative_to(grader.scratch), path
        assert job.verify.seed == grader.seed
        assert job.verify.nonce != grader.job(sub, 1).verify.nonce  # one per submission
    finally:
        grader.close()


# --- in a real sandbox -------------------------------------------------------------------

IMPORTS = """def graded_values(rng, rtol=0.0, atol=0.0, allow=ALLOW):
    found = {}
    for name in ("numpy", "dl_helpers", "dl_helpers.activations", "torch", "scipy.special",
                 "sklearn"):
        try:
            __import__(name)
            found[name] = "imported"
        except ImportError:
            found[name] = "ImportError"
    found["from the answer"] = ANSWER_RESULT
    return found
"""


def _verification(tmp_path, probes, answers, unsafe=False, cell_timeout=20):
    tmp_path.mkdir(parents=True, exist_ok=True)
    blocker = tmp_path / "blocker.py"
    blocker.write_text(verify.BLOCKER_SOURCE)
    blocker.chmod(0o644)
    settings = verify.Settings(
        work_dir=tmp_path / "work", ipc_dir=tmp_path / "ipc", masked=[], blocker=blocker,
        unsafe=unsafe, cell_timeout=cell_timeout, budget=120,
    )  # fmt: skip
    nonce = secrets.token_hex(8)
    preamble = "try:\n    import numpy as np\nexcept ImportError:\n    pass"
    return verify.run_verification(preamble, answers, probes, 7, nonce, settings)


def test_blocked_packages_cannot_be_imported_in_the_verification_kernel(tmp_path):
    require_bwrap()
    answer = "import torch\nimport dl_helpers\n\ndef laundered(x):\n    return torch.tensor(x)\n"
    probe = _probe(
        IMPORTS.replace("ALLOW", "()").replace("ANSWER_RESULT", "'torch' in globals()")
    )
    allowed = _probe(
        IMPORTS.replace("ALLOW", "('torch',)").replace("ANSWER_RESULT", "0"), "test_torch"
    )
    outcomes = _verification(tmp_path, [probe, allowed], [answer])
    got = verify.decode(outcomes["test_x"].payload["values"])
    assert got == {
        "numpy": "imported",
        "dl_helpers": "ImportError",
        "dl_helpers.activations": "ImportError",
        "torch": "ImportError",
        "scipy.special": "ImportError",
        "sklearn": "ImportError",
        "from the answer": False,
    }
    # a test cell that declares allow=("torch",) runs in its own kernel, with torch
    permitted = verify.decode(outcomes["test_torch"].payload["values"])
    assert permitted["torch"] == "imported" and permitted["dl_helpers"] == "ImportError"


@pytest.fixture
def planted_copies():
    """A world-readable folder outside the checkout and /tmp (which the sandbox replaces)
    holding a fake ``torch`` and ``dl_helpers`` that compute the right answer, and a canary
    file: what a grading machine's other environments and checkouts look like."""
    folder = Path("/var/tmp") / f"dlgrader-canary-{secrets.token_hex(4)}"
    for package in ("torch", "dl_helpers"):
        (folder / package).mkdir(parents=True)
        (folder / package / "__init__.py").write_text("def double(x):\n    return 2 * x\n")
    (folder / "canary.txt").write_text("the grading machine's files\n")
    for path in (folder, *folder.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield folder
    for path in sorted(folder.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    folder.rmdir()


def test_other_pythons_package_folders_are_hidden_but_not_the_courses(tmp_path):
    import sys

    from dl_course.sandbox import foreign_package_dirs

    base = tmp_path / "base"
    for folder in ("lib/python3.11/site-packages", "lib/python3/dist-packages",
                   "local/lib/python3.11/dist-packages", "lib/python3.11/encodings"):
        (base / folder).mkdir(parents=True)
    env = Path(sys.prefix).resolve()
    hidden = foreign_package_dirs([base, env])
    assert hidden == [base / "lib/python3/dist-packages", base / "lib/python3.11/site-packages",
                      base / "local/lib/python3.11/dist-packages"]
    assert not any(p.is_relative_to(env) for p in hidden)  # the course's environment stays


def test_no_other_copy_of_a_blocked_package_is_reachable(tmp_path, planted_copies):
    # The answer cell puts a folder of the machine on sys.path and imports the copies there;
    # the verification kernel's root holds only the environment and the system's libraries.
    require_bwrap()
    answer = (
        "import sys\n"
        f"sys.path.insert(0, {str(planted_copies)!r})\n"
        "def f(x):\n"
        "    import torch\n"
        "    return torch.double(x)\n"
        "def g(x):\n"
        "    import dl_helpers\n"
        "    return dl_helpers.double(x)\n"
        "def canary():\n"
        f"    return open({str(planted_copies / 'canary.txt')!r}).read()\n"
    )
    source = """def graded_values(rng, rtol=0.0, atol=0.0):
    found = {}
    for name, call in [("torch copy", lambda: f(2)), ("dl_helpers copy", lambda: g(2)),
                       ("canary file", canary)]:
        try:
            found[name] = call()
        except (ImportError, OSError) as error:
            found[name] = type(error).__name__
    return found
"""
    outcomes = _verification(tmp_path, [_probe(source)], [answer])
    got = verify.decode(outcomes["test_x"].payload["values"])
    assert got == {
        "torch copy": "ImportError",
        "dl_helpers copy": "ImportError",
        "canary file": "FileNotFoundError",
    }


def test_verification_kernel_death_and_timeouts_cost_only_the_affected_cells(tmp_path):
    require_bwrap()
    probes = [
        _probe("def graded_values(rng, rtol=0.0, atol=0.0):\n    return {'v': f(2)}", gid)
        for gid in ("test_a", "test_b", "test_c")
    ]
    slow = "import time\n\ndef f(x):\n    time.sleep(60)\n"
    outcomes = _verification(tmp_path / "slow", probes[:1], [slow], cell_timeout=3)
    assert "ran past 3 s and was interrupted" in outcomes["test_a"].problem
    dying = "import os\n\ndef f(x):\n    os._exit(1)\n"
    outcomes = _verification(tmp_path / "dying", probes, [dying])
    assert all("kernel died" in outcomes[p.grade_id].problem for p in probes[1:])


def _processes_naming(text: str) -> list[int]:
    """The processes whose command line contains ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and text in (proc / "cmdline").read_text():
                found.append(int(proc.name))
    return found


def test_a_verifier_closed_while_its_kernels_start_leaves_no_process_behind(tmp_path):
    # A submission that cannot be read closes the verification kernels it started a moment
    # before: killing a sandbox that has not yet bound its life to this thread would leave it
    # running forever.
    require_bwrap()
    blocker = tmp_path / "blocker.py"
    blocker.write_text(verify.BLOCKER_SOURCE)
    blocker.chmod(0o644)
    ipc = tmp_path / "verify-ipc"
    settings = verify.Settings(work_dir=tmp_path / "work", ipc_dir=ipc, masked=[],
                               blocker=blocker, budget=60)  # fmt: skip
    for _ in range(3):
        verify.Verifier("import numpy as np", [(), ("torch",)], settings).close()
    time.sleep(1.0)
    assert _processes_naming(str(ipc)) == []


def test_unsafe_mode_still_verifies_values(tmp_path):
    probe = _probe("def graded_values(rng, rtol=0.0, atol=0.0):\n    return {'v': f(2)}")
    outcomes = _verification(tmp_path, [probe], ["def f(x):\n    return x * 3\n"], unsafe=True)
    assert verify.decode(outcomes["test_x"].payload["values"]) == {"v": 6}


@pytest.mark.parametrize(
    "bwrap, problem",
    [(None, "not installed"), ("/bin/false", "installed but cannot sandbox")],
    ids=["missing", "not-working"],
)
def test_ci_fails_instead_of_skipping_without_a_working_bubblewrap(monkeypatch, bwrap, problem):
    from tests import sandbox_tool

    outside = os.environ.get("CI")  # CI itself runs this test with CI set
    monkeypatch.setattr("tests.sandbox_tool.bwrap_path", lambda: bwrap)
    sandbox_tool.bwrap_problem.cache_clear()
    try:
        assert problem in sandbox_tool.bwrap_problem()
        monkeypatch.setenv("CI", "true")
        with pytest.raises(pytest.fail.Exception, match="CI is set"):
            require_bwrap()
        with pytest.raises(pytest.fail.Exception, match="CI is set"):
            sandbox_tool.sandbox_flags()  # no quiet fall-back to --unsafe-no-sandbox in CI
        monkeypatch.delenv("CI")
        with pytest.raises(pytest.skip.Exception):
            require_bwrap()
        assert sandbox_tool.sandbox_flags() == ["--unsafe-no-sandbox"]
    finally:
        monkeypatch.undo()
        sandbox_tool.bwrap_problem.cache_clear()
    assert os.environ.get("CI") == outside


def test_a_graded_values_that_fails_on_the_solution_stops_the_run(tmp_path, monkeypatch, capsys):
    from dl_course.cli import main
    from tests.grading_fixtures import TINY, make_repo

    repo = make_repo(tmp_path / "repo")
    source = repo / "solutions" / TINY / f"{TINY}.ipynb"
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_relu":
            cell.source = cell.source.replace('{"relu(x)": relu(', '{"relu(x)": 1 / 0 * relu(')
    nbformat.write(nb, source)
    subs = tmp_path / "subs" / "alice"
    subs.mkdir(parents=True)
    nbformat.write(nbformat.read(source, as_version=4), subs / f"{TINY}.ipynb")
    monkeypatch.chdir(repo)
    sandbox = [] if verify_sandbox_available() else ["--unsafe-no-sandbox"]
    assert main(["autograde", TINY, str(subs.parent), *sandbox]) == 2
    error = capsys.readouterr().err
    assert "graded_values gives no values on the solution" in error and "test_relu" in error
    assert main(["grades", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # nothing recorded


def verify_sandbox_available() -> bool:
    from dl_course.sandbox import bwrap_path

    return bwrap_path() is not None
