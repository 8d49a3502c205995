"""Execution time of every course notebook (solutions/), as CI and students run it.

Usage:  .venv/bin/python bench/bench_notebooks.py [ASSIGNMENT ...] [--repeat N]

Runs each solution notebook top to bottom in a fresh kernel with nbclient (what nbval and
the autograder do) and prints wall time per run, with the slowest cells. Target (COURSE.md):
well under 30 s per notebook on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from dl_helpers.course.layout import assignments, find_root


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    root = find_root(Path(__file__).parent)
    print(f"{'notebook':<32} {'median s':>9} {'min s':>7} {'max s':>7}   slowest cells")
    for assignment in assignments(root, args.assignments or None):
        runs = [time_notebook(assignment.source_notebook) for _ in range(args.repeat)]
        totals = [total for total, _ in runs]
        slowest = sorted(runs[-1][1], reverse=True)[:3]
        cells = "; ".join(f"{s:.1f}s {src!r}" for s, src in slowest)
        print(
            f"{assignment.name:<32} {statistics.median(totals):9.2f} {min(totals):7.2f} "
            f"{max(totals):7.2f}   {cells}"
        )


if __name__ == "__main__":
    main()
