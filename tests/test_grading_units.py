"""Grading parts on their own, fast: the typed hand-offs between parent and worker, worker
processes at their time limit, and this course's nbgrader preprocessors."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import nbformat
import pytest

from dl_course import processes
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
        queued_at=12.5,
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


def _sleeps_forever(job_path: str, log_path: str) -> None:
    os.setsid()
    child = os.fork()  # a grandchild (as a kernel would be): killed with the group
    Path(job_path).with_name("grandchild.pid").write_text(str(child if child else os.getpid()))
    time.sleep(600)


def _exits(job_path: str, log_path: str) -> None:
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
    result = processes.run_worker(
        multiprocessing.get_context("fork"), job, tmp_path / "log.txt", timeout=2
    )
    assert result.failed.startswith(reason) and result.scores == {}
    assert time.monotonic() - start < 30
    pid_file = tmp_path / "grandchild.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text())
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), "the worker's process group must be killed, not just the worker"


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
