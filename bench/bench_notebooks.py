"""Execution time of every course notebook (solutions/), as CI and students run it.

Usage:  .venv/bin/python bench/bench_notebooks.py [ASSIGNMENT ...] [--repeat N]

Runs each solution notebook top to bottom in a fresh kernel with nbclient (what nbval and
the autograder do) and prints wall time per run, with the slowest cells. Machines differ by
several times in speed, so every time is also reported as a ratio to a *floor* measured in the
same run: a fresh kernel that only imports numpy, torch and matplotlib (inline backend).
Target (COURSE.md): every notebook within 4x the floor; no cell over 5 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from dl_course.layout import assignments, find_root


def time_notebook(path: Path) -> tuple[float, list[tuple[float, str]]]:
    """Execute ``path``; return total seconds and (seconds, first line) per code cell."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    cell_times: list[tuple[float, str]] = []
    start = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            t0 = time.perf_counter()
            client.execute_cell(cell, index)
            cell_times.append((time.perf_counter() - t0, cell.source.splitlines()[0][:60]))
    return time.perf_counter() - start, cell_times


FLOOR_NOTEBOOK = nbformat.v4.new_notebook(
    cells=[
        nbformat.v4.new_code_cell(
            "%matplotlib inline\nimport matplotlib.pyplot as plt\nimport numpy as np\nimport torch"
        )
    ]
)


def time_floor() -> float:
    """Seconds for a fresh kernel to start and import numpy, torch and matplotlib."""
    client = NotebookClient(nbformat.from_dict(FLOOR_NOTEBOOK), timeout=600, kernel_name="python3")
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    root = find_root(Path(__file__).parent)
    # The floor is measured between the notebook runs, so both see the same machine load.
    floors: list[float] = []
    rows = []
    for assignment in assignments(root, args.assignments or None):
        runs = []
        for _ in range(args.repeat):
            floors.append(time_floor())
            runs.append(time_notebook(assignment.source_notebook))
        rows.append((assignment.name, runs))
    floor = statistics.median(floors)
    print(f"floor (kernel + numpy, torch, matplotlib): median {floor:.2f} s "
          f"(min {min(floors):.2f}, max {max(floors):.2f}, {len(floors)} runs)")
    print(f"{'notebook':<32} {'median s':>9} {'x floor':>8} {'min s':>7} {'max s':>7}   "
          "slowest cells")
    for name, runs in rows:
        totals = [total for total, _ in runs]
        slowest = sorted(runs[-1][1], reverse=True)[:3]
        cells = "; ".join(f"{s:.1f}s {src!r}" for s, src in slowest)
        print(
            f"{name:<32} {statistics.median(totals):9.2f} {statistics.median(totals) / floor:8.1f} "
            f"{min(totals):7.2f} {max(totals):7.2f}   {cells}"
        )


if __name__ == "__main__":
    main()
