"""``grader rubrics``: list and inspect rubrics."""

from __future__ import annotations

import click


@click.group()
def rubrics() -> None:
    """List and inspect rubrics."""


@rubrics.command("list")
def rubrics_list() -> None:
    """List the rubrics."""
    from rich.markup import escape
    from rich.table import Table

    from grader.cli.console import out
    from grader.errors import GraderError
    from grader.rubric.spec import discover_rubrics, load_rubric

    table = Table("id", "title", "pass mark", "sections")
    for name, path in discover_rubrics().items():
        try:
            r = load_rubric(path)
            table.add_row(r.id, r.title, f"{r.pass_mark:g}", ", ".join(f"{s.id} {s.weight:g}" for s in r.sections))
        except GraderError as exc:
            table.add_row(name, f"[red]invalid: {escape(exc.message.splitlines()[0])}[/]", "", "")
    out.print(table)


@rubrics.command("show")
@click.argument("name")
def rubrics_show(name: str) -> None:
    """Show a rubric's sections, criteria and questions with their key points."""
    from grader.cli.console import out
    from grader.rubric.question import QuestionSpec
    from grader.rubric.spec import get_rubric

    r = get_rubric(name)
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
