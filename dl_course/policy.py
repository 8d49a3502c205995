"""What the parent decides about a submission: whether to grade it, and what status it gets.

- ``skip_reason``: a submission whose content was graded already (same digest of source and
  notebook), or that is older than the one graded, is not graded again; a newer one replaces
  the older one's grade.
- ``status_of``: a test cell keeps its in-kernel points only if the grader verified its values
  (``verify.apply``), else 0 with a note. A submission that could not be graded to the end is
  ``failed``; one with flags (tampering probes, the static scan, withheld points, a misnamed
  notebook, files beside it) is ``flagged``; else ``graded``. Flags never change points: they
  mark the submission for review (``needs_manual_grade`` in the gradebook).
"""

from __future__ import annotations

from dl_course import verify
from dl_course.gradebook import Status
from dl_course.intake import Submission
from dl_course.jobs import WorkerResult


def skip_reason(sub: Submission, previous: Status | None, digest: str | None) -> str | None:
    """Why ``sub`` is not graded again (``None``: grade it), given the status recorded for its
    student (``previous``) and the digest of its content."""
    if previous is None:
        return None
    if digest is not None and previous.digest == digest:
        return "unchanged"
    if previous.submitted_at and sub.timestamp < previous.submitted_at:
        return "older than the submission already graded"
    return None


def status_of(
    sub: Submission, result: WorkerResult, digest: str | None
) -> tuple[Status, dict[str, float]]:
    """The status to record for ``sub`` graded as ``result``, and the final scores."""
    scores, notes = verify.apply(result.scores, result.verified)
    flags = tuple(sub.flags) + tuple(result.flags)
    if notes:
        flags += (
            f"values not verified: {len(notes)} test cell(s) passed in the kernel but not "
            f"the grader's check of their values ({', '.join(notes)})",
        )
    if result.tampering:
        flags = ("tampering detected: " + "; ".join(result.tampering),) + flags
    note_items = tuple(notes.items())
    if result.failed:
        return Status("failed", result.failed, flags, sub.timestamp, digest, note_items), scores
    if flags:
        return Status("flagged", None, flags, sub.timestamp, digest, note_items), scores
    return Status("graded", None, (), sub.timestamp, digest, note_items), scores
