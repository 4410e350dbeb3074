"""The commands' output: results on stdout, progress and errors on stderr."""

from __future__ import annotations

import json

import click
from rich.console import Console

out = Console()
#: Progress lines carry the time, not the source line that logged them (rich's ``log_path``).
err = Console(stderr=True, log_path=False)


def print_json(text: str) -> None:
    """Print a JSON document on stdout, indented: highlighted on a terminal, and when piped the same
    text without rich's highlighting, which costs a fifth of a second on a schema."""
    if out.is_terminal:
        out.print_json(text)
    else:
        click.echo(json.dumps(json.loads(text), indent=2, ensure_ascii=False))
