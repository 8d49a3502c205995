"""Gate 7: ruff passes on the package, the tests, the benchmarks and every notebook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    ruff = Path(sys.executable).parent / "ruff"
    targets = ["dl_helpers", "dl_course", "tests", "bench", "solutions", "notebooks", "conftest.py"]
    run = subprocess.run(
        [str(ruff), "check", *targets], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
