"""The course's source text, broken into claims that notebooks must *show*.

``claims.json`` (beside this module) lists every claim of the seed text with an id, the
notebook that owns it, a short statement and a suggested experiment. A notebook shows a
claim by tagging the cell(s) of its experiment ``claim:<id>``; ``tests/test_claims.py``
checks that every claim owned by an existing notebook is tagged in that notebook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

TAG_PREFIX = "claim:"


@dataclass(frozen=True)
class Claim:
    id: str
    notebook: str  # two-digit notebook number, e.g. "01"
    claim: str
    experiment: str

    @property
    def tag(self) -> str:
        return f"{TAG_PREFIX}{self.id}"


def load_claims() -> list[Claim]:
    """Every claim, in the order of the seed text."""
    text = resources.files("dl_helpers").joinpath("claims.json").read_text(encoding="utf-8")
    return [Claim(**row) for row in json.loads(text)]


def claims_for(notebook: str) -> list[Claim]:
    """The claims owned by notebook ``notebook`` (its two-digit number)."""
    return [c for c in load_claims() if c.notebook == notebook]
