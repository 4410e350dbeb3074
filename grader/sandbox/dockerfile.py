"""A Dockerfile read into its instructions: what a backend builds and what a rubric looks at."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass
class Step:
    """One instruction: its keyword (upper case), its arguments, and the line it starts on."""

    keyword: str
    args: str
    line: int


def parse(text: str) -> list[Step]:
    """Instructions with their first line number; comments, blank lines and continuations handled."""
    steps: list[Step] = []
    pending: list[str] = []
    first = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comments inside a continuation are dropped, as the engine does
        if not pending:
            first = number
        pending.append(stripped[:-1].rstrip() if stripped.endswith("\\") else stripped)
        if not stripped.endswith("\\"):
            steps.append(_step(" ".join(p for p in pending if p), first))
            pending = []
    if pending:
        steps.append(_step(" ".join(pending), first))
    return steps


def _step(joined: str, line: int) -> Step:
    keyword, _, args = joined.partition(" ")
    return Step(keyword.upper(), args.strip(), line)


def exec_form(args: str) -> list[str] | None:
    """The exec form of an instruction's arguments (a JSON list of strings), or None for shell form."""
    if args.startswith("["):
        try:
            value = json.loads(args)
        except ValueError:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return None


__all__ = ["Step", "exec_form", "parse"]
