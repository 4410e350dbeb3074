"""Whether the candidate's Dockerfile builds offline on the runtime image, and says how to start.

The build itself is the sandbox's business (:meth:`grader.sandbox.base.Sandbox.build_image`, a
backend with the ``image_build`` capability); this module only reads the Dockerfile, asks for the
build and turns the result into points.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from grader.rubric.base import Outcome
from grader.sandbox.base import IMAGE_BUILD, Limits
from grader.sandbox.dockerfile import parse

if TYPE_CHECKING:
    from grader.sandbox.base import Sandbox

#: Points for a Dockerfile that is there but does not build; one that builds without saying how to
#: start the service (no CMD or ENTRYPOINT) gets BUILDS_NO_START.
PRESENT = 0.25
BUILDS_NO_START = 0.75


def check(path: Path, sandbox: Sandbox | None, *, limits: Limits | None = None, timeout_s: float = 300) -> Outcome:
    """Grade the Dockerfile at ``path`` (its folder is the build context) by building it in ``sandbox``."""
    steps = parse(path.read_text(encoding="utf-8", errors="replace"))
    if not any(s.keyword == "FROM" for s in steps):
        return Outcome(PRESENT, "the Dockerfile has no FROM instruction, so it cannot build")
    if sandbox is None or IMAGE_BUILD not in sandbox.capabilities:
        return Outcome(None, "a Dockerfile is present but was not built: building it needs the docker backend",
                       needs_review=True)
    limits = dataclasses.replace(limits or Limits(memory_mb=1024, pids=128), timeout_s=timeout_s)
    result = sandbox.build_image(path.parent, path, limits)
    evidence = result.log[-12:]
    if not result.ok:
        return Outcome(PRESENT, f"the Dockerfile does not build offline on the runtime image: {result.error}",
                       evidence=evidence)
    if not result.starts:
        return Outcome(BUILDS_NO_START, f"the Dockerfile builds offline on the runtime image ({result.steps} steps) "
                                        "but has no CMD or ENTRYPOINT: it does not say how to start the service",
                       evidence=evidence)
    return Outcome(1.0, f"the Dockerfile builds offline on the runtime image ({result.steps} steps) and says how "
                        "to start the service", evidence=evidence)
