"""Every claim of the seed text owned by an existing notebook is shown (tagged) in it."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from dl_helpers.claims import TAG_PREFIX, claims_for, load_claims
from dl_helpers.course.layout import assignments

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = assignments(ROOT)


def test_claim_list_is_well_formed():
    claims = load_claims()
    ids = [c.id for c in claims]
    assert len(ids) == len(set(ids)), "duplicate claim ids"
    assert all(re.fullmatch(r"\d\d", c.notebook) for c in claims)
    assert all(c.claim for c in claims)
    # Every notebook of the course plan (00-13) owns at least one claim.
    assert {c.notebook for c in claims} == {f"{n:02d}" for n in range(14)}


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_every_owned_claim_is_tagged(assignment):
    nb = nbformat.read(assignment.source_notebook, as_version=4)
    tagged = {
        tag.removeprefix(TAG_PREFIX)
        for cell in nb.cells
        for tag in cell.metadata.get("tags", [])
        if tag.startswith(TAG_PREFIX)
    }
    owned = {c.id for c in claims_for(assignment.number)}
    known = {c.id for c in load_claims()}
    assert owned, f"no claims are owned by notebook {assignment.number}"
    assert not owned - tagged, f"claims not shown in {assignment.name}: {sorted(owned - tagged)}"
    assert not tagged - known, f"unknown claim tags in {assignment.name}: {sorted(tagged - known)}"
