"""The ``grader`` command line. Exit codes follow the contract: 0 passed, 1 not passed,
2 usage error, 3 invalid submission, 4 grader or infrastructure error."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.errors import GraderError

if TYPE_CHECKING:
    from grader.report.model import Report

console = Console(stderr=True)
out = Console()


def _fail(exc: GraderError) -> None:
    console.print(f"[bold red]error:[/] {exc.message}")
    if exc.hint:
        console.print(f"  [dim]hint:[/] {exc.hint}")
    sys.exit(exc.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="grader")
def main() -> None:
    """Grade machine-learning take-home submissions in a hardened sandbox."""


@main.command()
@click.argument("submission", type=click.Path(path_type=Path))
@click.option("--task", "task_id", help="Task id to grade against (default: the one in submission.yaml).")
@click.option("--sandbox", "backend", type=click.Choice(["docker", "local"]), default="docker", show_default=True,
              help="Where candidate code runs. 'local' does NOT isolate: only for code you trust.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for report.json, logs and predictions (default: out/<submission name>).")
@click.option("--seed", type=int, default=None, help="Override the task's GRADER_SEED.")
@click.option("--runs", type=click.IntRange(1, 10), default=None,
              help="Trainings with the same seed for the reproducibility check (default: the task's).")
@click.option("--json", "as_json", is_flag=True, help="Print report.json to stdout instead of the summary.")
@click.option("--candidate", help="Who submitted it: shown in reports, `grader compare` and MLflow.")
@click.option("--mlflow-uri", envvar="MLFLOW_TRACKING_URI", show_envvar=True,
              help="MLflow tracking URI (a server, or sqlite:///path.db) [default: sqlite:///mlflow.db here].")
@click.option("--no-mlflow", is_flag=True, help="Do not log the grading to MLflow.")
@click.option("--ci", "ci_mode", is_flag=True,
              help="For CI jobs: print GitHub annotations and append report.md to $GITHUB_STEP_SUMMARY.")
def grade(submission: Path, task_id: str | None, backend: str, out_dir: Path | None, seed: int | None,
          runs: int | None, as_json: bool, candidate: str | None, mlflow_uri: str | None, no_mlflow: bool,
          ci_mode: bool) -> None:
    """Grade SUBMISSION (a folder, .zip or .tar.gz) and write the reports.

    Writes report.json, report.md, report.html and junit.xml (plus logs and predictions) to --out,
    then logs the grading to MLflow. Exit codes: 0 passed, 1 not passed, 3 invalid submission,
    4 grading error (2: wrong usage).
    """
    from grader.grading.pipeline import Grader
    from grader.integrations.mlflow import Tracking
    from grader.report.terminal import render
    from grader.sandbox import get_backend
    from grader.spec.task import discover_tasks

    if task_id is not None and task_id not in discover_tasks():
        from grader.errors import UnknownNameError

        err = UnknownNameError("task", task_id, discover_tasks())
        raise click.UsageError(str(err))
    if backend == "local":
        console.print("[bold red on yellow] WARNING [/] [bold]--sandbox local runs the submission's code directly "
                      "on this machine with resource limits only. It does NOT isolate untrusted code.[/]")
    out_dir = out_dir or Path("out") / submission.name.removesuffix(".zip").removesuffix(".tar.gz")
    _writable(out_dir)
    try:
        box = get_backend(backend)
    except GraderError as exc:
        _fail(exc)
    with console.status("Preparing", spinner="dots") as status:
        def progress(message: str) -> None:
            status.update(message)
            console.log(message)

        try:
            overrides = {"reproducibility": {"runs": runs}} if runs is not None else None
            tracking = None if no_mlflow else Tracking(mlflow_uri)
            report = Grader(box, progress=progress, seed=seed, task_overrides=overrides, tracking=tracking).grade(
                submission, task_id=task_id, out_dir=out_dir, candidate=candidate)
        except KeyboardInterrupt:
            console.print(f"[bold red]interrupted[/]: partial report in {out_dir / 'report.json'}")
            sys.exit(4)
        finally:
            box.close()
    if as_json:
        out.print_json(report.model_dump_json())
    else:
        render(report, out)
        out.print(f"Reports written to [bold]{out_dir}[/]")
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
        _fail(GraderError(f"cannot write the reports to {folder}: {exc.strerror or exc}",
                          "pass --out with a folder you can write to"))


def _ci_outputs(report: Report, submission: Path, out_dir: Path) -> None:
    from grader.integrations import github as ci

    markdown = out_dir / "report.md"
    summary = ci.append_summary(markdown.read_text(encoding="utf-8") if markdown.is_file()
                                else f"**grader**: report.md could not be written; see {out_dir}/report.json\n")
    for line in ci.workflow_commands(report, submission):
        click.echo(line)  # plain stdout: the runner parses these lines, rich must not wrap them
    if summary is not None:
        click.echo(f"Job summary appended to {summary}", err=True)


@main.group()
def tasks() -> None:
    """List, inspect, create, validate and export tasks (also spelt `grader task`)."""


main.add_command(tasks, name="task")


@tasks.command("list")
def tasks_list() -> None:
    """List the bundled tasks."""
    from grader.spec.task import discover_tasks, load_task

    table = Table("id", "suite", "version", "title", "metrics")
    for task_id, path in discover_tasks().items():
        try:
            t = load_task(path)
            table.add_row(t.id, t.suite, str(t.version), t.title, ", ".join(t.metrics))
        except GraderError as exc:
            table.add_row(task_id, "?", "?", f"[red]invalid: {exc.message.splitlines()[0]}[/]", "")
    out.print(table)


@tasks.command("show")
@click.argument("task_id")
def tasks_show(task_id: str) -> None:
    """Show a task's spec, limits and pass rule."""
    from grader.rubric.metric import MetricSpec
    from grader.spec.task import get_task

    try:
        t = get_task(task_id)
    except GraderError as exc:
        _fail(exc)
    out.print(f"[bold]{t.id}[/] (version {t.version}): {t.title}\n")
    out.print(t.description.strip() + "\n")
    out.print(f"suite: {t.suite}   label: {t.label_column}   classes: {t.classes}   positive: {t.positive_class}")
    out.print(f"data: {t.data.source} ({t.data.licence}); train {t.data.train.rows} rows, "
              f"valid {t.data.valid.rows} rows, hidden test {t.data.test.rows} rows")
    out.print(f"metrics: {', '.join(t.metrics)}")
    rubric = t.rubric_spec()
    gates = [c.gate_rule() for c in rubric.criteria() if isinstance(c, MetricSpec) and c.gate is not None]
    out.print(f"rubric: {rubric.id} ({rubric.title}); passes at {rubric.pass_mark:g} of 100 points"
              + (f" with {' and '.join(str(g) for g in gates)}" if gates else ""))
    out.print("limits: " + ", ".join(f"{k}={v}" for k, v in t.limits.model_dump().items()))
    questions = rubric.questions()
    if questions:
        out.print("\nWritten questions: answer each in ANSWERS.md under its own '## <id>' heading:")
        for q in questions:
            out.print(f"  ## {q.id}: {q.question}")
    readme = t.root / "README.md"
    if readme.is_file():
        out.print(f"\nTask statement for candidates: {readme}")


@tasks.command("new")
@click.argument("task_id")
@click.option("--suite", type=click.Choice(["tabular", "nlp", "cv"]), required=True)
@click.option("--root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Tasks folder (default: the bundled tasks/, or $GRADER_TASKS_DIR).")
def tasks_new(task_id: str, suite: str, root: Path | None) -> None:
    """Scaffold a task folder: spec, candidate README, data script stub, reference and baseline."""
    from grader.authoring.scaffold import scaffold
    from grader.sandbox.docker.image import LOCK_FILE
    from grader.spec.task import tasks_dir

    try:
        folder = scaffold(task_id, suite, root or tasks_dir(), LOCK_FILE)  # type: ignore[arg-type]
    except GraderError as exc:
        _fail(exc)
    out.print(f"created {folder}\nnext: put the data script in make_splits.py, fill in the TODOs of task.yaml and "
              f"README.md, write a real reference, then `grader task validate {folder}` (docs/adding-a-task.md)")


@tasks.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option("--no-grade", is_flag=True, help="Skip grading the reference and baseline in the sandbox.")
@click.option("--sandbox", "backend", type=click.Choice(["docker", "local"]), default="docker", show_default=True)
def tasks_validate(paths: tuple[Path, ...], no_grade: bool, backend: str) -> None:
    """Prove tasks sound: spec, checksums, formats, classes, no leakage, examples graded as expected."""
    from grader.authoring.validate import validate
    from grader.sandbox import get_backend

    box = None
    failed = 0
    try:
        if not no_grade:
            box = get_backend(backend)
        for path in paths:
            with console.status(f"Validating {path}", spinner="dots") as status:
                findings = validate(path, sandbox=box, progress=status.update)
            table = Table("check", "", "finding", title=str(path), title_justify="left")
            for f in findings:
                table.add_row(f.check, "[green]ok[/]" if f.ok else "[bold red]FAIL[/]", escape(f.message))
            out.print(table)
            failed += not all(f.ok for f in findings)
    except GraderError as exc:
        _fail(exc)
    finally:
        if box is not None:
            box.close()
    out.print(f"{len(paths) - failed} of {len(paths)} task(s) sound")
    sys.exit(1 if failed else 0)


@tasks.command("export")
@click.argument("task_id")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True)
def tasks_export(task_id: str, out_dir: Path) -> None:
    """Write the candidates' starter kit: task README, public data, template submission, runtime, questions."""
    from grader.authoring.export import export
    from grader.sandbox.docker.image import LOCK_FILE
    from grader.spec.task import get_task

    try:
        files = export(get_task(task_id), out_dir, LOCK_FILE)
    except GraderError as exc:
        _fail(exc)
    out.print(f"starter kit for {task_id} in {out_dir} ({len(files)} files); the hidden test split is not in it")


@main.command()
@click.argument("submission", type=click.Path(path_type=Path))
@click.option("--sandbox", "backend", type=click.Choice(["docker", "local"]), default="docker", show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for report.json and logs (default: out/check-<submission name>).")
def check(submission: Path, backend: str, out_dir: Path | None) -> None:
    """Self-check a submission before handing it in: the contract, then train and predict in the sandbox on
    the PUBLIC validation split (never the hidden test), with metrics, latency and every problem found."""
    from grader.grading.pipeline import Grader
    from grader.report.terminal import render
    from grader.sandbox import get_backend

    out_dir = out_dir or Path("out") / f"check-{submission.name.removesuffix('.zip').removesuffix('.tar.gz')}"
    try:
        box = get_backend(backend)
    except GraderError as exc:
        _fail(exc)
    try:
        with console.status("Checking", spinner="dots") as status:
            report = Grader(box, progress=status.update, check=True).grade(submission, out_dir=out_dir)
    finally:
        box.close()
    render(report, out)
    out.print(f"Report written to [bold]{out_dir}[/] (a self-check on public data, not a grade)")
    sys.exit(report.exit_code)


@main.command()
@click.argument("kind", type=click.Choice(["task", "rubric", "report", "submission"]))
def schema(kind: str) -> None:
    """Print the JSON Schema of a task spec, a rubric, report.json or submission.yaml."""
    from grader.cli.schema import schema_for

    out.print_json(json.dumps(schema_for(kind)))


@main.command()
@click.argument("report_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--criterion", help="The criterion to score (its id, as in the report's rubric).")
@click.option("--points", type=float, help="Your points for it, from 0 to its maximum.")
@click.option("--note", default="", help="Why: kept with the review and shown in every report.")
@click.option("--reviewer", help="Who reviews (default: $GRADER_REVIEWER, git's user.name, or the login).")
def review(report_dir: Path, criterion: str | None, points: float | None, note: str, reviewer: str | None) -> None:
    """Record an interviewer's score for one criterion of a graded report, or list the criteria.

    The review is kept in REPORT_DIR/reviews.json (who, when, why) and applied whenever the report is
    written; report.json is rewritten with the new total, and the automatic points stay beside it.
    """
    from grader.report.terminal import render
    from grader.rubric import review as reviews

    try:
        if criterion is None:
            report = reviews.read_report(report_dir)
            reviews.apply(report, report_dir)
        else:
            if points is None:
                raise click.UsageError("--criterion needs --points (and --note)")
            report = reviews.add(report_dir, criterion, points, note, reviewer)
    except GraderError as exc:
        _fail(exc)
    render(report, out)
    sys.exit(0)


@main.group()
def rubrics() -> None:
    """List and inspect rubrics."""


@rubrics.command("list")
def rubrics_list() -> None:
    """List the rubrics."""
    from grader.rubric.spec import discover_rubrics, load_rubric

    table = Table("id", "title", "pass mark", "sections")
    for name, path in discover_rubrics().items():
        try:
            r = load_rubric(path)
            table.add_row(r.id, r.title, f"{r.pass_mark:g}", ", ".join(f"{s.id} {s.weight:g}" for s in r.sections))
        except GraderError as exc:
            table.add_row(name, f"[red]invalid: {exc.message.splitlines()[0]}[/]", "", "")
    out.print(table)


@rubrics.command("show")
@click.argument("name")
def rubrics_show(name: str) -> None:
    """Show a rubric's sections, criteria and questions with their key points."""
    from grader.rubric.question import QuestionSpec
    from grader.rubric.spec import get_rubric

    try:
        r = get_rubric(name)
    except GraderError as exc:
        _fail(exc)
    out.print(f"[bold]{r.id}[/] (version {r.version}): {r.title}; passes at {r.pass_mark:g} of 100\n")
    for section in r.sections:
        weights = sum(c.weight for c in section.criteria)
        out.print(f"[bold]{section.title}[/] ({section.weight:g} points)")
        for c in section.criteria:
            share = section.weight * c.weight / weights
            out.print(f"  {c.id} [{c.kind}] {share:.1f} points{' (required)' if c.required else ''}: {c.title}")
            if isinstance(c, QuestionSpec):
                for kp in c.key_points:
                    out.print(f"      - {kp.id}: {kp.description}")


@main.group()
def sandbox() -> None:
    """Build and inspect the sandbox runtime."""


@sandbox.command("build")
@click.option("--force", is_flag=True, help="Rebuild even if the runtime image exists.")
def sandbox_build(force: bool) -> None:
    """Build the candidate runtime image (offline when no registry is reachable), reusing what exists."""
    from grader.sandbox.docker.image import ensure_image

    with console.status("Building the runtime image", spinner="dots") as status:
        def progress(message: str) -> None:
            status.update(message)
            console.log(message)

        try:
            image_id = ensure_image(force=force, progress=progress)
        except GraderError as exc:
            _fail(exc)
    out.print(f"runtime image ready: {image_id}")


@sandbox.command("doctor")
def sandbox_doctor() -> None:
    """Say whether a Docker engine is reachable, which runtime image is present, and the hardening in force."""
    from grader.sandbox.docker.doctor import diagnose

    ok = diagnose(out)
    sys.exit(0 if ok else 4)


@sandbox.command("prune")
def sandbox_prune() -> None:
    """Remove every container and volume the grader left behind (after a crash of the grader itself)."""
    import docker

    from grader.sandbox.cleanup import prune

    try:
        removed = prune(docker.from_env())
    except docker.errors.DockerException as exc:
        _fail(GraderError(f"cannot reach the Docker engine: {exc}", "start dockerd or set DOCKER_HOST"))
    out.print(f"removed {len(removed)} leftover container(s)/volume(s)")


@main.command("compare")
@click.argument("reports", nargs=-1, type=click.Path(path_type=Path))
@click.option("--mlflow", "experiment", metavar="TASK_ID",
              help="Compare every grading logged to this task's MLflow experiment (with or instead of REPORTS).")
@click.option("--mlflow-uri", envvar="MLFLOW_TRACKING_URI", show_envvar=True,
              help="MLflow tracking URI for --mlflow [default: sqlite:///mlflow.db here].")
@click.option("--sort", "sort_by", default="score", show_default=True,
              help="score, a rubric section id, or a figure (recall, latency.p95_ms, ...); best first.")
@click.option("--html", "html_out", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the table as a self-contained HTML page, sortable by clicking a column.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON instead.")
def compare(reports: tuple[Path, ...], experiment: str | None, mlflow_uri: str | None, sort_by: str,
            html_out: Path | None, as_json: bool) -> None:
    """Compare candidates of one task side by side: REPORTS are report folders or report.json files.

    Exits 0 when every report was read, 1 when some could not be (they are rows saying why), 2 when
    the reports are for different tasks or --sort names no figure.
    """
    import tempfile

    from grader.compare import table as cmp
    from grader.compare.html import render as render_html
    from grader.compare.terminal import render as render_terminal

    if not reports and experiment is None:
        raise click.UsageError("give report folders, or --mlflow TASK_ID")
    try:
        with tempfile.TemporaryDirectory(prefix="grader-compare-") as tmp:
            sources: list[Path] = list(reports)
            if experiment is not None:
                from grader.integrations.mlflow import Tracking, download_reports

                sources += download_reports(Tracking(mlflow_uri), experiment, Path(tmp))
            table = cmp.compare(cmp.load_rows(sources), sort=sort_by)
    except GraderError as exc:
        _fail(exc)
    if html_out is not None:
        html_out.parent.mkdir(parents=True, exist_ok=True)
        html_out.write_text(render_html(table), encoding="utf-8")
    if as_json:
        out.print_json(json.dumps(table.to_json()))
    else:
        render_terminal(table, out)
        if html_out is not None:
            out.print(f"HTML table written to [bold]{escape(str(html_out))}[/]")
    sys.exit(1 if any(row.unreadable for row in table.rows) else 0)


if __name__ == "__main__":
    main()
