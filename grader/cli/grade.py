"""``grader grade`` and ``grader check``: the two commands that run a submission."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from grader.errors import GraderError

if TYPE_CHECKING:
    from grader.spec.report import Report

BACKENDS = click.Choice(["docker", "local"])


@click.command()
@click.argument("submission", type=click.Path(path_type=Path))
@click.option("--task", "task_id", help="Task id to grade against (default: the one in submission.yaml).")
@click.option("--sandbox", "backend", type=BACKENDS, default="docker", show_default=True,
              help="Where candidate code runs. 'local' does NOT isolate: only for code you trust.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for report.json, logs and predictions (default: out/<submission name>).")
@click.option("--seed", type=int, default=None, help="Override the task's GRADER_SEED.")
@click.option("--runs", type=click.IntRange(1, 10), default=None,
              help="Trainings with the same seed for the reproducibility check (default: the task's).")
@click.option("--json", "as_json", is_flag=True, help="Print report.json to stdout instead of the summary.")
@click.option("--candidate", help="Who submitted it: shown in reports, `grader compare` and MLflow.")
@click.option("--mlflow-uri", envvar="MLFLOW_TRACKING_URI", show_envvar=True,
              help="MLflow tracking URI (a server, or sqlite:///path.db) [default: the user's store, "
                   "<data dir>/mlflow.db: ~/.local/share/grader unless $GRADER_DATA_DIR or $XDG_DATA_HOME "
                   "says otherwise].")
@click.option("--no-mlflow", is_flag=True, help="Do not log the grading to MLflow.")
@click.option("--baseline", type=click.Path(path_type=Path), default=None, metavar="REPORT_DIR",
              help="A previous grading of the same task (its --out folder): the reports give the change of every "
                   "figure from it, metrics with a paired interval.")
@click.option("--ci", "ci_mode", is_flag=True,
              help="For CI jobs: print GitHub annotations and append report.md to $GITHUB_STEP_SUMMARY.")
@click.option("--verbose", "-v", is_flag=True,
              help="Print the whole summary (every criterion, per-class figures, each run), not the short one.")
def grade(submission: Path, task_id: str | None, backend: str, out_dir: Path | None, seed: int | None,
          runs: int | None, as_json: bool, candidate: str | None, mlflow_uri: str | None, no_mlflow: bool,
          baseline: Path | None, ci_mode: bool, verbose: bool) -> None:
    """Grade SUBMISSION (a folder, .zip or .tar.gz) and write the reports.

    Writes report.json, report.md, report.html and junit.xml (plus logs and predictions) to --out,
    then logs the grading to MLflow. Exit codes: 0 passed, 1 not passed, 3 invalid submission,
    4 grading error (2: wrong usage).
    """
    from grader.cli.console import err, out, print_json
    from grader.errors import UnknownNameError
    from grader.grading.pipeline import Grader
    from grader.integrations.mlflow import Tracking, logged_where
    from grader.report.terminal import render
    from grader.sandbox import get_backend
    from grader.spec.task import discover_tasks
    from grader.submission.intake import submission_name

    if task_id is not None and task_id not in (known := discover_tasks()):
        raise UnknownNameError("task", task_id, known)
    if backend == "local":
        err.print("[bold red on yellow] WARNING [/] [bold]--sandbox local runs the submission's code directly "
                  "on this machine with resource limits only. It does NOT isolate untrusted code.[/]")
    out_dir = out_dir or Path("out") / submission_name(submission)
    _writable(out_dir)
    if baseline is not None:
        _baseline_folder(baseline, out_dir)
    box = get_backend(backend)
    with err.status("Preparing", spinner="dots") as status:
        def progress(message: str) -> None:
            status.update(message)
            err.log(message)

        try:
            overrides = {"reproducibility": {"runs": runs}} if runs is not None else None
            tracking = None if no_mlflow else Tracking(mlflow_uri)
            report = Grader(box, progress=progress, seed=seed, task_overrides=overrides, tracking=tracking,
                            baseline=baseline).grade(submission, task_id=task_id, out_dir=out_dir, candidate=candidate)
        except KeyboardInterrupt:
            err.print(f"[bold red]interrupted[/]: partial report in {out_dir / 'report.json'}")
            sys.exit(4)
        finally:
            box.close()
    if as_json:
        print_json(report.model_dump_json())
    else:
        render(report, out, verbose=verbose)
        out.print(f"Reports written to [bold]{out_dir}[/]")
        if tracking is not None:
            out.print(logged_where(report, tracking), markup=False, highlight=False)
    if ci_mode:
        _ci_outputs(report, submission, out_dir)
    sys.exit(report.exit_code)


def _writable(folder: Path) -> None:
    """Fail before any work when the reports could not be written (exit 4, as for any grader error)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".grader-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise GraderError(f"cannot write the reports to {folder}: {exc.strerror or exc}",
                          "pass --out with a folder you can write to") from None


def _baseline_folder(baseline: Path, out_dir: Path) -> None:
    """What can be told of --baseline before grading: a report folder, and not the one being written."""
    from grader.errors import UsageError
    from grader.report.write import read_report

    if baseline.resolve() == out_dir.resolve():
        raise UsageError(f"--baseline {baseline} is the --out folder: the grading would overwrite its own baseline",
                         "keep the baseline's folder and write this grading to another --out")
    try:
        read_report(baseline)  # missing or unreadable: said now, before the sandbox runs
    except GraderError as exc:
        raise UsageError(f"--baseline: {exc.message}", "pass the --out folder of an earlier `grader grade` "
                                                       "of the same task") from None


def _ci_outputs(report: Report, submission: Path, out_dir: Path) -> None:
    from grader.integrations import github as ci

    markdown = out_dir / "report.md"
    summary = ci.append_summary(markdown.read_text(encoding="utf-8") if markdown.is_file()
                                else f"**grader**: report.md could not be written; see {out_dir}/report.json\n")
    for line in ci.workflow_commands(report, submission):
        click.echo(line)  # plain stdout: the runner parses these lines, rich must not wrap them
    if summary is not None:
        click.echo(f"Job summary appended to {summary}", err=True)


@click.command()
@click.argument("submission", type=click.Path(path_type=Path))
@click.option("--sandbox", "backend", type=BACKENDS, default="docker", show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for report.json and logs (default: out/check-<submission name>).")
@click.option("--verbose", "-v", is_flag=True, help="Print the whole summary, not the short one.")
def check(submission: Path, backend: str, out_dir: Path | None, verbose: bool) -> None:
    """Self-check a submission before handing it in: the contract, then train and predict in the sandbox on
    the PUBLIC validation split (never the hidden test), with metrics, latency and every problem found."""
    from rich.markup import escape

    from grader.cli.console import err, out
    from grader.grading.pipeline import Grader
    from grader.report import selfcheck
    from grader.report.terminal import render
    from grader.sandbox import get_backend
    from grader.submission.intake import submission_name

    out_dir = out_dir or Path("out") / f"check-{submission_name(submission)}"
    box = get_backend(backend)
    try:
        with err.status("Checking", spinner="dots") as status:
            report = Grader(box, progress=status.update, check=True).grade(submission, out_dir=out_dir)
    finally:
        box.close()
    render(report, out, verbose=verbose)
    if (estimate := selfcheck.view(report)) is not None:  # plainly, after the report: what would fail, the estimate
        if estimate.failing:
            out.print(f"[bold red]{len(estimate.failing)} gate(s) would fail[/] on the public validation split:")
            for line in estimate.failing:
                out.print(f"  - {escape(line)}")
        out.print(escape(estimate.headline))
    out.print(f"Report written to [bold]{escape(str(out_dir))}[/] (a self-check on public data, not a grade)")
    sys.exit(report.exit_code)
