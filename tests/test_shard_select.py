"""``--shard K/N``: which submissions a grader takes (fast; the workers are stubbed)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from types import SimpleNamespace

import nbformat
import pytest

from dl_course.autograde import Grader, autograde
from dl_course.cli import main
from dl_course.jobs import WorkerResult
from dl_course.layout import Assignment
from dl_course.shard import Shard
from tests.grading_fixtures import TINY, make_repo

IDS = [f"student{i:04d}" for i in range(3000)]


@pytest.mark.parametrize(
    ("text", "message"),
    [("3/3", "0 <= K < N"), ("-1/3", "is not K/N"), ("0/0", "N >= 1"), ("a/b", "is not K/N"),
     ("2", "is not K/N"), ("1/2/3", "is not K/N")],
)  # fmt: skip
def test_a_wrong_shard_is_refused_with_the_reason(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        Shard.parse(text)


def test_the_command_line_refuses_a_wrong_shard(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["autograde", TINY, "subs", "--shard", "4/4"])
    assert stop.value.code == 2
    assert "argument --shard: shard 4/4: need N >= 1 and 0 <= K < N" in capsys.readouterr().err


def test_shards_are_disjoint_cover_the_class_and_are_balanced():
    for count in (1, 2, 3, 7):
        shards = [Shard(k, count) for k in range(count)]
        owners = [[s.index for s in shards if s.owns(student)] for student in IDS]
        assert all(len(o) == 1 for o in owners)  # each submission in exactly one shard
        sizes = [sum(o == [k] for o in owners) for k in range(count)]
        assert max(sizes) - min(sizes) < 0.12 * len(IDS) / count, sizes


def test_the_split_is_sha256_of_the_id_on_every_machine():
    # Pinned: int(sha256(id)[:8]) mod N, the same in any process (not Python's salted hash)
    expected = {"ana": 1, "ben": 2, "cleo": 1, "dev": 1, "eva": 0}
    assert {s: next(k for k in range(3) if Shard(k, 3).owns(s)) for s in expected} == expected
    names = list(expected)
    code = f"from dl_course.shard import Shard; print([Shard(1, 3).owns(s) for s in {names!r}])"
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ,
                             "PYTHONHASHSEED": seed}, capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
        assert out.strip() == str([k == 1 for k in expected.values()])


def test_autograde_grades_its_shard_only(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "repo")
    graded: list[str] = []

    def start(context, job, log_path):
        return SimpleNamespace(job=job, discard=lambda: None)

    def run(started, timeout):
        graded.append(started.job.student_id)
        return WorkerResult({"test_square": [2.0, 2.0], "test_relu": [3.0, 3.0]},
                            verified={"test_square": None, "test_relu": None})  # fmt: skip

    monkeypatch.setattr("dl_course.processes.start_worker", start)
    monkeypatch.setattr("dl_course.processes.run_worker", run)
    monkeypatch.setattr(Grader, "compute_expected", lambda self: self._write_expected("{}"))
    source = nbformat.read(repo / "solutions" / TINY / f"{TINY}.ipynb", as_version=4)
    students = ["ana", "ben", "cleo", "dev", "eva"]
    for student in students:
        (tmp_path / "subs" / student).mkdir(parents=True)
        nbformat.write(source, tmp_path / "subs" / student / f"{TINY}.ipynb")
    summary = autograde(Assignment(repo, TINY), tmp_path / "subs", tmp_path / "course",
                        unsafe=True, progress=False, shard=Shard(1, 3))  # fmt: skip
    assert sorted(graded) == ["ana", "cleo", "dev"]
    assert summary.lines()[0] == "shard 1/3: 3 of 5 submissions"
    # A submission added later joins one shard (kai's is 1); the others keep theirs
    (tmp_path / "subs" / "kai").mkdir()
    nbformat.write(source, tmp_path / "subs" / "kai" / f"{TINY}.ipynb")
    graded.clear()
    summary = autograde(Assignment(repo, TINY), tmp_path / "subs", tmp_path / "course",
                        unsafe=True, progress=False, shard=Shard(1, 3))  # fmt: skip
    assert graded == ["kai"]  # ana, cleo and dev are recorded and unchanged: skipped
    assert summary.lines()[0] == "shard 1/3: 4 of 6 submissions"
