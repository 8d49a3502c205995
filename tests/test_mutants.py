"""Gate 5: planted wrong answers (mutants) for every exercise must lose points.

For each notebook, ``tests/mutants/m<NN_slug>.py`` holds ``MUTANTS = {answer grade_id:
[(name, source), ...]}``: at least three plausible wrong answers per exercise. One kernel per
notebook runs the setup cells and every solution answer; then, per mutant, the mutant's
source replaces its answer and the exercise's test cells (hidden tests included) must fail;
the solution is restored before the next mutant.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import nbformat
import pytest

from dl_helpers.course.layout import assignments
from dl_helpers.course.notebooks import plan
from tests.kernels import Kernel

ROOT = Path(__file__).resolve().parents[1]
MIN_MUTANTS = 3


def _plans():
    for assignment in assignments(ROOT):
        nb_plan = plan(nbformat.read(assignment.source_notebook, as_version=4))
        if nb_plan.exercises:
            yield assignment, nb_plan


def _mutants(assignment) -> dict[str, list[tuple[str, str]]]:
    module = importlib.import_module(f"tests.mutants.m{assignment.name}")
    return module.MUTANTS


CASES = [
    (assignment, exercise, name, source)
    for assignment, nb_plan in _plans()
    for exercise in nb_plan.exercises
    for name, source in _mutants(assignment).get(exercise.grade_id, [])
]


@pytest.fixture(scope="module")
def kernels():
    """One warm kernel per notebook, with setup cells and all solution answers run."""
    started: dict[str, Kernel] = {}

    def get(assignment) -> Kernel:
        if assignment.name not in started:
            kernel = Kernel(assignment.source_dir)
            nb_plan = plan(nbformat.read(assignment.source_notebook, as_version=4))
            for source in nb_plan.setup_sources + [e.answer_source for e in nb_plan.exercises]:
                result = kernel.run(source)
                assert result.ok, f"{assignment.name}: setup/answer cell: {result.describe()}"
            started[assignment.name] = kernel
        return started[assignment.name]

    yield get
    for kernel in started.values():
        kernel.close()


@pytest.mark.parametrize("assignment,nb_plan", list(_plans()), ids=lambda v: getattr(v, "name", ""))
def test_every_exercise_has_enough_mutants(assignment, nb_plan):
    mutants = _mutants(assignment)
    answers = {e.grade_id for e in nb_plan.exercises}
    assert not set(mutants) - answers, f"mutants for unknown exercises: {set(mutants) - answers}"
    short = {e: len(mutants.get(e, [])) for e in answers if len(mutants.get(e, [])) < MIN_MUTANTS}
    assert not short, f"exercises with fewer than {MIN_MUTANTS} mutants: {short}"


@pytest.mark.parametrize("assignment,nb_plan", list(_plans()), ids=lambda v: getattr(v, "name", ""))
def test_solution_passes_every_test_cell(kernels, assignment, nb_plan):
    kernel = kernels(assignment)
    for exercise in nb_plan.exercises:
        for test in exercise.tests:
            result = kernel.run(test.source)
            assert result.ok, f"{test.grade_id} fails on the solution: {result.describe()}"
            assert not result.stderr, f"{test.grade_id} writes to stderr (nbgrader scores it 0)"


@pytest.mark.parametrize(
    "assignment,exercise,name,source",
    CASES,
    ids=[f"{a.name}-{e.grade_id}-{n}" for a, e, n, _ in CASES],
)
def test_mutant_loses_points(kernels, assignment, exercise, name, source):
    kernel = kernels(assignment)
    try:
        mutated = kernel.run(source)
        outcomes = [kernel.run(test.source) for test in exercise.tests] if mutated.ok else []
    finally:
        restored = kernel.run(exercise.answer_source)
    assert restored.ok, f"restoring the solution of {exercise.grade_id} failed"
    assert not mutated.ok or any(not o.ok for o in outcomes), (
        f"mutant {name!r} of {exercise.grade_id} passes every test cell: the tests are too weak"
    )
