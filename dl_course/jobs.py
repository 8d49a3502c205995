"""What the parent and a worker process hand each other: typed, one JSON round trip each.

- ``Job`` (parent -> worker, ``job.json``): one submission, where to grade it, its limits and
  the two probe plans: ``TamperPlan`` (what the integrity probes in the grading kernel watch,
  ``integrity``) and ``VerifyPlan`` (the secret inputs and the expected values of the
  grader's own check of the values, ``verify``).
- ``ExecutionReport`` (the grading kernel's executor -> the worker, ``execution.json``): why
  the kernel stopped, if it did, and the integrity probes' reports.
- ``WorkerResult`` (worker -> parent, ``result.json``): in-kernel scores, the verification's
  verdicts, flags, the graded notebook, or why the submission failed.

``to_json``/``from_json`` are each other's inverse: ``X.from_json(x.to_json()) == x``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from dl_course.verify import Probe


@dataclass(frozen=True)
class Limits:
    """Per-submission limits."""

    timeout: int = 300  # wall clock for the whole submission, and CPU seconds per kernel (s)
    cell_timeout: int = 30  # one cell (s)
    memory_mb: int = 2048  # address space of each kernel process


@dataclass(frozen=True)
class TamperPlan:
    """What the integrity probes fingerprint (``integrity.probe_source``) and where the grader
    itself finds each watched module (``origins``: a module loaded from elsewhere is a flag)."""

    modules: list[str]
    aliases: dict[str, str]
    origins: dict[str, str | None]


@dataclass(frozen=True)
class VerifyPlan:
    """The grader's own check of a submission's values (``verify``): the run's secret
    ``seed``, this submission's ``nonce``, the file the parent writes the expected values to,
    one ``Probe`` per test cell, the source's answer-cell ids and setup imports, and the
    blocked packages (``blocker`` as their ``__init__.py``; their folders in ``packages``)."""

    seed: int
    nonce: str
    expected: str
    probes: list[Probe]
    answer_ids: list[str]
    preamble: str
    blocker: str
    packages: dict[str, list[str]]

    def to_dict(self) -> dict:
        return {**asdict(self), "probes": [p.to_dict() for p in self.probes]}

    @classmethod
    def from_dict(cls, data: dict) -> VerifyPlan:
        return cls(**{**data, "probes": [Probe.from_dict(p) for p in data["probes"]]})


@dataclass(frozen=True)
class Job:
    """One submission for a worker: grade ``notebook`` of ``student_id`` in ``work_root``
    from a copy of ``template``, the graded notebook into ``out_dir``, the result into
    ``result_path``. ``masked`` are hidden from every kernel; ``test_ids`` are the source's
    test cells (never counted as the student's code)."""

    assignment: str
    student_id: str
    notebook: str
    timestamp: str  # ISO 8601, with time zone
    template: str
    work_root: str
    out_dir: str
    result_path: str
    limits: Limits
    masked: list[str]
    unsafe: bool
    test_ids: list[str]
    tamper: TamperPlan
    verify: VerifyPlan
    font_list: str | None = None  # matplotlib's font list for the kernels (``fonts``)

    def to_json(self) -> str:
        data = asdict(self)
        data["verify"] = self.verify.to_dict()
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Job:
        data = json.loads(text)
        return cls(
            **{
                **data,
                "limits": Limits(**data["limits"]),
                "tamper": TamperPlan(**data["tamper"]),
                "verify": VerifyPlan.from_dict(data["verify"]),
            }
        )


@dataclass
class ExecutionReport:
    """What the grading kernel's run left for the worker: ``died`` (the kernel died: why),
    ``error`` (execution could not start or stopped: why), and ``probes``, the integrity
    probes' reports as ``(where, report)``: ``"start"`` first, then the test cell after which
    each ran (``None``: the probe printed no report)."""

    died: str | None = None
    error: str | None = None
    probes: list[tuple[str, dict | None]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ExecutionReport:
        data = json.loads(text)
        return cls(data["died"], data["error"], [(w, r) for w, r in data["probes"]])


@dataclass
class WorkerResult:
    """The outcome of grading one submission.

    ``scores`` are nbgrader's in-kernel ``{grade_id: [score, max]}``; ``verified`` says, per
    test cell that scored in the kernel, whether the grader's own check of its values agreed
    (``None``) or why not; ``failed`` why the submission could not be graded to the end;
    ``flags`` the static scan's reasons, ``tampering`` the integrity probes'; ``autograded``
    the graded notebook, if one was made.
    """

    scores: dict[str, list[float]] = field(default_factory=dict)
    failed: str | None = None
    flags: list[str] = field(default_factory=list)
    tampering: list[str] = field(default_factory=list)
    verified: dict[str, str | None] = field(default_factory=dict)
    autograded: str | None = None

    @classmethod
    def failure(cls, reason: str | None) -> WorkerResult:
        """A result for a submission that produced nothing gradable."""
        return cls(failed=reason)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerResult:
        return cls(**json.loads(text))
