"""Gate 5: planted wrong answers (mutants) for every exercise must lose points.

For each notebook, ``tests/mutants/m<NN_slug>.py`` holds ``MUTANTS = {answer grade_id:
[(name, source), ...]}``: at least three plausible wrong answers per exercise. One kernel per
notebook runs the setup cells and every solution answer; then, per mutant, the mutant's
source replaces its answer and

1. the exercise's test cells (hidden tests included) must fail, and
2. the grader's own comparison must catch it too: each test cell's ``graded_values`` runs as
   the grader's probe cell (``verify.probe_cell_source``), its printed line is parsed
   (``verify.parse_probe_output``) and judged against the solution's values on the same
   seed (``verify.judge``), exactly as ``dl-course autograde`` does outside the sandbox. The
   probes run with the packages the grader blocks (dl_helpers, torch, scipy, sklearn)
   hidden, less those a probe's ``allow`` names (the grader gives those a kernel of their
   own): ``sys.modules`` entries set to None and the names bound to them removed, then
   restored -- a cheap stand-in for the grader's file-system blocking, which
   ``tests/test_verify.py`` checks in a real sandbox. So a mutant whose fault is calling
   torch or the reference is caught by the comparison as the grader catches it (NameError,
   ImportError): no value reaches it.

The solution is restored before the next mutant.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import nbformat
import pytest

from dl_course import verify
from dl_course.layout import assignments
from dl_course.notebooks import plan
from tests.kernels import Kernel

ROOT = Path(__file__).resolve().parents[1]
MIN_MUTANTS = 3
SEED, NONCE = 20_240_611, "mutant-gate"  # fixed here: the grader draws both per run

# Hide the packages the grader blocks (see the module docstring), and put them back.
_HIDE = """
import sys as _dlgate_sys
_dlgate_blocked = BLOCKED


def _dlgate_home(value):
    name = getattr(value, "__name__", None) if isinstance(value, type(_dlgate_sys)) else None
    name = name or getattr(value, "__module__", None) or ""
    return str(name).split(".")[0]


_dlgate_modules = {k: v for k, v in _dlgate_sys.modules.items()
                   if k.split(".")[0] in _dlgate_blocked}
_dlgate_names = {k: v for k, v in list(globals().items())
                 if not k.startswith("_") and _dlgate_home(v) in _dlgate_blocked}
for _dlgate_key in [*_dlgate_modules, *_dlgate_blocked]:
    _dlgate_sys.modules[_dlgate_key] = None
for _dlgate_key in _dlgate_names:
    del globals()[_dlgate_key]
"""
_RESTORE = """
for _dlgate_key in [*_dlgate_modules, *_dlgate_blocked]:
    _dlgate_sys.modules.pop(_dlgate_key, None)
_dlgate_sys.modules.update(_dlgate_modules)
globals().update(_dlgate_names)
"""


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


def _probes(assignment) -> dict[str, verify.Probe]:
    return verify.extract_probes(nbformat.read(assignment.source_notebook, as_version=4))


def values_of(kernel: Kernel, probes: list[verify.Probe]) -> dict[str, verify.Outcome]:
    """What the grader would receive from each probe, run with the blocked packages hidden
    (all but those the probe's ``allow`` names)."""
    outcomes = {}
    for allow in sorted({p.allow for p in probes}):
        blocked = tuple(b for b in verify.BLOCKED_PACKAGES if b not in allow)
        hidden = kernel.run(_HIDE.replace("BLOCKED", repr(blocked)))
        assert hidden.ok, f"hiding the blocked packages failed: {hidden.describe()}"
        try:
            for p in probes:
                if p.allow == allow:
                    outcomes[p.grade_id] = verify.parse_probe_output(
                        kernel.run(verify.probe_cell_source(p, SEED, NONCE)).stdout, NONCE
                    )
        finally:
            restored = kernel.run(_RESTORE)
            assert restored.ok, f"restoring the blocked packages failed: {restored.describe()}"
    return outcomes


class WarmKernel:
    """A notebook's kernel with setup and solution answers run, and the solution's values."""

    def __init__(self, assignment) -> None:
        self.kernel = Kernel(assignment.source_dir)
        self.probes = _probes(assignment)
        nb_plan = plan(nbformat.read(assignment.source_notebook, as_version=4))
        for source in nb_plan.setup_sources + [e.answer_source for e in nb_plan.exercises]:
            result = self.kernel.run(source)
            assert result.ok, f"{assignment.name}: setup/answer cell: {result.describe()}"
        self.expected = values_of(self.kernel, list(self.probes.values()))

    def run(self, source: str):
        return self.kernel.run(source)


@pytest.fixture(scope="module")
def kernels():
    """One warm kernel per notebook, with setup cells and all solution answers run."""
    started: dict[str, WarmKernel] = {}

    def get(assignment) -> WarmKernel:
        if assignment.name not in started:
            started[assignment.name] = WarmKernel(assignment)
        return started[assignment.name]

    yield get
    for warm in started.values():
        warm.kernel.close()


@pytest.mark.parametrize("assignment,nb_plan", list(_plans()), ids=lambda v: getattr(v, "name", ""))
def test_every_exercise_has_enough_mutants(assignment, nb_plan):
    mutants = _mutants(assignment)
    answers = {e.grade_id for e in nb_plan.exercises}
    assert not set(mutants) - answers, f"mutants for unknown exercises: {set(mutants) - answers}"
    short = {e: len(mutants.get(e, [])) for e in answers if len(mutants.get(e, [])) < MIN_MUTANTS}
    assert not short, f"exercises with fewer than {MIN_MUTANTS} mutants: {short}"


@pytest.mark.parametrize("assignment,nb_plan", list(_plans()), ids=lambda v: getattr(v, "name", ""))
def test_solution_values_reach_the_grader(kernels, assignment, nb_plan):
    """Every test cell defines graded_values, and on the solution it delivers values that
    match themselves (deterministic for a seed) with the packages the grader blocks hidden."""
    warm = kernels(assignment)
    tests = [t.grade_id for e in nb_plan.exercises for t in e.tests]
    assert sorted(warm.probes) == sorted(tests)
    again = values_of(warm.kernel, list(warm.probes.values()))
    for gid, probe in warm.probes.items():
        assert warm.expected[gid].payload and "values" in warm.expected[gid].payload, (
            f"{gid}: graded_values gives no values on the solution: {warm.expected[gid]}"
        )
        assert verify.judge(again[gid], warm.expected[gid], probe) is None, gid


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
    warm = kernels(assignment)
    probes = [warm.probes[test.grade_id] for test in exercise.tests]
    try:
        mutated = warm.run(source)
        outcomes = [warm.run(test.source) for test in exercise.tests] if mutated.ok else []
        values = values_of(warm.kernel, probes)
    finally:
        restored = warm.run(exercise.answer_source)
    assert restored.ok, f"restoring the solution of {exercise.grade_id} failed"
    assert not mutated.ok or any(not o.ok for o in outcomes), (
        f"mutant {name!r} of {exercise.grade_id} passes every test cell: the tests are too weak"
    )
    verdicts = {p.grade_id: verify.judge(values[p.grade_id], warm.expected[p.grade_id], p)
                for p in probes}  # fmt: skip
    assert any(verdicts.values()), (
        f"mutant {name!r} of {exercise.grade_id}: the grader's own comparison of the values "
        f"of {sorted(verdicts)} finds nothing wrong: strengthen their graded_values"
    )
