"""The course's source text, broken into claims that notebooks must *show* and *check*.

``claims.json`` (beside this module) lists every claim of the seed text with an id, the
notebook that owns it, a short statement, a suggested experiment and the notebook's
``verdict``:

- ``"shown"``: the experiment confirms the claim as the source text states it;
- ``"qualified"``: it holds only with the condition written in ``note`` (e.g. "only at large
  learning rates");
- ``"refuted"``: the notebook's measurement contradicts the source text; ``note`` says what
  was found instead.

A notebook shows a claim with an experiment (cells tagged ``claim:<id>``) and *checks* its
outcome in code::

    claims.check("A-relu-con1", dead > 0.3, f"{dead:.0%} of layer-2 units are dead")

which prints one line for the student (``✓ A-relu-con1 (shown): ... — 65% of ...``) and
raises :class:`ClaimNotShown` when the condition is false, so a notebook run in CI fails
when an experiment stops showing what its prose says. For a qualified or refuted claim the
condition is the notebook's own finding (what the note says), checked just the same.
``tests/test_claims.py`` requires, for every claim a notebook owns, a ``claims.check`` of that
id whose "held" line is in the executed solution notebook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

TAG_PREFIX = "claim:"
VERDICTS = ("shown", "qualified", "refuted")
HELD_MARK = "✓ "  # every line check() prints starts with it, then "<id> (<verdict>):"


class ClaimNotShown(AssertionError):
    """An experiment did not show the outcome its claim check asserts."""


@dataclass(frozen=True)
class Claim:
    id: str
    notebook: str  # two-digit notebook number, e.g. "01"
    claim: str
    experiment: str
    verdict: str = "shown"
    note: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"claim {self.id}: verdict {self.verdict!r} is not one of {VERDICTS}")
        if self.verdict != "shown" and not self.note:
            raise ValueError(f"claim {self.id} is {self.verdict}: its note must say what was found")

    @property
    def tag(self) -> str:
        return f"{TAG_PREFIX}{self.id}"

    def held_line(self, evidence: str) -> str:
        """The line :func:`check` prints when the claim's check holds."""
        statement = self.claim if self.verdict == "shown" else f"{self.claim} [{self.note}]"
        return f"{HELD_MARK}{self.id} ({self.verdict}): {statement} — {evidence}"


@cache
def _claims() -> tuple[Claim, ...]:
    text = resources.files("dl_helpers").joinpath("claims.json").read_text(encoding="utf-8")
    return tuple(Claim(**row) for row in json.loads(text))


def load_claims() -> list[Claim]:
    """Every claim, in the order of the seed text."""
    return list(_claims())


def claims_for(notebook: str) -> list[Claim]:
    """The claims owned by notebook ``notebook`` (its two-digit number)."""
    return [c for c in _claims() if c.notebook == notebook]


def get(claim_id: str) -> Claim:
    """The claim with id ``claim_id``; ``KeyError`` naming close ids when there is none."""
    for claim in _claims():
        if claim.id == claim_id:
            return claim
    prefix = claim_id.split("-")[0]
    similar = [c.id for c in _claims() if c.id.startswith(prefix)][:8]
    raise KeyError(f"no claim with id {claim_id!r} in claims.json (ids like it: {similar})")


def check(claim_id: str, holds: object, evidence: str) -> None:
    """Assert that an experiment showed claim ``claim_id``; print one line saying so.

    Args:
        claim_id: an id of ``claims.json``, e.g. ``"A-relu-con1"``.
        holds: the outcome, a bool (NumPy and torch booleans are accepted), computed from
            the experiment with a margin that holds on any CPU and any seed.
        evidence: the measured numbers in a few words, rounded to digits that are stable
            (they are printed, and nbval compares them unless the cell is marked
            ``nbval-ignore-output``).

    Raises:
        KeyError: unknown ``claim_id``.
        TypeError: ``holds`` is not a single boolean (a forgotten ``.all()``, say).
        ClaimNotShown: ``holds`` is false.

    Example:
        >>> check("A-sig-def", 0.0 < 0.5 < 1.0, "sigmoid(0) = 0.5")
        ✓ A-sig-def (shown): sigmoid maps any input to (0, 1) — sigmoid(0) = 0.5
    """
    claim = get(claim_id)
    dtype, shape = getattr(holds, "dtype", None), tuple(getattr(holds, "shape", ()))
    if not (isinstance(holds, bool) or (str(dtype) in ("bool", "torch.bool") and shape == ())):
        raise TypeError(
            f"check({claim_id!r}, holds, ...): holds must be one boolean, got "
            f"{type(holds).__name__} {shape if shape else ''}(reduce with .all() or .any())"
        )
    if not bool(holds):
        raise ClaimNotShown(
            f"claim {claim_id} ({claim.claim}) did not hold in this run: {evidence}. "
            "The experiment no longer shows what the notebook says: fix the experiment or "
            "change the claim's verdict in claims.json."
        )
    print(claim.held_line(evidence))
