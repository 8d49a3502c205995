"""Reading a class's submissions: a folder, a zip of that folder, or a zip as an LMS exports it.

Layouts accepted for ``SUBMISSIONS``:

1. A folder with one folder per student: ``SUBMISSIONS/<student_id>/<assignment>.ipynb``
   (other files beside the notebook are allowed but never graded; ``.py`` files and packages
   there are flagged as possible shadow modules). A ``timestamp.txt`` beside the notebook
   (nbgrader's convention) gives the submission time, otherwise the notebook's mtime.
2. A zip of that layout (optionally wrapped in one top-level folder).
3. A zip as an LMS exports it, one file per student at the top level, the student id in the
   file name. As in nbgrader's ``FileNameCollectorPlugin.named_regexp``, a regular expression
   with a ``student_id`` group (and optional ``file_id`` and ``timestamp`` groups) is matched
   against each file name. The defaults, tried in order:

   - Canvas: ``<studentid>_[LATE_]<lmsid>_<fileid>_<name>.ipynb``
   - Moodle: ``<Full Name>_<id>_assignsubmission_file_<name>.ipynb`` (also as folder names)

   ``--pattern`` replaces them. Where a student has several files, the newest (``timestamp``
   group, else the zip entry's date) is graded. Folder names in layouts 1-2 go through the same
   patterns, so a Moodle folder-per-student export works too.

Wrong file name: a single notebook with another name is graded and the submission flagged;
several notebooks of which none has the expected name, or none at all, fail with the reason.
Student ids are reduced to ``[A-Za-z0-9._@-]`` (accents dropped, other characters -> ``_``);
an id that is empty afterwards, or collides with another, is rejected with a message. Zip
members that would land outside the extraction folder (absolute paths, ``..``), symbolic
links and oversized members are skipped and reported; nothing is ever written outside.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from dl_course.layout import CourseError

DEFAULT_PATTERNS = (
    r"^(?P<student_id>[^_]+)_(?:LATE_)?\d+_(?:\d+_)?(?P<file_id>.+)$",  # Canvas
    r"^(?P<student_id>.+?)_\d+_assignsubmission_(?:file|onlinetext)_(?P<file_id>.*)$",  # Moodle
)
MAX_MEMBER_BYTES = 50 * 1024 * 1024
MAX_ZIP_BYTES = 2 * 1024 * 1024 * 1024
_ID_ALLOWED = re.compile(r"[^A-Za-z0-9._@-]+")


@dataclass(frozen=True)
class Submission:
    """One student's submission: the notebook to grade, or why there is none."""

    student_id: str
    notebook: Path | None
    problem: str | None
    timestamp: datetime
    flags: tuple[str, ...] = ()


@dataclass
class Intake:
    """What ``collect`` found: submissions to grade and entries it could not use."""

    submissions: list[Submission] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def sanitize_student_id(raw: str) -> str | None:
    """A safe student id (letters, digits, ``._@-``) from ``raw``, or ``None`` if nothing is
    left. ``"José Núñez"`` -> ``"Jose_Nunez"``, ``"../x"`` -> ``"x"``."""
    ascii_id = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    cleaned = _ID_ALLOWED.sub("_", ascii_id.strip()).strip("._-")
    return cleaned or None


def _compile(patterns: list[str] | None) -> list[re.Pattern]:
    compiled = []
    for pattern in patterns or DEFAULT_PATTERNS:
        try:
            regex = re.compile(pattern)
        except re.error as error:
            message = f"--pattern {pattern!r} is not a valid regular expression: {error}"
            raise CourseError(message) from None
        if "student_id" not in regex.groupindex:
            raise CourseError(f"--pattern {pattern!r} needs a (?P<student_id>...) group")
        compiled.append(regex)
    return compiled


def _match(name: str, patterns: list[re.Pattern]) -> re.Match | None:
    return next((m for p in patterns if (m := p.match(name))), None)


def _timestamp_of(folder: Path, notebook: Path | None) -> datetime:
    stamp = folder / "timestamp.txt"
    if stamp.is_file():
        from nbgrader.utils import parse_utc

        try:
            return parse_utc(stamp.read_text().strip()).replace(tzinfo=UTC)
        except (ValueError, OverflowError):
            pass
    target = notebook if notebook is not None else folder
    return datetime.fromtimestamp(target.lstat().st_mtime, UTC)


def _shadow_flags(folder: Path) -> tuple[str, ...]:
    """Flags for Python modules or packages beside the notebook (never copied for grading)."""
    found = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*.py")
        if ".ipynb_checkpoints" not in p.parts
    )
    if not found:
        return ()
    shown = ", ".join(found[:5]) + (" ..." if len(found) > 5 else "")
    return (f"possible shadow module(s) beside the notebook, not used for grading: {shown}",)


def _from_folder(folder: Path, student_id: str, assignment: str) -> Submission:
    expected = f"{assignment}.ipynb"
    notebooks = sorted(p for p in folder.glob("*.ipynb") if p.is_file() or p.is_symlink())
    flags = list(_shadow_flags(folder))
    notebook: Path | None = None
    problem: str | None = None
    if (folder / expected).exists():
        notebook = folder / expected
    elif len(notebooks) == 1:
        notebook = notebooks[0]
        flags.append(f"notebook submitted as {notebook.name!r}, expected {expected!r}")
    elif notebooks:
        names = ", ".join(p.name for p in notebooks)
        problem = f"no {expected} in the submission; several other notebooks: {names}"
    else:
        problem = f"no notebook submitted (expected {expected})"
    if notebook is not None and notebook.is_symlink():
        notebook, problem = None, f"{notebook.name} is a symbolic link, not a file"
    return Submission(student_id, notebook, problem, _timestamp_of(folder, notebook), tuple(flags))


def _student_id(name: str, patterns: list[re.Pattern]) -> str:
    match = _match(name, patterns)
    return match.group("student_id") if match else name


def _add(intake: Intake, seen: dict[str, str], raw_id: str, origin: str) -> str | None:
    """Register ``raw_id`` from ``origin``; the safe id, or ``None`` when it was rejected."""
    student_id = sanitize_student_id(raw_id)
    if student_id is None:
        intake.ignored.append(f"{origin}: student id {raw_id!r} has no usable characters")
        return None
    if seen.setdefault(student_id, origin) != origin:
        intake.ignored.append(
            f"{origin}: student id {raw_id!r} becomes {student_id!r}, which {seen[student_id]} "
            "already uses"
        )
        return None
    return student_id


def collect_folder(
    root: Path, assignment: str, patterns: list[str] | None = None, intake: Intake | None = None
) -> Intake:
    """Submissions in a folder-per-student layout."""
    intake = intake or Intake()
    regexes = _compile(patterns)
    seen: dict[str, str] = {}
    for folder in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        if folder.is_symlink() or not folder.is_dir():
            intake.ignored.append(f"{folder.name}: not a student folder")
            continue
        student_id = _add(intake, seen, _student_id(folder.name, regexes), folder.name)
        if student_id is not None:
            intake.submissions.append(_from_folder(folder, student_id, assignment))
    return intake


def _safe_members(archive: zipfile.ZipFile, intake: Intake) -> list[zipfile.ZipInfo]:
    members, total = [], 0
    for info in archive.infolist():
        path = PurePosixPath(info.filename.replace("\\", "/"))
        is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
        if path.is_absolute() or ".." in path.parts or ":" in info.filename:
            intake.ignored.append(f"{info.filename}: path leaves the archive (skipped)")
        elif is_link:
            intake.ignored.append(f"{info.filename}: symbolic link (skipped)")
        elif info.file_size > MAX_MEMBER_BYTES:
            intake.ignored.append(
                f"{info.filename}: larger than {MAX_MEMBER_BYTES} bytes (skipped)"
            )
        elif not info.is_dir() and not path.name.startswith(".") and "__MACOSX" not in path.parts:
            total += info.file_size
            members.append(info)
    if total > MAX_ZIP_BYTES:
        raise CourseError(f"the archive would unpack to {total} bytes (limit {MAX_ZIP_BYTES})")
    return members


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path) -> Path:
    target = dest.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts).resolve()
    if not target.is_relative_to(dest.resolve()):
        raise CourseError(f"zip member {info.filename!r} leaves the extraction folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out)
    return target


def collect_zip(
    zip_path: Path, assignment: str, staging: Path, patterns: list[str] | None = None
) -> Intake:
    """Submissions in a zip: a folder-per-student layout, or one file per student (LMS)."""
    intake = Intake()
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise CourseError(f"{zip_path} is not a readable zip file: {error}") from None
    dest = staging / "unzipped"
    dest.mkdir(parents=True, exist_ok=True)
    with archive:
        members = _safe_members(archive, intake)
        nested = [m for m in members if "/" in m.filename.strip("/")]
        if nested:
            for info in members:
                _extract(archive, info, dest)
            tops = [p for p in dest.iterdir() if p.is_dir()]
            root = tops[0] if len(tops) == 1 and not _has_notebook(tops[0]) else dest
            return collect_folder(root, assignment, patterns, intake)
        return _collect_lms(archive, members, assignment, dest, patterns, intake)


def _has_notebook(folder: Path) -> bool:
    return any(folder.glob("*.ipynb"))


def _collect_lms(
    archive: zipfile.ZipFile,
    members: list[zipfile.ZipInfo],
    assignment: str,
    dest: Path,
    patterns: list[str] | None,
    intake: Intake,
) -> Intake:
    regexes = _compile(patterns)
    newest: dict[str, tuple[datetime, zipfile.ZipInfo]] = {}
    extras: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for info in members:
        match = _match(info.filename, regexes)
        if match is None:
            intake.ignored.append(f"{info.filename}: file name does not match the pattern")
            continue
        raw = match.group("student_id")
        student_id = sanitize_student_id(raw)
        if student_id is None:
            intake.ignored.append(f"{info.filename}: student id {raw!r} has no usable characters")
            continue
        if seen.setdefault(student_id, raw) != raw:
            intake.ignored.append(
                f"{info.filename}: student id {raw!r} becomes {student_id!r}, which "
                f"{seen[student_id]!r} already uses"
            )
            continue
        if not info.filename.endswith(".ipynb"):
            extras.setdefault(student_id, []).append(info.filename)
            continue
        stamp = _lms_timestamp(match, info)
        if student_id not in newest or stamp > newest[student_id][0]:
            newest[student_id] = (stamp, info)
    for student_id in sorted(set(newest) | set(extras)):
        flags = tuple(
            f"possible shadow module beside the notebook, not used for grading: {name}"
            for name in extras.get(student_id, [])
            if name.endswith(".py")
        )
        if student_id not in newest:
            problem = f"no notebook submitted (only {', '.join(extras[student_id])})"
            intake.submissions.append(
                Submission(student_id, None, problem, datetime.now(UTC), flags)
            )
            continue
        stamp, info = newest[student_id]
        folder = dest / student_id
        notebook = _extract_as(archive, info, folder / f"{assignment}.ipynb")
        intake.submissions.append(Submission(student_id, notebook, None, stamp, flags))
    return intake


def _extract_as(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out)
    return target


def _lms_timestamp(match: re.Match, info: zipfile.ZipInfo) -> datetime:
    raw = match.groupdict().get("timestamp")
    if raw:
        from nbgrader.utils import parse_utc

        try:
            return parse_utc(raw).replace(tzinfo=UTC)
        except (ValueError, OverflowError):
            pass
    return datetime(*info.date_time, tzinfo=UTC)


def collect(
    source: Path, assignment: str, staging: Path, patterns: list[str] | None = None
) -> Intake:
    """All submissions in ``source`` (a folder or a zip, see the module docstring).

    Raises ``CourseError`` when ``source`` does not exist or is not a readable zip.
    """
    if source.is_dir():
        return collect_folder(source, assignment, patterns)
    if source.is_file():
        return collect_zip(source, assignment, staging, patterns)
    raise CourseError(f"no submissions at {source} (expected a folder or a .zip file)")
