"""Every claim of the seed text owned by an existing notebook is shown *and checked* in it.

A claim counts as checked when the solution notebook has a code cell calling
``claims.check("<id>", ...)`` and the executed notebook's stored outputs hold the line that
call prints when the claim held. nbval re-executes every cell in the same ``make test`` run
(and the CPU-capability gate under other kernels), where a check that no longer holds raises
``ClaimNotShown``: stored lines cannot go stale unnoticed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from dl_course.layout import assignments
from dl_helpers import claims
from dl_helpers.claims import HELD_MARK, TAG_PREFIX, ClaimNotShown, claims_for, load_claims

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = assignments(ROOT)


def test_claim_list_is_well_formed():
    all_claims = load_claims()
    ids = [c.id for c in all_claims]
    assert len(ids) == len(set(ids)), "duplicate claim ids"
    assert all(re.fullmatch(r"\d\d", c.notebook) for c in all_claims)
    assert all(c.claim for c in all_claims)
    # Every notebook of the course plan (00-13) owns at least one claim.
    assert {c.notebook for c in all_claims} == {f"{n:02d}" for n in range(14)}


def test_check_prints_the_held_line_and_raises_when_the_claim_fails(capsys):
    claims.check("A-sig-def", np.float64(0.5) < 1.0, "sigmoid(0) = 0.5")
    assert capsys.readouterr().out == (
        "✓ A-sig-def (shown): sigmoid maps any input to (0, 1) — sigmoid(0) = 0.5\n"
    )
    claims.check("A-sig-def", torch.tensor(2.0) > 1.0, "a 0-d torch bool")
    with pytest.raises(ClaimNotShown, match=r"A-relu-con1 .* did not hold in this run: 2% dead"):
        claims.check("A-relu-con1", False, "2% dead")
    assert "A-relu-con1" not in capsys.readouterr().out


@pytest.mark.parametrize("holds", [np.array([True, True]), 1, 0.7, "yes", torch.tensor(1.0)])
def test_check_rejects_anything_but_one_boolean(holds):
    with pytest.raises(TypeError, match="holds must be one boolean"):
        claims.check("A-sig-def", holds, "x")


def test_check_rejects_an_unknown_id_naming_similar_ones():
    with pytest.raises(KeyError, match=r"no claim with id 'A-sig-dfe'.*A-sig-def"):
        claims.check("A-sig-dfe", True, "x")


def test_a_qualified_claim_needs_a_note_and_prints_it():
    with pytest.raises(ValueError, match="its note must say what was found"):
        claims.Claim("X", "01", "c", "e", verdict="refuted")
    with pytest.raises(ValueError, match="is not one of"):
        claims.Claim("X", "01", "c", "e", verdict="maybe")
    claim = claims.Claim("X", "01", "fast", "e", verdict="qualified", note="only per element")
    assert claim.held_line("3x") == "✓ X (qualified): fast [only per element] — 3x"


def _checked_ids(cells) -> set[str]:
    """Claim ids passed as a literal first argument to ``claims.check`` / ``check``."""
    ids = set()
    for cell in cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "check"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                ids.add(node.args[0].value)
    return ids


def _printed_lines(cells) -> list[str]:
    return [
        line
        for cell in cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream"
        for line in out.get("text", "").splitlines()
    ]


def claim_problems(cells, owned: dict[str, claims.Claim], known: set[str]) -> list[str]:
    """What keeps the notebook ``cells`` from showing and checking every claim of ``owned``."""
    tagged = {
        tag.removeprefix(TAG_PREFIX)
        for cell in cells
        for tag in cell.metadata.get("tags", [])
        if tag.startswith(TAG_PREFIX)
    }
    checked = _checked_ids(cells)
    printed = _printed_lines(cells)
    problems = []
    if owned.keys() - tagged:
        problems.append(f"not shown (no cell tagged claim:<id>): {sorted(owned.keys() - tagged)}")
    if tagged - known:
        problems.append(f"unknown claim tags: {sorted(tagged - known)}")
    if owned.keys() - checked:
        problems.append(f"no claims.check(...) call: {sorted(owned.keys() - checked)}")
    if checked - owned.keys():
        problems.append(f"checks claims it does not own: {sorted(checked - owned.keys())}")
    not_held = [
        claim_id
        for claim_id, claim in owned.items()
        if claim_id in checked
        and not any(line.startswith(f"{HELD_MARK}{claim_id} ({claim.verdict}):")
                    for line in printed)
    ]
    if not_held:
        problems.append(
            f"no 'held' line in the executed notebook for {not_held}: execute the solution "
            "notebook in place and check that every claims.check ran and held"
        )
    return problems


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_every_owned_claim_is_shown_and_checked(assignment):
    nb = nbformat.read(assignment.source_notebook, as_version=4)
    owned = {c.id: c for c in claims_for(assignment.number)}
    assert owned, f"no claims are owned by notebook {assignment.number}"
    problems = claim_problems(nb.cells, owned, {c.id for c in load_claims()})
    assert not problems, f"{assignment.name}: " + "; ".join(problems)


def _nb_cell(source: str, tags=(), printed: str | None = None):
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)})
    if printed is not None:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    return cell


SIG = claims.get("A-sig-def")
HELD = SIG.held_line("ok") + "\n"


@pytest.mark.parametrize(
    "cells,problem",
    [
        ([_nb_cell("claims.check('A-sig-def', True, 'ok')", ["claim:A-sig-def"], HELD)], None),
        ([_nb_cell("x = 1", ["claim:A-sig-def"], "")], "no claims.check(...) call"),
        ([_nb_cell("claims.check('A-sig-def', True, 'ok')", [], HELD)], "not shown"),
        ([_nb_cell("claims.check('A-sig-def', ok, 'ok')", ["claim:A-sig-def"], "")],
         "no 'held' line"),
        ([_nb_cell("claims.check('A-sig-def', True, 'ok')", ["claim:A-sig-def"],
                   HELD.replace("(shown)", "(refuted)"))], "no 'held' line"),
        ([_nb_cell("claims.check('A-sig-def', True, 'ok')\nclaims.check('W1', True, 'x')",
                   ["claim:A-sig-def", "claim:nope"], HELD)], "unknown claim tags"),
    ],
    ids=["checked", "tag only", "check only", "never held", "other verdict", "foreign"],
)
def test_the_gate_tells_a_check_that_held_from_a_tag_alone(cells, problem):
    problems = claim_problems(cells, {"A-sig-def": SIG}, {c.id for c in load_claims()})
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems
