"""Grading parts on their own, fast: the typed hand-offs between parent and worker, worker
processes at their time limit, and this course's nbgrader preprocessors."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from dl_course import processes, worker
from dl_course.jobs import ExecutionReport, Job, Limits, TamperPlan, VerifyPlan, WorkerResult
from dl_course.preprocessors import (
    DropEmptyNbgraderMetadata,
    RelabelStderr,
    ScoreTable,
    ScrubHiddenTracebacks,
)
from dl_course.verify import NOTE_KEY, Probe


def _job(tmp_path: Path) -> Job:
    probe = Probe("test_relu", "def graded_values(rng, rtol=1e-6, atol=0):\n    return 1",
                  1e-6, 0.0, 1e-4, 1e-5, ("torch",))  # fmt: skip
    return Job(
        assignment="00_tiny",
        student_id="alice",
        notebook=str(tmp_path / "alice.ipynb"),
        timestamp="2026-01-01T12:00:00+00:00",
        template=str(tmp_path / "template"),
        work_root=str(tmp_path / "run"),
        out_dir=str(tmp_path / "out"),
        result_path=str(tmp_path / "result.json"),
        limits=Limits(timeout=7, cell_timeout=3, memory_mb=512),
        masked=["/secret"],
        unsafe=False,
        test_ids=["test_square", "test_relu"],
        tamper=TamperPlan(["numpy"], {"np": "numpy"}, {"numpy": "/x/numpy/__init__.py"}),
        verify=VerifyPlan(
            seed=2**100 + 7,
            nonce="n0nce",
            expected=str(tmp_path / "expected.json"),
            probes=[probe],
            answer_ids=["square", "relu"],
            preamble="import numpy as np",
            blocker=str(tmp_path / "blocker.py"),
            packages={"torch": ["/x/torch"]},
        ),  # fmt: skip
        font_list=str(tmp_path / "fonts" / "fontlist-v3.json"),
    )


def test_every_hand_off_survives_its_json_round_trip(tmp_path):
    job = _job(tmp_path)
    assert Job.from_json(job.to_json()) == job
    assert Job.from_json(job.to_json()).verify.probes[0].allow == ("torch",)
    result = WorkerResult(
        scores={"test_relu": [3.0, 3.0]}, failed=None, flags=["a static flag"],
        tampering=["numpy.allclose replaced"], verified={"test_relu": "wrong values"},
        autograded=str(tmp_path / "graded.ipynb"),
    )  # fmt: skip
    assert WorkerResult.from_json(result.to_json()) == result
    report = ExecutionReport(died=None, error=None, probes=[("start", {"ids": {}}), ("t", None)])
    assert ExecutionReport.from_json(report.to_json()) == report
    assert WorkerResult.failure("why") == WorkerResult(failed="why")


def test_both_kernels_of_a_worker_start_from_the_jobs_font_list(tmp_path, monkeypatch):
    job = _job(tmp_path)
    config = worker.autograde_config(job, tmp_path / "course", tmp_path / "w", tmp_path / "i")
    assert config.SandboxedKernelManager.font_list == job.font_list
    made = []
    monkeypatch.setattr("dl_course.verify.Verifier", lambda *args: made.append(args[2]))
    worker._start_verifier(job, tmp_path / "run")
    assert [str(settings.font_list) for settings in made] == [job.font_list]
    no_list = Job.from_json(job.to_json().replace(json.dumps(job.font_list), "null"))
    assert no_list.font_list is None  # none built yet: the kernels scan the fonts themselves
    config = worker.autograde_config(no_list, tmp_path / "c", tmp_path / "w", tmp_path / "i")
    assert config.SandboxedKernelManager.font_list == ""


def _detached_sleep() -> None:
    """Sleep as a kernel stand-in, off pytest's output pipes (a survivor must not hold them)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    time.sleep(120)
    os._exit(0)


def _sleeps_forever(job_path: str, log_path: str, turn) -> None:
    os.setsid()
    child = os.fork()  # a grandchild (as a kernel would be): killed with the group
    Path(job_path).with_name("grandchild.pid").write_text(str(child if child else os.getpid()))
    _detached_sleep()


def _exits(job_path: str, log_path: str, turn) -> None:
    os._exit(3)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


@pytest.mark.parametrize("body, reason", [(_sleeps_forever, "time limit of 2 s"),
                                          (_exits, "the grader crashed (exit status 3)")],
                         ids=["time-limit", "crash"])  # fmt: skip
def test_a_worker_past_its_time_is_killed_with_its_group(tmp_path, monkeypatch, body, reason):
    monkeypatch.setattr("dl_course.worker.run_job", body)  # fork: the child sees the stub
    job = _job(tmp_path)
    start = time.monotonic()
    started = processes.start_worker(multiprocessing.get_context("fork"), job, tmp_path / "log.txt")
    result = processes.run_worker(started, timeout=2)
    assert result.failed.startswith(reason) and result.scores == {}
    assert time.monotonic() - start < 30
    pid_file = tmp_path / "grandchild.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text())
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), "the worker's process group must be killed, not just the worker"


def _prepares_then_works(prepare: float, work: float):
    """A worker body that prepares for ``prepare`` seconds, waits for its turn, then works
    for ``work`` seconds and leaves a result."""

    def body(job_path: str, log_path: str, turn) -> None:
        os.setsid()
        time.sleep(prepare)
        turn.recv()
        time.sleep(work)
        job = Job.from_json(Path(job_path).read_text())
        Path(job.result_path).write_text(WorkerResult(scores={"t": [1.0, 1.0]}).to_json())

    return body


@pytest.mark.parametrize("work, reason", [(0.2, None), (4.0, "time limit of 2 s")])
def test_the_time_limit_counts_from_the_turn_not_from_the_start(tmp_path, monkeypatch, work,
                                                                 reason):  # fmt: skip
    # 2.5 s of preparing (kernels starting ahead) is not the submission's time; 4 s of work is
    monkeypatch.setattr("dl_course.worker.run_job", _prepares_then_works(2.5, work))
    started = processes.start_worker(multiprocessing.get_context("fork"), _job(tmp_path),
                                     tmp_path / "log.txt")  # fmt: skip
    time.sleep(3.0)
    result = processes.run_worker(started, timeout=2)
    assert result.failed == (reason and f"{reason} for the submission exceeded")
    assert result.scores == ({} if reason else {"t": [1.0, 1.0]})


def _prepare_with_a_grandchild(job: Job) -> worker.Prepared:
    """Stands in for ``worker.prepare``: starts a grandchild, as the kernels are (and no
    verification kernel)."""
    child = os.fork()
    if child == 0:
        _detached_sleep()
    Path(job.result_path).with_name("grandchild.pid").write_text(str(child))
    root = Path(job.work_root)
    return worker.Prepared(root / "course", root / "work", root / "ipc", verifier=None)


def _grandchild(tmp_path: Path) -> int:
    pid_file = tmp_path / "grandchild.pid"
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return int(pid_file.read_text())


def _gone(pid: int, seconds: float = 10) -> bool:
    """Whether ``pid`` ends within ``seconds``; it is killed either way."""
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    gone = not _alive(pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return gone


def test_a_worker_never_given_its_turn_is_killed_with_its_kernels(tmp_path, monkeypatch):
    monkeypatch.setattr("dl_course.worker.prepare", _prepare_with_a_grandchild)
    started = processes.start_worker(multiprocessing.get_context("fork"), _job(tmp_path),
                                     tmp_path / "log.txt")  # fmt: skip
    grandchild = _grandchild(tmp_path)
    started.discard()  # the run ended (or failed) before this worker's turn
    assert _gone(grandchild) and not started.process.is_alive()


def test_a_waiting_worker_whose_parent_is_gone_kills_its_session(tmp_path, monkeypatch):
    # The parent's end of the pipe closes when the parent dies: the worker reads EOF. (This
    # worker's submission cannot be read: its failure, too, waits for a turn that never comes.)
    monkeypatch.setattr("dl_course.worker.prepare", _prepare_with_a_grandchild)
    job = _job(tmp_path)
    job_path = tmp_path / "job.json"
    job_path.write_text(job.to_json())
    waiting, turn = multiprocessing.Pipe(duplex=False)
    pid = os.fork()
    if pid == 0:  # the worker; it must not hold the parent's end itself
        turn.close()
        try:
            worker.run_job(str(job_path), str(tmp_path / "log.txt"), waiting)
        finally:
            os._exit(0)
    waiting.close()
    grandchild = _grandchild(tmp_path)
    turn.close()  # the parent "dies"
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert _gone(grandchild) and not Path(job.result_path).exists()


class _Starts:
    """Stands in for starting workers: records which keys were started, in order."""

    def __init__(self) -> None:
        self.order: list[int] = []
        self.discarded: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, key):
        with self.lock:
            self.order.append(key)
        return SimpleNamespace(key=key, discard=lambda: self.discarded.append(key))


def test_ahead_keeps_one_worker_started_ahead_in_order():
    starts = _Starts()
    ahead = processes.Ahead(starts, [3, 5, 8, 9])
    assert starts.order == []  # nothing before the first turn
    assert ahead.take(3).key == 3 and starts.order == [3, 5]  # 5 prepares while 3 runs
    assert ahead.take(5).key == 5 and starts.order == [3, 5, 8]
    assert ahead.take(9).key == 9 and starts.order == [3, 5, 8, 9]  # 9 out of turn: now
    ahead.close()
    assert starts.discarded == [8]  # started ahead, never taken: killed


def test_ahead_starts_each_worker_once_under_concurrent_takes():
    starts = _Starts()
    keys = list(range(40))
    ahead = processes.Ahead(starts, keys)
    with ThreadPoolExecutor(max_workers=4) as pool:
        taken = list(pool.map(lambda k: ahead.take(k).key, keys))
    ahead.close()
    assert taken == keys and sorted(starts.order) == keys and starts.discarded == []


def _cell(source: str, outputs: list, **nbgrader) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = outputs
    if nbgrader:
        cell.metadata["nbgrader"] = nbgrader
    return cell


def test_stderr_of_a_test_cell_is_shown_as_output_not_scored_as_failure():
    stderr = nbformat.v4.new_output("stream", name="stderr", text="warning\n")
    test = _cell("assert True", [stderr], grade=True, solution=False, grade_id="t", points=1)
    answer = _cell("x = 1", [nbformat.v4.new_output("stream", name="stderr", text="w\n")],
                   grade=False, solution=True, grade_id="a")  # fmt: skip
    for cell in (test, answer):
        RelabelStderr().preprocess_cell(cell, {}, 0)
    assert test.outputs[0]["name"] == "stdout" and answer.outputs[0]["name"] == "stderr"


def test_hidden_test_tracebacks_are_reduced_to_the_message():
    error = nbformat.v4.new_output(
        "error", ename="AssertionError", evalue="relu must clip",
        traceback=["assert hidden_probe_relu(x)", "AssertionError: relu must clip"],
    )  # fmt: skip
    hidden = _cell("### BEGIN HIDDEN TESTS\nassert hidden_probe_relu(x)\n### END HIDDEN TESTS",
                   [error], grade=True, solution=False, grade_id="t", points=1)  # fmt: skip
    ScrubHiddenTracebacks().preprocess_cell(hidden, {}, 0)
    assert hidden.outputs[0]["traceback"] == ["AssertionError: relu must clip"]


def test_score_table_lists_every_test_with_its_note():
    nb = nbformat.v4.new_notebook()
    a = _cell("", [], grade=True, solution=False, grade_id="test_a", points=2, score=2)
    b = _cell("", [], grade=True, solution=False, grade_id="test_b", points=3, score=0)
    b.metadata[NOTE_KEY] = "0/3: wrong | values <here>"
    nb.cells = [a, b]
    nb, _ = ScoreTable().preprocess(nb, {"nbgrader": {"score": 2, "max_score": 5}})
    table = nb.cells[0].source
    assert "## Your score: 2 / 5" in table
    assert "| `test_a` | 2 | 2 |  |" in table
    assert "| `test_b` | 0 | 3 | 0/3: wrong \\| values &lt;here> |" in table


def test_empty_nbgrader_metadata_is_dropped():
    cell = _cell("x = 1", [])
    cell.metadata["nbgrader"] = {}
    DropEmptyNbgraderMetadata().preprocess_cell(cell, {}, 0)
    assert "nbgrader" not in cell.metadata


def test_an_edited_assignment_gets_a_template_of_its_own(tmp_path):
    from dl_course.layout import Assignment
    from dl_course.template import cached_template
    from tests.grading_fixtures import TINY, make_repo

    repo = make_repo(tmp_path / "repo")
    assignment = Assignment(repo, TINY)
    course = tmp_path / "course"
    (tmp_path / "a").mkdir()
    first = cached_template(assignment, course, tmp_path / "a")
    (tmp_path / "b").mkdir()
    assert cached_template(assignment, course, tmp_path / "b") == first  # cached
    source = assignment.source_notebook
    nb = nbformat.read(source, as_version=4)
    nb.cells[4].metadata["nbgrader"]["points"] = 4  # test_square: 2 -> 4 points
    nbformat.write(nb, source)
    (tmp_path / "c").mkdir()
    second = cached_template(assignment, course, tmp_path / "c")
    assert second != first
    copied = second / "solutions" / TINY / f"{TINY}.ipynb"
    assert copied.read_bytes() == source.read_bytes()
