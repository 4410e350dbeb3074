"""Remove what sandbox runs left behind, through the backend interface (``grader sandbox prune``).

A backend that creates lasting things (the docker backend's containers, volumes and images) says
how to find and remove them in :meth:`grader.sandbox.base.Sandbox.prune`; callers never need to
know its labels or its engine.
"""

from __future__ import annotations

from grader.sandbox.base import backends, load_builtin_backends


def prune(backend: str = "docker", *, all: bool = False) -> list[str]:
    """Remove what runs of ``backend`` left behind; the names of what was removed.

    By default only what belongs to dead sessions goes (their grader process is gone), so a
    grading in progress, here or on another machine sharing the engine, is never touched;
    ``all=True`` removes everything of the backend's, live sessions included. Raises
    :class:`grader.errors.SandboxError` (with a hint) when the backend's engine cannot be reached,
    and :class:`grader.errors.UnknownNameError` for a backend nobody registered.
    """
    load_builtin_backends()
    return backends.get(backend).prune(all=all)


__all__ = ["prune"]
