"""Graders on several machines, one PostgreSQL gradebook: the command deploy/ runs, for real.

Each grader is a separate ``dl-course autograde --shard K/N --db postgresql://...`` process
(its own kernels, sandboxes and database connections, as on its own machine), all sharing a
course folder as the tasks of a Slurm array share a file system. Their union must equal one
``--jobs 2`` run on SQLite; a grader killed mid-run and started again must end with the same
gradebook; a submission given to two graders must end as one result.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
import sqlalchemy as sa

from dl_course.shard import Shard
from tests.grading_fixtures import TINY, make_repo
from tests.pg_server import postgres_server, postgres_url  # noqa: F401
from tests.sandbox_tool import require_bwrap
from tests.test_shard_deploy import autograde_argv

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent

WRONG_RELU = "def relu(x):\n    return x"
NOISY = (
    "import sys\ndef relu(x):\n    print('working', file=sys.stderr)\n    return np.maximum(x, 0)"
)
# Nine students, three per shard of 3 (by the hash of the id), every outcome the grader has
CLASS = {
    "ana": "correct", "cleo": "not json", "dev": WRONG_RELU,  # shard 1/3
    "ben": WRONG_RELU, "finn": "correct", "gus": "kernel dies",  # shard 2/3
    "eva": "misnamed", "hana": NOISY, "ivo": "correct",  # shard 0/3
}  # fmt: skip
EXPECTED = {  # score, status (first word)
    "ana": (5.0, "graded"), "ben": (2.0, "graded"), "cleo": (0.0, "failed"),
    "dev": (2.0, "graded"), "eva": (5.0, "flagged"), "finn": (5.0, "graded"),
    "gus": (0.0, "failed"), "hana": (5.0, "graded"), "ivo": (5.0, "graded"),
}  # fmt: skip
STAMP = "2026-03-01 12:00:00.000000 UTC"


def _write_class(repo: Path, dest: Path, students: dict[str, str]) -> Path:
    source = nbformat.read(repo / "solutions" / TINY / f"{TINY}.ipynb", as_version=4)
    for student, kind in students.items():
        folder = dest / student
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text(STAMP)
        name = "my_homework.ipynb" if kind == "misnamed" else f"{TINY}.ipynb"
        if kind == "not json":
            (folder / name).write_text("{ not json")
            continue
        nb = nbformat.from_dict(source)
        if kind == "kernel dies":
            nb.cells[1].source = "import os\nos._exit(1)"  # the setup cell
        elif kind not in ("correct", "misnamed"):
            for cell in nb.cells:
                if cell.metadata.get("nbgrader", {}).get("grade_id") == "relu":
                    cell.source = kind
        nbformat.write(nb, folder / name)
    return dest


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The repository, the class, a private TMPDIR for the graders (a killed grader leaves
    its scratch folder there) and the reference gradebook: one ``--jobs 2`` run on SQLite."""
    require_bwrap()
    root = tmp_path_factory.mktemp("shards")
    repo = make_repo(root / "repo")
    subs = _write_class(repo, root / "subs", CLASS)
    scratch = Path(tempfile.mkdtemp(prefix="dl-course-shards-", dir="/tmp"))
    scratch.chmod(0o755)  # the sandbox's user reaches its folders below it
    env = {**os.environ, "TMPDIR": str(scratch), "MPLBACKEND": "Agg"}
    started = time.monotonic()
    done = _grader(repo, env, [TINY, str(subs), "--jobs", "2", "--course-dir", "reference"])
    assert done.returncode == 0, done.stderr[-3000:]
    reference = _rows(repo, env, "--course-dir", "reference")
    print(f"reference: --jobs 2 on SQLite, 9 submissions: {time.monotonic() - started:.1f} s")
    assert {s: (r["score"], r["status"].split(":")[0]) for s, r in reference.items()} == EXPECTED
    yield repo, subs, env, reference
    shutil.rmtree(scratch, ignore_errors=True)


def _grader(repo: Path, env: dict, args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "dl-course"), "autograde", *args], cwd=repo, env=env,
                          capture_output=True, text=True, check=False, **kw)  # fmt: skip


def _rows(repo: Path, env: dict, *where: str) -> dict:
    """The grade table: ``{student: row}`` (score, status, exercises, notes)."""
    done = subprocess.run([str(BIN / "dl-course"), "grades", "--json", *where], cwd=repo,
                          env=env, capture_output=True, text=True, check=True)  # fmt: skip
    rows = json.loads(done.stdout)
    assert len({r["student"] for r in rows}) == len(rows), "a student graded twice"
    return {r["student"]: {k: r[k] for k in ("score", "status", "exercises", "notes")}
            for r in rows}  # fmt: skip


def _start(repo: Path, env: dict, argv: list[str]) -> subprocess.Popen:
    """Start one grader (its own process group, as on its own machine)."""
    assert argv[0] == "dl-course"
    return subprocess.Popen([str(BIN / "dl-course"), *argv[1:]], cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip


def _consistent(url: str) -> dict[str, int]:
    """Per student, the number of submission rows, and check every recorded result is whole:
    a status row exactly when a submission row, each with all its grade rows."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        subs = dict(conn.execute(sa.text(
            "SELECT student_id, count(*) FROM submitted_assignment GROUP BY student_id")).all())
        statuses = dict(conn.execute(sa.text(
            "SELECT student_id, count(*) FROM dl_grading_status GROUP BY student_id")).all())
        grades = dict(conn.execute(sa.text(
            "SELECT s.student_id, count(*) FROM grade g JOIN submitted_notebook n "
            "ON n.id = g.notebook_id JOIN submitted_assignment s ON s.id = n.assignment_id "
            "GROUP BY s.student_id")).all())  # fmt: skip
    engine.dispose()
    assert subs == statuses, "a submission without its status, or a status without grades"
    assert grades == {s: 2 * n for s, n in subs.items()}, "grade rows missing or doubled"
    return subs


def test_three_shards_at_once_equal_one_run(course, postgres_url):  # noqa: F811
    repo, subs, env, reference = course
    split = {k: sorted(s for s in CLASS if Shard(k, 3).owns(s)) for k in range(3)}
    assert [len(v) for v in split.values()] == [3, 3, 3]
    started = time.monotonic()
    graders = [_start(repo, env, autograde_argv(TINY, str(subs), f"{k}/3", postgres_url,
                                                "shared-course", 1)) for k in range(3)]  # fmt: skip
    outputs = [g.communicate(timeout=900) for g in graders]
    elapsed = time.monotonic() - started
    print(f"3 shards at once on PostgreSQL: {elapsed:.1f} s")
    for k, (grader, (out, err)) in enumerate(zip(graders, outputs, strict=True)):
        assert grader.returncode == 0, err[-3000:]
        assert f"shard {k}/3: 3 of 9 submissions" in out
    assert _consistent(postgres_url) == dict.fromkeys(CLASS, 1)
    assert _rows(repo, env, "--db", postgres_url) == reference
    for student in CLASS:  # every shard wrote its students' graded notebooks for feedback
        assert (repo / "shared-course" / "submitted" / student / TINY).is_dir()


def test_a_killed_grader_run_again_ends_with_the_same_gradebook(course, postgres_url):  # noqa: F811
    repo, subs, env, reference = course
    argv = autograde_argv(TINY, str(subs), "0/1", postgres_url, "killed-course", 1)
    grader = _start(repo, env, argv)
    engine = sa.create_engine(postgres_url)
    recorded = 0
    deadline = time.monotonic() + 600
    while recorded < 3 and time.monotonic() < deadline and grader.poll() is None:
        time.sleep(0.2)
        with engine.connect() as conn:
            if sa.inspect(conn).has_table("dl_grading_status"):
                recorded = conn.execute(sa.text("SELECT count(*) FROM dl_grading_status")).scalar()
    engine.dispose()
    assert grader.poll() is None, "the grader finished before it could be killed"
    os.killpg(grader.pid, signal.SIGKILL)  # the machine goes away: no clean-up of any kind
    grader.communicate()
    partial = _consistent(postgres_url)
    assert 3 <= len(partial) < len(CLASS)
    done = _grader(repo, env, argv[2:])
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"unchanged (skipped) {len(partial)}" in done.stdout  # resumed, not redone
    assert _consistent(postgres_url) == dict.fromkeys(CLASS, 1)
    assert _rows(repo, env, "--db", postgres_url) == reference


def test_a_submission_given_to_two_graders_ends_as_one_result(course, postgres_url, tmp_path):  # noqa: F811
    repo, subs, env, reference = course
    # Two graders' submission folders overlap in ana and ben (the same files)
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, students in ((first, ("ana", "ben", "cleo")), (second, ("ana", "ben", "dev"))):
        for student in students:
            shutil.copytree(subs / student, folder / student)
    graders = [_start(repo, env, autograde_argv(TINY, str(folder), "0/1", postgres_url,
                                                "shared-course-2", 1))
               for folder in (first, second)]  # fmt: skip
    for grader in graders:
        out, err = grader.communicate(timeout=900)
        assert grader.returncode == 0, err[-3000:]
    assert _consistent(postgres_url) == dict.fromkeys(["ana", "ben", "cleo", "dev"], 1)
    rows = _rows(repo, env, "--db", postgres_url)
    assert rows == {s: reference[s] for s in ("ana", "ben", "cleo", "dev")}
