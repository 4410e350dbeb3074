"""The one place where a :class:`~grader.errors.GraderError` becomes what the user sees: its message,
its fix hint, and the exit code its class carries (2 for a :class:`~grader.errors.UsageError`,
3 for an invalid submission, 4 for the grader or its infrastructure)."""

from __future__ import annotations

from typing import NoReturn

import click

from grader.errors import GraderError


def fail(exc: GraderError) -> NoReturn:
    from rich.markup import escape

    from grader.cli.console import err

    err.print(f"[bold red]error:[/] {escape(exc.message)}")
    if exc.hint:
        err.print(f"  [dim]hint:[/] {escape(exc.hint)}")
    raise click.exceptions.Exit(exc.exit_code)
