"""deploy/ runs exactly the grader command the shard tests run (tests/test_shard_postgres.py).

The Slurm script is executed with a stand-in ``dl-course`` that records its arguments; the
Kubernetes manifest's command is expanded as the kubelet does (``$(VAR)`` from the container's
environment); the Dockerfile is checked for what the command needs in the image.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SLURM = ROOT / "deploy" / "slurm" / "autograde.sbatch"
JOB = ROOT / "deploy" / "kubernetes" / "autograde-job.yaml"


def autograde_argv(
    assignment: str, submissions: str, shard: str, db: str, course_dir: str, jobs: int
) -> list[str]:
    """The one grader command line: deploy/ runs it on every machine, the shard tests run it."""
    return [
        "dl-course", "autograde", assignment, submissions, "--shard", shard, "--db", db,
        "--course-dir", course_dir, "--jobs", str(jobs),
    ]  # fmt: skip


def _run_slurm(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the sbatch script as a Slurm array task would, with a recording dl-course."""
    submit = tmp_path / "checkout"
    fake = submit / ".venv" / "bin" / "dl-course"
    fake.parent.mkdir(parents=True)
    fake.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        "print(json.dumps(['dl-course', *sys.argv[1:]]))\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    base = {"PATH": os.environ["PATH"], "SLURM_SUBMIT_DIR": str(submit)}
    return subprocess.run(
        ["bash", str(SLURM), "01_activation_functions", "/shared/subs01"],
        env={**base, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_slurm_script_parses():
    subprocess.run(["bash", "-n", str(SLURM)], check=True)
    assert "#SBATCH" in SLURM.read_text()


def test_slurm_array_task_runs_the_tested_command(tmp_path):
    db = "postgresql://grader@db.example.edu/dl_course"
    done = _run_slurm(
        tmp_path,
        {"DL_COURSE_DB": db, "SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "3",
         "SLURM_ARRAY_TASK_MIN": "0", "SLURM_CPUS_PER_TASK": "2"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == autograde_argv(
        "01_activation_functions", "/shared/subs01", "2/3", db, "course", 2
    )


def test_slurm_rerun_of_one_task_keeps_the_shard_count(tmp_path):
    """``sbatch --array=4`` alone: the count comes from DL_COURSE_SHARDS, not the array."""
    done = _run_slurm(
        tmp_path,
        {"DL_COURSE_DB": "postgresql://g@h/d", "SLURM_ARRAY_TASK_ID": "4",
         "SLURM_ARRAY_TASK_COUNT": "1", "SLURM_ARRAY_TASK_MIN": "4", "DL_COURSE_SHARDS": "10"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[4:6] == ["--shard", "4/10"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "3"}, "DL_COURSE_DB"),
        ({"DL_COURSE_DB": "postgresql://g@h/d"}, "--array"),
        ({"DL_COURSE_DB": "postgresql://g@h/d", "SLURM_ARRAY_TASK_ID": "1",
          "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1"}, "numbered from 0"),
    ],
)  # fmt: skip
def test_slurm_script_refuses_a_wrong_submission(tmp_path, env, message):
    done = _run_slurm(tmp_path, env)
    assert done.returncode != 0 and message in done.stderr
    assert done.stdout == ""  # the grader never started


def _expand(value: str, env: dict[str, str]) -> str:
    """The kubelet's ``$(VAR)`` expansion of command and args."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env[m[1]], value)


def test_kubernetes_indexed_job_runs_the_tested_command():
    job = yaml.safe_load(JOB.read_text())
    spec = job["spec"]
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert spec["completionMode"] == "Indexed"
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    shards = int(env["DL_COURSE_SHARDS"]["value"])
    assert spec["completions"] == spec["parallelism"] == shards
    index = env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert index == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    # The gradebook URL (with its password) comes from a Secret, never from the manifest
    assert env["DL_COURSE_DB"]["valueFrom"]["secretKeyRef"] == {
        "name": "dl-course-gradebook", "key": "url"
    }  # fmt: skip
    db = "postgresql://grader:pw@postgres.example.svc/dl_course"
    values = {"ASSIGNMENT": env["ASSIGNMENT"]["value"], "DL_COURSE_SHARDS": str(shards),
              "JOB_COMPLETION_INDEX": "3", "DL_COURSE_DB": db}  # fmt: skip
    argv = [_expand(v, values) for v in container["command"] + container["args"]]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["submissions"]["readOnly"] is True
    assert argv == autograde_argv(
        "01_activation_functions", mounts["submissions"]["mountPath"], f"3/{shards}", db,
        mounts["course"]["mountPath"], 2,
    )  # fmt: skip
    # The grader runs in the checkout the Dockerfile installs (find_root needs solutions/)
    workdir = re.search(r"^WORKDIR (\S+)$", (ROOT / "Dockerfile").read_text(), re.M)[1]
    assert container["workingDir"] == workdir
    # bubblewrap needs mounts and a fresh /proc: see the manifest's comment
    assert container["securityContext"] == {"privileged": True}
    assert int(container["resources"]["requests"]["cpu"]) == 2  # = --jobs 2


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker's build context leaves ``path`` out, for the pattern forms used here:
    a path from the context root (``*`` globs allowed) excludes it and all below it; a
    ``**/`` prefix matches at any depth."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        anywhere = pattern.startswith("**/")
        pattern = pattern.removeprefix("**/")
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix.rsplit("/", 1)[-1] if anywhere else prefix, pattern):
                return True
    return False


def test_dockerfile_builds_the_pinned_environment_with_the_sandbox_tools():
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] in ("FROM python:3.11-slim-bookworm", "FROM debian:bookworm")
    assert re.search(r"apt-get install [^\n]*bubblewrap util-linux", text)
    assert "==" not in "\n".join(lines), "pins live in pyproject.toml only"
    assert 'tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]' in text
    assert "pip install --no-deps -e ." in text
    assert lines[-2:] == ['ENTRYPOINT ["dl-course"]', 'CMD ["--help"]']
    # The pins the image installs are the ones the tests run with
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(p.startswith("psycopg==") for p in pins)


def test_dockerignore_keeps_what_the_grader_reads():
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]  # fmt: skip
    needed = [
        str(p.relative_to(ROOT)) for folder in ("solutions", "dl_helpers", "dl_course")
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and not {"__pycache__", ".ipynb_checkpoints"} & set(p.parts)
    ]  # fmt: skip
    needed += ["pyproject.toml", "README.md"]
    assert [p for p in needed if _dockerignored(p, patterns)] == []
    for left_out in (".venv/bin/python", ".git/HEAD", "course/gradebook.db", "tests/x.py",
                     "dl_helpers/__pycache__/a.pyc", "dl_helpers.egg-info/PKG-INFO"):  # fmt: skip
        assert _dockerignored(left_out, patterns), left_out
