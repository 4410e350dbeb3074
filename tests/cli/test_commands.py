"""The command tree (lazily loaded, fully listed) and the usage errors every command shares: exit 2,
a message naming what was wrong, the hint, and no traceback."""

from __future__ import annotations

import shutil

import click
import pytest
from click.testing import CliRunner

from grader.cli import COMMANDS, main
from grader.cli.errors import fail
from grader.errors import GraderError
from tests.report import fixture_path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})


def test_help_lists_every_command_with_its_line():
    result = invoke("--help")
    assert result.exit_code == 0, result.output
    for name, lazy in COMMANDS.items():
        assert f"  {name} " in result.output and lazy.help in result.output


def test_every_listed_command_loads_and_is_reachable_by_name():
    for name, lazy in COMMANDS.items():
        assert isinstance(lazy.load(), click.Command)
        assert main.commands[name] is lazy.load()
        assert invoke(name, "--help").exit_code == 0
    assert main.commands["task"] is main.commands["tasks"]
    assert set(COMMANDS) <= set(main.commands)


def test_an_unknown_command_is_a_usage_error_with_suggestions():
    result = invoke("taks")
    assert result.exit_code == 2 and "No such command 'taks'" in result.output and "'task'" in result.output


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.output.startswith("grader, version ")


@pytest.fixture
def report_dir(tmp_path):
    """A graded report's folder, as `grader grade --out` leaves it."""
    folder = tmp_path / "graded"
    folder.mkdir()
    shutil.copy(fixture_path("reference"), folder / "report.json")
    return folder


USAGE_ERRORS = {
    "task show: unknown": (["task", "show", "nope/nope"], "unknown task 'nope/nope'"),
    "tasks show: typo": (["tasks", "show", "tabular/credit-defualt"], "did you mean 'tabular/credit-default'"),
    "task export: typo": (["task", "export", "tabular/credit-defualt", "--out", "{tmp}/kit"], "did you mean"),
    "task export: not empty": (["task", "export", "tabular/credit-default", "--out", "{tmp}"], "is not empty"),
    "task new: bad id": (["task", "new", "Credit Default", "--suite", "tabular", "--root", "{tmp}"],
                         "is not '<suite>/<name>'"),
    "task new: other suite": (["task", "new", "nlp/x", "--suite", "tabular", "--root", "{tmp}"],
                              "must start with its suite"),
    "task validate: no such path": (["task", "validate", "{tmp}/nope", "--no-grade"], "does not exist"),
    "rubrics show: typo": (["rubrics", "show", "ml-enginer"], "did you mean 'ml-engineer'"),
    "schema: unknown kind": (["schema", "tusk"], "'tusk' is not one of"),
    "grade: unknown task": (["grade", "{tmp}", "--task", "tabular/credit-defualt"], "did you mean"),
    "grade: runs out of range": (["grade", "{tmp}", "--runs", "0"], "--runs"),
    "grade: no sandbox of that name": (["grade", "{tmp}", "--sandbox", "vm"], "'vm' is not one of"),
    "review: no report": (["review", "{tmp}"], "report.json not found"),
    "review: unknown criterion": (["review", "{report}", "--criterion", "recal", "--points", "1", "--note", "x"],
                                  "did you mean 'recall'"),
    "review: points out of range": (["review", "{report}", "--criterion", "recall", "--points", "99", "--note",
                                     "x"], "recall is worth 0 to 14 points, not 99"),
    "review: points without a note": (["review", "{report}", "--criterion", "recall", "--points", "1"],
                                      "a review needs a note"),
    "review: criterion without points": (["review", "{report}", "--criterion", "recall"], "needs --points"),
    "compare: nothing to compare": (["compare"], "give report folders"),
    "compare: unknown figure": (["compare", "{report}", "--sort", "recal"], "did you mean 'recall'"),
}


@pytest.mark.parametrize("args, message", USAGE_ERRORS.values(), ids=USAGE_ERRORS)
def test_usage_errors_exit_2(args, message, tmp_path, report_dir):
    result = invoke(*(a.format(tmp=tmp_path, report=report_dir) for a in args))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (report_dir / "reviews.json").exists()


def test_a_grader_error_prints_message_and_hint_as_written_and_exits_with_its_code():
    @click.command()
    def broken() -> None:
        fail(GraderError("cannot read [bold]x[/bold]", "look at [red]"))

    result = CliRunner().invoke(broken, [])
    assert result.exit_code == 4
    assert "error: cannot read [bold]x[/bold]" in result.output and "hint: look at [red]" in result.output


@pytest.mark.parametrize("command", ["grade", "check"])
def test_grade_and_check_offer_verbose(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "--verbose" in result.output


@pytest.mark.docker
def test_grade_prints_the_short_summary_and_everything_with_verbose(tmp_path):
    """The short summary by default (no rubric table), every criterion and table with --verbose."""
    from tests.helpers import EXAMPLES

    args = ["grade", str(EXAMPLES / "reference"), "--no-mlflow", "--runs", "1"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "short")], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output and "score " in result.output and "/100 (passes at 60)" in result.output
    assert "Confusion matrix" not in result.output and "…" not in result.output
    full = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "full"), "--verbose"], env={"COLUMNS": "80"})
    assert full.exit_code == 0, full.output
    for shown in ("Rubric ml-engineer", "Confusion matrix", "explaining-errors", "Phases:"):
        assert shown in full.output, shown
    assert "…" not in full.output
