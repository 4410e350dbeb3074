"""``grader grade --baseline``: what can be told before grading is a usage error (exit 2) naming the folder."""

from __future__ import annotations

from click.testing import CliRunner

from grader.cli import main
from tests.helpers import make_submission


def test_a_missing_baseline_is_a_usage_error_before_anything_runs(tmp_path):
    sub = make_submission(tmp_path / "s")
    result = CliRunner().invoke(main, ["grade", str(sub), "--no-mlflow", "--out", str(tmp_path / "out"),
                                       "--baseline", str(tmp_path / "nowhere")], env={"COLUMNS": "400"})
    assert result.exit_code == 2, result.output
    said = result.output.replace("\n", "")
    assert "--baseline: " in said and "nowhere/report.json not found" in said and "earlier `grader grade`" in said
    assert not (tmp_path / "out" / "report.json").exists()


def test_the_baseline_cannot_be_the_out_folder(tmp_path):
    sub = make_submission(tmp_path / "s")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["grade", str(sub), "--no-mlflow", "--out", str(out), "--baseline", str(out)])
    assert result.exit_code == 2 and "would overwrite its own baseline" in result.output.replace("\n", " ")
