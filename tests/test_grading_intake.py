"""Reading submissions: folders, zips of folders, LMS zips, and the ways they go wrong."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dl_course.intake import collect, sanitize_student_id
from dl_course.layout import CourseError

NB = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
A = "00_tiny"


def _folder(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _zip(path: Path, members: dict[str, str], dates: dict[str, tuple] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            info = zipfile.ZipInfo(name, date_time=(dates or {}).get(name, (2026, 1, 1, 12, 0, 0)))
            archive.writestr(info, text)
    return path


def _by_id(intake) -> dict:
    return {s.student_id: s for s in intake.submissions}


def test_folder_layout_with_problems(tmp_path):
    subs = _folder(
        tmp_path / "subs",
        {
            f"alice/{A}.ipynb": NB,
            "alice/notes.txt": "hi",
            "bob/homework.ipynb": NB,  # one notebook, wrong name: graded and flagged
            "carol/a.ipynb": NB,
            "carol/b.ipynb": NB,  # several, none right: fails
            "dave/readme.md": "nothing",  # no notebook: fails
            f"eve/{A}.ipynb": NB,
            "eve/numpy.py": "",  # shadow module: flagged
            f"eve/{A}/timestamp.txt": "",
        },
    )
    (subs / "alice" / "timestamp.txt").write_text("2026-02-03 04:05:06.000000 UTC")
    found = _by_id(collect(subs, A, tmp_path / "staging"))
    assert found["alice"].notebook == subs / "alice" / f"{A}.ipynb" and not found["alice"].flags
    assert found["alice"].timestamp == datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert found["bob"].notebook.name == "homework.ipynb"
    assert "expected '00_tiny.ipynb'" in found["bob"].flags[0]
    assert found["carol"].notebook is None and "several other notebooks" in found["carol"].problem
    assert found["dave"].notebook is None and "no notebook submitted" in found["dave"].problem
    assert any("numpy.py" in flag for flag in found["eve"].flags)


def test_symlinked_notebook_is_refused(tmp_path):
    secret = _folder(tmp_path, {"secret.ipynb": NB}) / "secret.ipynb"
    (tmp_path / "subs" / "mallory").mkdir(parents=True)
    (tmp_path / "subs" / "mallory" / f"{A}.ipynb").symlink_to(secret)
    (sub,) = collect(tmp_path / "subs", A, tmp_path / "staging").submissions
    assert sub.notebook is None and "symbolic link" in sub.problem


def test_zip_of_student_folders(tmp_path):
    archive = _zip(
        tmp_path / "class.zip",
        {f"export/alice/{A}.ipynb": NB, f"export/bob/{A}.ipynb": NB, "export/bob/data.csv": "1"},
    )
    found = _by_id(collect(archive, A, tmp_path / "staging"))
    assert set(found) == {"alice", "bob"}
    assert found["bob"].notebook.read_text() == NB


def test_canvas_zip_keeps_the_newest_submission(tmp_path):
    archive = _zip(
        tmp_path / "canvas.zip",
        {
            "alice_1234_5678_00_tiny.ipynb": NB,
            "alice_LATE_1234_9999_00_tiny-1.ipynb": NB.replace("[]", '[{"cell_type": "raw"}]'),
            "bob_222_333_my_work.ipynb": NB,
            "bob_222_334_numpy.py": "",
            "README.txt": "not a submission",
        },
        dates={"alice_LATE_1234_9999_00_tiny-1.ipynb": (2026, 1, 2, 0, 0, 0)},
    )
    intake = collect(archive, A, tmp_path / "staging")
    found = _by_id(intake)
    assert set(found) == {"alice", "bob"}
    assert "raw" in found["alice"].notebook.read_text()  # the later (LATE) one
    assert found["alice"].notebook.name == f"{A}.ipynb"
    assert any("numpy.py" in f for f in found["bob"].flags)
    assert any("README.txt" in entry for entry in intake.ignored)


def test_moodle_names_and_custom_pattern(tmp_path):
    moodle = _zip(
        tmp_path / "moodle.zip",
        {"José Núñez_4711_assignsubmission_file_00_tiny.ipynb": NB},
    )
    (sub,) = collect(moodle, A, tmp_path / "s1").submissions
    assert sub.student_id == "Jose_Nunez"
    custom = _zip(tmp_path / "custom.zip", {"hw1-s12345-2026-01-05.ipynb": NB})
    pattern = r"hw1-(?P<student_id>s\d+)-(?P<timestamp>[\d-]+)\.ipynb"
    (sub,) = collect(custom, A, tmp_path / "s2", [pattern]).submissions
    assert sub.student_id == "s12345" and sub.timestamp.date().isoformat() == "2026-01-05"
    with pytest.raises(CourseError, match="student_id"):
        collect(custom, A, tmp_path / "s3", [r"(?P<name>.*)"])


def test_bad_zip_is_a_clear_error(tmp_path):
    bad = tmp_path / "class.zip"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(CourseError, match="not a readable zip file"):
        collect(bad, A, tmp_path / "staging")
    with pytest.raises(CourseError, match="no submissions at"):
        collect(tmp_path / "missing", A, tmp_path / "staging")


def test_zip_slip_and_odd_ids_never_escape(tmp_path):
    archive = _zip(
        tmp_path / "evil.zip",
        {
            f"../../escaped/{A}.ipynb": NB,
            f"/abs/{A}.ipynb": NB,
            f"subs/..%2f..%2fx/{A}.ipynb": NB,
            f"subs/ok/{A}.ipynb": NB,
        },
    )
    staging = tmp_path / "staging"
    intake = collect(archive, A, staging)
    assert not (tmp_path / "escaped").exists() and not Path("/abs").exists()
    assert all(s.notebook.resolve().is_relative_to(staging) for s in intake.submissions)
    assert sum("leaves the archive" in entry for entry in intake.ignored) == 2
    assert sanitize_student_id("../../etc") == "etc"
    assert sanitize_student_id("a b/c") == "a_b_c"
    assert sanitize_student_id("..") is None
    assert sanitize_student_id("学生") is None


def test_student_ids_that_collide_are_rejected(tmp_path):
    subs = _folder(tmp_path / "subs", {f"a b/{A}.ipynb": NB, f"a_b/{A}.ipynb": NB})
    intake = collect(subs, A, tmp_path / "staging")
    assert [s.student_id for s in intake.submissions] == ["a_b"]
    assert any("already uses" in entry for entry in intake.ignored)


def _link(archive: zipfile.ZipFile, name: str, target: str) -> None:
    """A symbolic-link member (as ``zip --symlinks`` writes it: mode 0o120777, target as data)."""
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 12, 0, 0))
    info.create_system = 3  # Unix: external_attr carries the mode
    info.external_attr = 0o120777 << 16
    archive.writestr(info, target)


def test_link_entries_are_skipped_never_followed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("instructor only")
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        _link(zf, f"subs/mallory/{A}.ipynb", str(secret))  # the notebook itself a link
        _link(zf, "subs/eve/data", "/etc")
        zf.writestr(f"subs/eve/{A}.ipynb", NB)
    intake = collect(archive, A, tmp_path / "staging")
    assert [s.student_id for s in intake.submissions] == ["eve"]  # mallory: reported only
    assert sorted(e for e in intake.ignored if "symbolic link" in e) == [
        "subs/eve/data: symbolic link (skipped)",
        f"subs/mallory/{A}.ipynb: symbolic link (skipped)",
    ]
    assert not any(p.is_symlink() for p in (tmp_path / "staging").rglob("*"))


def test_lms_link_entries_are_skipped(tmp_path):
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        _link(zf, f"mallory_11_21_{A}.ipynb", "/etc/passwd")
        zf.writestr(f"dora_12_22_{A}.ipynb", NB)
    intake = collect(archive, A, tmp_path / "staging")
    assert [s.student_id for s in intake.submissions] == ["dora"]
    assert intake.ignored == [f"mallory_11_21_{A}.ipynb: symbolic link (skipped)"]


def test_oversized_entries_and_an_oversized_archive(tmp_path, monkeypatch):
    monkeypatch.setattr("dl_course.intake.MAX_MEMBER_BYTES", 1000)
    monkeypatch.setattr("dl_course.intake.MAX_ZIP_BYTES", 2500)
    big = "x" * 1001
    archive = _zip(tmp_path / "big.zip", {f"subs/ann/{A}.ipynb": NB, f"subs/bob/{A}.ipynb": big})
    intake = collect(archive, A, tmp_path / "staging")
    assert [s.student_id for s in intake.submissions] == ["ann"]  # bob's was never unpacked
    assert intake.ignored == [f"subs/bob/{A}.ipynb: larger than 1000 bytes (skipped)"]
    # every member under the limit, together over the archive's limit: nothing is unpacked
    members = {f"subs/s{i}/{A}.ipynb": "y" * 900 for i in range(3)}
    with pytest.raises(CourseError, match="would unpack to 2700 bytes"):
        collect(_zip(tmp_path / "total.zip", members), A, tmp_path / "staging2")
    assert not (tmp_path / "staging2" / "unzipped" / "subs").exists()


def test_ids_that_sanitise_to_nothing_or_collide_in_an_lms_zip(tmp_path):
    archive = _zip(
        tmp_path / "moodle.zip",
        {
            f"学生_1_assignsubmission_file_{A}.ipynb": NB,  # nothing usable left
            f"José Núñez_2_assignsubmission_file_{A}.ipynb": NB,
            f"Jose Nunez_3_assignsubmission_file_{A}.ipynb": NB,  # the same safe id
        },
    )
    intake = collect(archive, A, tmp_path / "staging")
    assert [s.student_id for s in intake.submissions] == ["Jose_Nunez"]
    assert len(intake.ignored) == 2
    assert any("'学生' has no usable characters" in entry for entry in intake.ignored)
    assert any("becomes 'Jose_Nunez', which" in entry for entry in intake.ignored)
