"""One error hierarchy: every error the grader raises on purpose carries a fix hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GraderError(Exception):
    """Base of every error the grader raises on purpose.

    ``hint`` tells the reader how to fix the problem; the CLI prints it under the message.
    """

    exit_code: int = 4

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class SpecError(GraderError):
    """A task or rubric file is malformed: the fault of whoever wrote the task."""


class SubmissionError(GraderError):
    """The submission breaks the contract and cannot be graded (report status ``invalid``)."""

    exit_code = 3


class UsageError(GraderError):
    """The caller asked for something that cannot be: a name nobody knows, a value out of range.
    On the command line that is a usage error (exit 2), not a fault of the grader."""

    exit_code = 2


class SandboxError(GraderError):
    """The sandbox infrastructure failed (no engine, missing image): report status ``error``."""


class UnknownNameError(UsageError, KeyError):
    """A lookup of a name nobody registered (a task, rubric, criterion...), with a did-you-mean
    suggestion. A name inside a task or rubric file is the file's fault: loaders re-raise it as
    :class:`SpecError`."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known {kind}s: {', '.join(known) or 'none'}"
        super().__init__(f"unknown {kind} {name!r}", hint)

    __str__ = GraderError.__str__
