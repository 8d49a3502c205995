"""The kernel sandbox: what student code inside it can and cannot do."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest
from traitlets.config import Config

from dl_course.sandbox import SandboxedKernelManager, prepare_dirs, sandbox_uid
from tests.sandbox_tool import planted_canaries, require_bwrap


@pytest.fixture(autouse=True)
def _sandbox_tool():
    require_bwrap()  # skip on a laptop without it, fail in CI

PROBE = r"""
import json, os, signal, socket
result = {}
try:
    result["masked"] = os.listdir(SECRET_DIR)
except OSError as error:
    result["masked"] = repr(error)
try:
    socket.create_connection(("127.0.0.1", LISTEN_PORT), timeout=2)
    result["tcp"] = "connected"
except OSError as error:
    result["tcp"] = repr(error)
try:
    os.kill(PARENT_PID, signal.SIGTERM)
    result["kill"] = "sent"
except OSError as error:
    result["kill"] = repr(error)
result["tmp"] = sorted(os.listdir("/tmp"))
open("/tmp/MARKER", "w").write("private")
try:
    open(SECRET_DIR + "/../planted.txt", "w").write("x")
    result["write_outside"] = "written"
except OSError as error:
    result["write_outside"] = repr(error)
try:
    hog = bytearray(3 * 1024**3)
    result["memory"] = "allocated"
except MemoryError:
    result["memory"] = "MemoryError"
result["uid"] = os.getuid()
status = open("/proc/self/status").read()
result["capabilities"] = int(status.split("CapEff:")[1].split()[0], 16)
result["cwd"] = os.getcwd()
print(json.dumps(result))
"""


async def _run_in_sandbox(work, ipc, secret_dir, code: str, **options) -> dict:
    """The last line ``code`` prints in a sandboxed kernel (``options``: more of its settings),
    read as JSON."""
    config = Config(
        {
            "SandboxedKernelManager": {
                "work_dir": str(work),
                "ipc_dir": str(ipc),
                "masked_paths": [str(secret_dir)],
                "memory_mb": 1024,
                **options,
            }
        }
    )
    km = SandboxedKernelManager(config=config)
    await km.start_kernel()
    client = km.client()
    client.start_channels()
    texts: list[str] = []
    try:
        await client.wait_for_ready(timeout=60)

        def hook(msg):
            if msg["msg_type"] == "stream":
                texts.append(msg["content"]["text"])

        await client.execute_interactive(code, timeout=60, output_hook=hook)
    finally:
        client.stop_channels()
        await km.shutdown_kernel(now=True)
    return json.loads("".join(texts).strip().splitlines()[-1])


@pytest.fixture
def secret_dir(tmp_path):
    """A folder outside /tmp (so only the mask hides it), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="dl-course-secret-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def listener():
    """A TCP server on a loopback port of the grading machine (outside the sandbox)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


def test_kernel_is_isolated(tmp_path, secret_dir, listener):
    (secret_dir / "gradebook.db").write_text("hidden tests live here")
    work, ipc = tmp_path / "run" / "work", tmp_path / "run" / "ipc"
    prepare_dirs(work, ipc)
    marker = f"dl-course-sandbox-{os.getpid()}"
    code = (
        PROBE.replace("SECRET_DIR", repr(str(secret_dir)))
        .replace("PARENT_PID", str(os.getpid()))
        .replace("MARKER", marker)
        .replace("LISTEN_PORT", str(listener.getsockname()[1]))
    )
    result = asyncio.run(_run_in_sandbox(work, ipc, secret_dir, code))
    assert "FileNotFoundError" in result["masked"], "a folder off the allow-list must not exist"
    assert "connected" not in result["tcp"]
    with pytest.raises(BlockingIOError):  # no connection ever reached the grader's port
        listener.accept()
    assert "ProcessLookupError" in result["kill"], "the grader's pid must not exist inside"
    assert marker not in result["tmp"] and not (Path("/tmp") / marker).exists()
    assert result["write_outside"] != "written"
    assert not (secret_dir.parent / "planted.txt").exists()
    assert result["memory"] == "MemoryError"
    assert result["cwd"] == str(work)
    assert result["capabilities"] == 0, "the kernel must hold no capabilities (no remounts)"
    if sandbox_uid() is not None:
        assert result["uid"] == sandbox_uid()
    assert (secret_dir / "gradebook.db").read_text() == "hidden tests live here"


def test_allow_listed_root_binds_an_environment_below_tmp_after_the_private_tmp():
    # A fresh clone under /tmp has its venv there: bound before `--tmpfs /tmp`, it would be
    # hidden by it (every kernel then fails to start). It must be bound after, read-only.
    from dl_course.sandbox import bwrap_args

    venv = Path("/tmp/clone/.venv")
    args = bwrap_args(
        work_dir=Path("/tmp/grading/work"), ipc_dir=Path("/tmp/grading/ipc"), masked=[],
        tmp_mb=64, drop_to_uid=None, readable=[venv, Path("/work/main/.venv")],
    )  # fmt: skip
    private_tmp = next(i for i in range(len(args) - 1) if args[i : i + 2] == ["--tmpfs", "/tmp"])
    binds = [i for i in range(len(args) - 2) if args[i] == "--ro-bind"]
    venv_binds = [i for i in binds if args[i + 1] == str(venv)]
    assert venv_binds and all(i > private_tmp for i in venv_binds)
    assert ["--ro-bind", "/", "/"] != args[1:4] and "/" not in [args[i + 1] for i in binds]


@pytest.fixture
def canaries():
    with planted_canaries() as folders:
        yield folders


CANARY_PROBE = r"""
import json, os
seen = {}
for folder in FOLDERS:
    try:
        seen[folder] = open(os.path.join(folder, "secret.txt")).read()
    except OSError as error:
        seen[folder] = type(error).__name__
for folder in ["/", os.path.dirname(FOLDERS[0]), os.path.dirname(FOLDERS[1])]:
    try:
        seen["ls " + folder] = sorted(os.listdir(folder))
    except OSError as error:
        seen["ls " + folder] = type(error).__name__
print(json.dumps(seen))
"""


def test_kernel_sees_only_the_allow_list(tmp_path, canaries):
    # A read-only copy of / let a submission print files beside the checkout and in the
    # grader's home into its own feedback: they must not exist inside the sandbox at all.
    import dl_helpers

    work, ipc = tmp_path / "run" / "work", tmp_path / "run" / "ipc"
    prepare_dirs(work, ipc)
    code = CANARY_PROBE.replace("FOLDERS", repr([str(f) for f in canaries]))
    seen = asyncio.run(_run_in_sandbox(work, ipc, tmp_path / "nothing", code))
    for folder in canaries:
        assert seen[str(folder)] == "FileNotFoundError", f"{folder} is visible: {seen[str(folder)]}"
    listings = json.dumps({k: v for k, v in seen.items() if k.startswith("ls ")})
    assert "dl-course-canary" not in listings
    checkout = Path(dl_helpers.__file__).resolve().parents[1]
    for hidden in ("solutions", "tests", ".git", "README.md"):  # the checkout shows no more
        assert not os.path.lexists(checkout / hidden) or hidden not in seen.get(
            "ls " + str(checkout), []
        )
    assert set(seen["ls /"]) <= {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc",
                                 "dev", "proc", "tmp", *Path(sys.prefix).resolve().parts[1:2],
                                 *Path(sys.base_prefix).resolve().parts[1:2],
                                 *checkout.parts[1:2]}, seen["ls /"]  # fmt: skip


@pytest.fixture
def secret_in_environment():
    """A world-readable folder inside the environment (an allow-listed path), removed after."""
    folder = Path(tempfile.mkdtemp(prefix="dl-course-masked-", dir=Path(sys.prefix).resolve()))
    folder.chmod(0o755)
    (folder / "secret.txt").write_text("course folder inside the environment")
    (folder / "secret.txt").chmod(0o644)
    yield folder
    shutil.rmtree(folder)


def test_a_masked_folder_inside_an_allow_listed_path_is_hidden(tmp_path, secret_in_environment):
    # The allow-list shows the whole environment; a course or scratch folder that happens to
    # lie inside it must still be hidden (autograde masks them)
    work, ipc = tmp_path / "run" / "work", tmp_path / "run" / "ipc"
    prepare_dirs(work, ipc)
    folder = str(secret_in_environment)
    code = (
        "import json, os\nseen = {}\n"
        f"try:\n    seen['ls'] = os.listdir({folder!r})\n"
        "except OSError as error:\n    seen['ls'] = type(error).__name__\n"
        f"seen['read'] = os.path.exists(os.path.join({folder!r}, 'secret.txt'))\n"
        "print(json.dumps(seen))\n"
    )
    seen = asyncio.run(_run_in_sandbox(work, ipc, secret_in_environment, code))
    assert seen == {"ls": [], "read": False}


@pytest.mark.parametrize("as_nobody", [True, False], ids=["dropped-to-nobody", "uid-0-inside"])
def test_the_kernel_holds_no_capabilities_either_way(tmp_path, monkeypatch, as_nobody):
    # As root the kernel becomes nobody when nobody can read the environment; otherwise it
    # stays uid 0 inside bubblewrap, which must then drop every capability itself
    if os.geteuid() != 0:
        pytest.skip("only a grader running as root chooses between the two")
    if as_nobody and sandbox_uid() is None:
        pytest.skip("nobody cannot read this environment")
    if not as_nobody:
        monkeypatch.setattr("dl_course.sandbox.sandbox_uid", lambda: None)
    work, ipc = tmp_path / "run" / "work", tmp_path / "run" / "ipc"
    prepare_dirs(work, ipc)
    code = (
        "import json, os\nstatus = open('/proc/self/status').read()\n"
        "caps = {k: int(status.split(k + ':')[1].split()[0], 16)\n"
        "        for k in ('CapEff', 'CapPrm', 'CapBnd')}\n"
        "print(json.dumps({'uid': os.getuid(), **caps}))\n"
    )
    seen = asyncio.run(_run_in_sandbox(work, ipc, tmp_path / "nothing", code))
    assert seen["uid"] == (65534 if as_nobody else 0)
    assert seen["CapEff"] == seen["CapPrm"] == 0, seen


STATE = r"""
import json, sys
shell = get_ipython()
print(json.dumps({
    "loaded": [name in sys.modules for name in ("numpy", "numpy.linalg", "colorsys")],
    "names": sorted(n for n in shell.user_ns if not n.startswith("_")),
    "count": shell.execution_count,
}))
"""


async def _state(km) -> dict:
    client = km.client()
    client.start_channels()
    texts: list[str] = []
    try:
        await client.wait_for_ready(timeout=60)
        hook = lambda msg: texts.append(msg["content"].get("text", ""))  # noqa: E731
        await client.execute_interactive(STATE, timeout=60, output_hook=hook)
    finally:
        client.stop_channels()
        await km.shutdown_kernel(now=True)
    return json.loads("".join(texts).strip().splitlines()[-1])


def test_a_kernel_started_ahead_is_a_fresh_kernel_with_the_setup_modules_imported(tmp_path):
    from dl_course import warmup

    states = {}
    for kind in ("warm", "cold"):
        work, ipc = tmp_path / kind / "work", tmp_path / kind / "ipc"
        prepare_dirs(work, ipc)
        config = Config({"SandboxedKernelManager": {"work_dir": str(work), "ipc_dir": str(ipc)}})
        if kind == "warm":  # a name that is no module, and one that fails, are passed over
            modules = ["numpy", "numpy.linalg", "numpy.linspace", "no_such_module_3f9"]
            assert warmup.start(config, modules).result() is not None
            km = warmup.take()
            assert km is not None and warmup.take() is None  # handed over once
        else:  # as nbclient starts one
            km = SandboxedKernelManager(config=config)
            asyncio.run(km.start_kernel(extra_arguments=list(warmup.KERNEL_ARGUMENTS)))
        states[kind] = asyncio.run(_state(km))
    assert states["warm"]["loaded"] == [True, True, False]
    assert states["cold"]["loaded"][:2] == [False, False]
    # the same namespace and execution count as a kernel nobody warmed: no name left behind
    assert states["warm"]["names"] == states["cold"]["names"]
    assert states["warm"]["count"] == states["cold"]["count"]


@pytest.mark.parametrize("preamble, modules", [
    ("import numpy as np\nimport matplotlib.pyplot as plt", ["numpy", "matplotlib.pyplot"]),
    ("try:\n    from torch import nn, optim\nexcept ImportError:\n    pass",
     ["torch", "torch.nn", "torch.optim"]),
    ("from dl_helpers.checks import *\nimport numpy", ["dl_helpers.checks", "numpy"]),
    ("from . import sibling\nimport os, os.path\nimport os", ["os", "os.path"]),
])  # fmt: skip
def test_the_modules_a_setup_imports(preamble, modules):
    from dl_course import warmup

    assert warmup.modules_of(preamble) == modules


FONTS = """import json, os
from matplotlib import font_manager
fonts = font_manager.fontManager.ttflist
print(json.dumps({"marked": any(f.name == "Course Font List 7c1" for f in fonts),
                  "missing": [f.fname for f in fonts if not os.path.exists(f.fname)]}))
"""


def test_a_kernel_starts_from_the_courses_font_list_built_in_the_same_sandbox(tmp_path):
    from dl_course import fonts

    cache = tmp_path / "course" / ".cache"
    assert fonts.find(cache) is None
    built = fonts.build(cache, tmp_path / "scratch")
    assert built is not None and fonts.find(cache) == built
    assert built.name.startswith("fontlist-v")  # the name matplotlib looks for
    # A marked entry shows whether a kernel read this list or scanned the fonts itself
    listed = json.loads(built.read_text())
    listed["ttflist"].append({**listed["ttflist"][0], "name": "Course Font List 7c1"})
    built.write_text(json.dumps(listed))
    for font_list, marked in ((built, True), ("", False)):
        work, ipc = tmp_path / f"w{marked}", tmp_path / f"i{marked}"
        prepare_dirs(work, ipc)
        state = asyncio.run(
            _run_in_sandbox(work, ipc, tmp_path / "none", FONTS, font_list=str(font_list))
        )
        # every font it lists is one the kernel can open
        assert state == {"marked": marked, "missing": []}
    assert json.loads(built.read_text()) == listed  # the course's copy is never written


def test_the_grader_builds_the_font_list_once_per_course_and_gives_it_to_every_job(
    tmp_path, monkeypatch
):
    from datetime import UTC, datetime

    from dl_course import fonts, gradebook
    from dl_course.autograde import Grader, Limits
    from dl_course.intake import Submission
    from dl_course.layout import Assignment
    from tests.grading_fixtures import TINY, make_repo

    monkeypatch.setattr(Grader, "compute_expected", lambda self: self._write_expected("{}"))
    assignment = Assignment(make_repo(tmp_path / "repo"), TINY)
    course = tmp_path / "course"
    course.mkdir()
    url = gradebook.default_db_url(course)
    sub = Submission("ann", tmp_path / "ann.ipynb", None, datetime.now(UTC))
    listed = []
    for run in range(2):
        grader = Grader.open(assignment, course, url, Limits(), masked=[course])
        try:
            grader.prepare()
            if run == 0:  # built in the background: jobs made before it is ready go without
                grader.wait_until_ready()
                grader._background.shutdown(wait=True)
            listed.append(grader.job(sub, 0).font_list)
        finally:
            grader.close()
        monkeypatch.setattr(fonts, "build", lambda *a: pytest.fail("built twice"))
    assert listed == [str(fonts.find(course / ".cache"))] * 2


def test_nbgrader_prepares_before_the_turn_and_student_code_runs_only_in_it(tmp_path):
    # A worker started ahead reads and sanitizes its submission while the previous one runs,
    # but neither kernel runs a line of it before the parent gives the worker its turn.
    import time
    from datetime import UTC, datetime

    import nbformat

    from dl_course import gradebook
    from dl_course.autograde import Grader, Limits
    from dl_course.intake import Submission
    from dl_course.layout import Assignment
    from tests.grading_fixtures import TINY, make_repo

    repo = make_repo(tmp_path / "repo")
    nb = nbformat.read(repo / "solutions" / TINY / f"{TINY}.ipynb", as_version=4)
    nb.cells[3].source += '\n\nopen("student-code-ran", "a").write("ran\\n")'
    nbformat.write(nb, tmp_path / "sub.ipynb")
    course = tmp_path / "course"
    course.mkdir()
    url = gradebook.default_db_url(course)
    grader = Grader.open(Assignment(repo, TINY), course, url, Limits(), masked=[course])
    started = None
    try:
        grader.prepare()
        job = grader.job(Submission("ann", tmp_path / "sub.ipynb", None, datetime.now(UTC)), 0)
        log = tmp_path / "ann.log"
        started = grader.start_worker(job, log)
        deadline = time.monotonic() + 60
        while "Autograding" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, "nbgrader's first steps did not run ahead"
            time.sleep(0.1)
        time.sleep(1.0)  # the kernels have started meanwhile; a cell would have run by now
        ran = Path(job.work_root) / "work" / "student-code-ran"
        assert not ran.exists() and started.process.is_alive()
        result = grader.run_worker(started)
        grader.wait_until_ready()
        assert result.failed is None and result.scores == {
            "test_square": [2.0, 2.0], "test_relu": [3.0, 3.0]
        }  # fmt: skip
        assert result.verified == {"test_square": None, "test_relu": None}
        assert ran.read_text() == "ran\n"  # once: the verification kernel works elsewhere
    finally:
        if started is not None:  # a worker still waiting for its turn (the test failed)
            started.discard()
        grader.close()
