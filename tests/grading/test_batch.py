"""``grader batch``'s logic around the gradings: which submissions the arguments name, and when an earlier
report stands for a submission again (the resume key). The gradings themselves: tests/cli/test_batch.py."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.grading.batch import Entry, ResumeKey, content_sha256, discover, read_existing, resumable
from grader.report.write import write_reports
from grader.spec.task import discover_tasks, load_task
from grader.version import __version__
from tests.helpers import TASK_ID, make_submission
from tests.report import load_fixture


def _zip(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w") as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, path.relative_to(folder))
    return dest


def _tar(folder: Path, dest: Path) -> Path:
    with tarfile.open(dest, "w:gz") as archive:
        archive.add(folder, arcname=folder.name)
    return dest


def test_folders_archives_and_a_folder_of_them(tmp_path):
    alone = make_submission(tmp_path / "alone")
    cohort = tmp_path / "cohort"
    make_submission(cohort / "bob")
    _zip(make_submission(tmp_path / "src" / "carol"), cohort / "carol.zip")
    _tar(make_submission(tmp_path / "src" / "dave"), cohort / "dave.tar.gz")
    (cohort / "notes.txt").write_text("not a submission")  # neither a folder nor an archive: left out
    (cohort / ".hidden").mkdir()
    broken = cohort / "erin"  # no submission.yaml: still a submission (the grading says it is invalid)
    broken.mkdir()
    (broken / "train.py").write_text("print(1)\n")
    archive = _zip(make_submission(tmp_path / "src" / "frank"), tmp_path / "frank.zip")

    entries = discover([alone, cohort, archive])
    assert [(e.name, e.path) for e in entries] == [
        ("alone", alone), ("bob", cohort / "bob"), ("carol", cohort / "carol.zip"),
        ("dave", cohort / "dave.tar.gz"), ("erin", broken), ("frank", archive)]


def test_names_that_collide_get_a_suffix_and_the_same_path_is_graded_once(tmp_path):
    a = make_submission(tmp_path / "one" / "alice")
    b = make_submission(tmp_path / "two" / "alice")
    c = _zip(make_submission(tmp_path / "src" / "Alice"), tmp_path / "Alice.zip")  # differs only in case
    entries = discover([a, b, a, c, tmp_path / "one" / "." / "alice"])
    assert entries == [Entry("alice", a), Entry("alice-2", b), Entry("Alice-3", c)]


def test_a_folder_with_only_files_and_no_manifest_is_one_submission(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "train.py").write_text("")
    assert discover([tmp_path / "sub"]) == [Entry("sub", tmp_path / "sub")]


@pytest.mark.parametrize("what", ["missing", "text file", "empty folder of submissions"])
def test_bad_arguments_are_usage_errors_naming_the_path(tmp_path, what):
    if what == "missing":
        path = tmp_path / "nope"
    elif what == "text file":
        path = tmp_path / "list.txt"
        path.write_text("alice\n")
    else:
        path = tmp_path / "empty"
        path.mkdir()
    with pytest.raises(UsageError) as info:
        discover([path])
    assert (str(path) in info.value.message or "no submissions" in info.value.message) and info.value.hint


# -- the resume key ---------------------------------------------------------------------------------

@pytest.fixture()
def graded(tmp_path):
    """A submission and a report of it as the current grader, task and rubric would write it."""
    sub = make_submission(tmp_path / "alice")
    report = load_fixture("reference")
    task = load_task(discover_tasks()[TASK_ID])
    report.submission.sha256 = content_sha256(sub)
    report.task.version = task.version
    assert report.rubric is not None
    report.rubric.version = task.rubric_spec().version
    report.environment.grader_version = __version__
    return sub, report


def test_a_report_of_the_same_content_and_versions_is_kept(graded, tmp_path):
    sub, report = graded
    write_reports(report, tmp_path / "out" / "alice")
    existing = read_existing(tmp_path / "out" / "alice")
    assert existing is not None and resumable(existing, content_sha256(sub))
    # A folder and its archive are the same content.
    assert resumable(existing, content_sha256(_zip(sub, tmp_path / "alice.zip")))
    assert resumable(existing, content_sha256(sub), task_id=TASK_ID)


@pytest.mark.parametrize("change", ["content", "task version", "rubric version", "grader version", "error",
                                    "another --task", "self-check"])
def test_any_change_of_the_key_grades_again(graded, change):
    sub, report = graded
    sha, task_id = content_sha256(sub), None
    if change == "content":
        (sub / "model.py").write_text((sub / "model.py").read_text() + "\n# changed\n")
    elif change == "task version":
        report.task.version = (report.task.version or 0) + 1
    elif change == "rubric version":
        assert report.rubric is not None
        report.rubric.version += 1
    elif change == "grader version":
        report.environment.grader_version = "0.0.0-old"
    elif change == "error":  # the grader's or the engine's failure says nothing of the submission
        report.status = "error"
    elif change == "another --task":
        task_id = "nlp/food-reviews"
    else:
        report.evaluated_on = "valid"
    assert not resumable(report, content_sha256(sub) if change == "content" else sha, task_id=task_id)


def test_an_invalid_report_is_kept_for_the_same_content(tmp_path):
    sub = make_submission(tmp_path / "bad", manifest="task: tabular/credit-default\n")
    report = load_fixture("invalid")
    report.submission.sha256 = content_sha256(sub)
    report.environment.grader_version = __version__
    assert resumable(report, content_sha256(sub))
    report.environment.grader_version = "0.0.0-old"
    assert not resumable(report, content_sha256(sub))


def test_no_or_unreadable_report_grades_again(tmp_path):
    assert read_existing(tmp_path) is None
    (tmp_path / "report.json").write_text("{not json")
    assert read_existing(tmp_path) is None
    assert not resumable(None, "abc")
    shutil.rmtree(tmp_path)
    assert content_sha256(tmp_path / "gone") is None


def test_resume_key_of_a_report():
    report = load_fixture("reference")
    assert report.rubric is not None
    assert ResumeKey.of_report(report) == ResumeKey(report.submission.sha256, TASK_ID, report.task.version,
                                                    report.rubric.version, report.environment.grader_version)
