"""``grader task``: list, show, scaffold, validate and export tasks."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group()
def tasks() -> None:
    """List, inspect, create, validate and export tasks (also spelt `grader tasks`)."""


@tasks.command("list")
def tasks_list() -> None:
    """List the bundled tasks."""
    from rich.markup import escape
    from rich.table import Table

    from grader.cli.console import out
    from grader.spec.catalog import summaries

    table = Table("id", "suite", "version", "title", "metrics")
    for t in summaries():
        if t.error is not None:
            table.add_row(t.id, "?", "?", f"[red]invalid: {escape(t.error)}[/]", "")
        else:
            table.add_row(t.id, t.suite, t.version, escape(t.title), ", ".join(t.metrics))
    out.print(table)


@tasks.command("show")
@click.argument("task_id")
def tasks_show(task_id: str) -> None:
    """Show a task's spec, limits and pass rule."""
    from grader.cli.console import out
    from grader.rubric.metric import MetricSpec
    from grader.spec.task import get_task

    t = get_task(task_id)
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
    from grader.cli.console import out
    from grader.sandbox.docker.image import LOCK_FILE
    from grader.spec.task import tasks_dir

    folder = scaffold(task_id, suite, root or tasks_dir(), LOCK_FILE)  # type: ignore[arg-type]
    out.print(f"created {folder}\nnext: put the data script in make_splits.py, fill in the TODOs of task.yaml, "
              f"README.md and data/LICENSE.md, write a real reference, then `grader task validate {folder}` "
              "(docs/adding-a-task.md)")


@tasks.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option("--no-grade", is_flag=True, help="Skip grading the reference and baseline in the sandbox.")
@click.option("--sandbox", "backend", type=click.Choice(["docker", "local"]), default="docker", show_default=True)
def tasks_validate(paths: tuple[Path, ...], no_grade: bool, backend: str) -> None:
    """Prove tasks sound: spec, checksums, formats, classes, no leakage, examples graded as expected."""
    from rich.markup import escape
    from rich.table import Table

    from grader.authoring.validate import validate
    from grader.cli.console import err, out
    from grader.sandbox import get_backend

    box = None if no_grade else get_backend(backend)
    failed = 0
    try:
        for path in paths:
            with err.status(f"Validating {path}", spinner="dots") as status:
                findings = validate(path, sandbox=box, progress=status.update)
            table = Table("check", "", "finding", title=str(path), title_justify="left")
            for f in findings:
                table.add_row(f.check, "[green]ok[/]" if f.ok else "[bold red]FAIL[/]", escape(f.message))
            out.print(table)
            failed += not all(f.ok for f in findings)
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
    from grader.cli.console import out
    from grader.sandbox.docker.image import LOCK_FILE
    from grader.spec.task import get_task

    files = export(get_task(task_id), out_dir, LOCK_FILE)
    out.print(f"starter kit for {task_id} in {out_dir} ({len(files)} files); the hidden test split is not in it")
