"""``--shard K/N``: which submissions one of N graders takes.

A submission belongs to shard ``sha256(student_id) mod N``: the shards are disjoint and
together cover the class, every grader computes the same split without talking to the
others, a re-run takes the same share, and a submission added later lands in one shard
without moving any other. The batch system (a Slurm array, a Kubernetes Indexed Job, a CI
matrix) starts the N graders; the shared gradebook (PostgreSQL) keeps their results.

Example::

    >>> [Shard.parse(f"{k}/3").owns("ana") for k in range(3)]
    [False, True, False]
"""

from __future__ import annotations

import argparse
import hashlib
import re
from dataclasses import dataclass

_FORM = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (``0 <= index < count``)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(
                f"shard {self.index}/{self.count}: need N >= 1 and 0 <= K < N "
                f"(the N shards are 0/N ... {max(self.count, 1) - 1}/N)"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"K/N"`` -> ``Shard(K, N)``; ``argparse.ArgumentTypeError`` with the reason else."""
        match = _FORM.match(text)
        if not match:
            raise argparse.ArgumentTypeError(f"{text!r} is not K/N (e.g. 0/4)")
        try:
            return cls(int(match[1]), int(match[2]))
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    def owns(self, student_id: str) -> bool:
        """Whether this shard grades ``student_id``'s submission."""
        digest = hashlib.sha256(student_id.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
