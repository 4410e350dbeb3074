"""The pipeline's handling of invalid submissions: each contract rule ends as status invalid, exit 3.

None of these reach a sandbox, so they run without an engine; the backend below would fail the
test if it were ever asked to run anything.
"""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader.grading.pipeline import Grader
from grader.sandbox.base import RunResult, RunSpec, Sandbox
from tests.helpers import make_submission


class NeverRuns(Sandbox):
    name = "never-runs"

    def run(self, spec: RunSpec) -> RunResult:
        raise AssertionError(f"an invalid submission reached the sandbox: {spec.argv}")


def _zip_with(path: Path, name: str) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name, "x = 1\n")
    return path


def _tar_with_link(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("labels.csv")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    return path


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


RULES = {
    "no manifest": (lambda s: (s / "submission.yaml").unlink(), "submission.yaml is missing"),
    "manifest not YAML": (lambda s: (s / "submission.yaml").write_text("task: [\n"), "not valid YAML"),
    "unknown manifest key": (lambda s: (s / "submission.yaml").write_text(
        "task: tabular/credit-default\ntrain: python train.py\npredict: model:load\nmodel: x\n"),
        "unknown key 'model'"),
    "unknown task": (lambda s: (s / "submission.yaml").write_text(
        "task: tabular/credit\ntrain: python train.py\npredict: model:load\n"), "unknown task 'tabular/credit'"),
    "bad entry point": (lambda s: (s / "submission.yaml").write_text(
        "task: tabular/credit-default\ntrain: python train.py\npredict: model\n"), '"module:callable"'),
    "predict module missing": (lambda s: (s / "model.py").unlink(), "predict module 'model' not found"),
    "train script missing": (lambda s: (s / "train.py").unlink(), "'train.py', which is not in the submission"),
    "no requirements": (lambda s: (s / "requirements.txt").unlink(), "requirements.txt is missing"),
    "unpinned requirement": (lambda s: (s / "requirements.txt").write_text("pandas\n"), "is not pinned"),
    "no answers": (lambda s: (s / "ANSWERS.md").unlink(), "ANSWERS.md is missing"),
    "empty answers": (lambda s: (s / "ANSWERS.md").write_text("\n"), "ANSWERS.md is empty"),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_contract_rule_makes_the_submission_invalid(tmp_path, rule):
    break_it, message = RULES[rule]
    sub = make_submission(tmp_path / "s")
    break_it(sub)
    report = Grader(NeverRuns()).grade(sub, out_dir=tmp_path / "out")
    assert (report.status, report.exit_code, report.passed, report.score) == ("invalid", 3, False, 0.0)
    assert all(f.kind == "invalid_submission" and f.phase == "validate" for f in report.failures)
    assert any(message in f.message for f in report.failures), report.failures
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["status"] == "invalid" and saved["failures"]


@pytest.mark.parametrize("make, message", [
    (lambda p: _zip_with(p / "s.zip", "../escape.py"), "absolute path or '..'"),
    (lambda p: _tar_with_link(p / "s.tar.gz"), "is a link"),
    (lambda p: _bytes(p / "s.zip", b"PK\x03\x04 not a zip"), "not a readable .zip"),
    (lambda p: p / "missing", "no such file or folder"),
])
def test_broken_archives_are_invalid_not_crashes(tmp_path, make, message):
    report = Grader(NeverRuns()).grade(make(tmp_path), out_dir=tmp_path / "out")
    assert report.status == "invalid" and report.exit_code == 3
    assert message in report.failures[0].message


def test_wrong_task_flag_is_invalid(tmp_path):
    report = Grader(NeverRuns()).grade(make_submission(tmp_path / "s"), task_id="nlp/other", out_dir=tmp_path / "o")
    assert report.status == "invalid" and "being graded for 'nlp/other'" in report.failures[-1].message


def test_a_grader_bug_is_an_error_report_not_a_crash(tmp_path):
    class Broken(NeverRuns):
        def run(self, spec: RunSpec) -> RunResult:
            raise ZeroDivisionError("bug")

    report = Grader(Broken()).grade(make_submission(tmp_path / "s"), out_dir=tmp_path / "out")
    assert (report.status, report.exit_code) == ("error", 4)
    assert "internal grader error: ZeroDivisionError" in report.failures[0].message
    assert json.loads((tmp_path / "out" / "report.json").read_text())["status"] == "error"


def test_tampered_task_data_is_a_grader_error(tmp_path):
    from tests.helpers import tasks_copy

    root = tasks_copy(tmp_path / "tasks")
    data = root / "tabular" / "credit-default" / "data" / "test.csv"
    data.write_text(data.read_text().replace("good", "bad", 1))
    report = Grader(NeverRuns(), tasks_root=root).grade(make_submission(tmp_path / "s"), out_dir=tmp_path / "o")
    assert report.status == "error" and "does not match its sha256" in report.failures[0].message


# -- an invalid submission is filed under the task its manifest names -------------------------------------


@pytest.mark.parametrize("manifest, task", [
    ("task: tabular/credit-default\ntrain: python train.py\npredict: model\n", "tabular/credit-default"),
    ("task: tabular/credit-default\ntrain: python train.py\npredict: model:load\nmodel: x\n", "tabular/credit-default"),
    ("task: tabular/no-such-task\ntrain: python train.py\npredict: model:load\n", "tabular/no-such-task"),
    ("train: python train.py\npredict: model:load\n", "unknown"),
    ("task: [\n", "unknown"),
])
def test_an_invalid_submission_keeps_the_task_its_manifest_names(tmp_path, manifest, task):
    """Even when the manifest itself breaks a rule, or names a task this grader does not have (its failure says
    so): only a manifest that names no task, or cannot be read, leaves the task unknown."""
    sub = make_submission(tmp_path / "s", manifest=manifest)
    (sub / "requirements.txt").write_text("pandas\n")  # another rule broken besides
    report = Grader(NeverRuns()).grade(sub, out_dir=tmp_path / "out")
    assert report.status == "invalid" and report.task.id == task
    assert json.loads((tmp_path / "out" / "report.json").read_text())["task"]["id"] == task
    if task == "tabular/no-such-task":
        assert any("unknown task 'tabular/no-such-task'" in f.message for f in report.failures)


def test_the_task_flag_names_the_task_of_an_invalid_submission(tmp_path):
    """Graded for a task (``--task``), the report is filed under it even when the manifest says another."""
    report = Grader(NeverRuns()).grade(make_submission(tmp_path / "s"), task_id="nlp/other", out_dir=tmp_path / "o")
    assert report.status == "invalid" and report.task.id == "nlp/other"


def test_compare_lists_an_invalid_submission_beside_a_graded_one(tmp_path):
    """The README's promise: a bad report is a row, not a refusal of the cohort."""
    from click.testing import CliRunner

    from grader.cli import main
    from tests.report import fixture_path

    sub = make_submission(tmp_path / "s")
    (sub / "requirements.txt").write_text("pandas\n")
    cohort = tmp_path / "cohort"
    Grader(NeverRuns()).grade(sub, out_dir=cohort / "bad", candidate="bad")
    (cohort / "good").mkdir()
    (cohort / "good" / "report.json").write_text(fixture_path("reference").read_text())
    done = CliRunner().invoke(main, ["compare", str(cohort / "bad"), str(cohort / "good"), "--json"])
    assert done.exit_code in (0, 1), done.output  # 2 would be "reports of different tasks"
    rows = json.loads(done.output)
    assert rows["task"] == "tabular/credit-default"
    assert sorted(v["status"] for v in rows["rows"]) == ["graded", "invalid"]


def test_an_error_report_of_a_batch_keeps_the_task_its_manifest_names(tmp_path):
    from grader.grading.batch import error_report

    sub = make_submission(tmp_path / "s")
    report = error_report(tmp_path / "out", str(sub), "s", None, "RuntimeError: boom", submission=sub)
    assert report.task.id == "tabular/credit-default"
    assert json.loads((tmp_path / "out" / "report.json").read_text())["task"]["id"] == "tabular/credit-default"
    assert error_report(tmp_path / "o2", "x.zip", "x", None, "boom", submission=tmp_path / "x.zip").task.id == "unknown"
    assert error_report(tmp_path / "o3", str(sub), "s", "nlp/other", "boom", submission=sub).task.id == "nlp/other"


def test_missing_answer_sections_are_warnings_of_the_report(tmp_path):
    """The contract's ANSWERS.md rule as a grading applies it: each question of the task's rubric without its
    section is a warning in report.json, said before anything runs (here the submission is invalid anyway)."""
    sub = make_submission(tmp_path / "s", extra={"ANSWERS.md": "## serving-latency\nA test answer.\n"})
    (sub / "train.py").unlink()
    report = Grader(NeverRuns()).grade(sub, out_dir=tmp_path / "out")
    assert report.status == "invalid"
    missing = [w for w in report.warnings if w.startswith("ANSWERS.md has no '## ")]
    assert {w.split("'")[1] for w in missing} == {"## drift-monitoring", "## retraining-rollback",
                                                   "## explaining-errors"}, report.warnings
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["warnings"] == report.warnings
