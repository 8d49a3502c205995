"""The expected values of an assignment, cached in the course folder with their secret seed.

Every submission's values are compared with the solution's, computed by the same
verification run (``verify``) on the same secret inputs, which derive from a seed. Computing
them takes a sandboxed kernel (about 1.2 s of CPU for notebook 01), so a course folder keeps
them with the seed that made them in ``.cache/<assignment>-expected-<key>.json``, and a later
run with the same key reuses both and starts no kernel for them.

The key covers everything the values depend on: the assignment's source folder, the code the
verification runs (``dl_course`` and ``dl_helpers``), every installed package's version and
the machine (CPU model and instruction sets pick different floating-point kernels). A
changed key means a new file; a file that cannot be read is recomputed, never trusted.

The seed must stay secret from submissions: the file is readable by its owner only, and the
course folder is hidden from every sandboxed kernel (``autograde`` masks it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import dl_course
import dl_helpers
from dl_course import cache
from dl_course.layout import Assignment


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


@functools.cache
def _environment() -> bytes:
    """The grading code, the installed packages and the machine, as bytes to hash (the same
    for every assignment of a run)."""
    sha = hashlib.sha256()
    for package in (dl_course, dl_helpers):
        folder = Path(package.__file__).parent
        for path in _sources(folder):
            sha.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    versions = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    sha.update("\n".join(versions).encode())
    sha.update(f"{sys.version}\n{platform.machine()}\n{_cpu()}".encode())
    return sha.digest()


def _cpu() -> str:
    """The CPU's model and flags (Linux), else what ``platform`` knows."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    first = info.split("\n\n", 1)[0]
    return "\n".join(line for line in first.splitlines()
                     if line.startswith(("vendor_id", "model name", "flags")))  # fmt: skip


def cache_path(assignment: Assignment, course_dir: Path) -> Path:
    """Where the expected values of ``assignment`` live in ``course_dir`` (see the module
    docstring for what the key covers)."""
    sha = hashlib.sha256(_environment() + cache.source_key(assignment).encode())
    return cache.folder(course_dir) / f"{assignment.name}-expected-{sha.hexdigest()[:16]}.json"


def load(path: Path) -> tuple[int, str] | None:
    """``(seed, values)`` stored at ``path``; ``None`` when there is none or it is unreadable
    (the caller then computes them anew)."""
    try:
        data = json.loads(path.read_text())
        seed, values = int(data["seed"]), data["values"]
        json.loads(values)  # a string, whole, as ``verify.encode_outcomes`` wrote it
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return seed, values


def store(path: Path, seed: int, values: str) -> None:
    """Write ``(seed, values)`` to ``path``, whole or not at all (graders that share a course
    folder may write the same key at once: either file is valid)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staged = tempfile.mkstemp(prefix=".staged-", dir=path.parent)  # mode 0600
    with os.fdopen(fd, "w") as out:
        json.dump({"seed": str(seed), "values": values}, out)
    os.replace(staged, path)
