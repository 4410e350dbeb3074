"""Whether the candidate's Dockerfile builds offline on the runtime image, and says how to start.

The build itself is the sandbox's business (:meth:`grader.sandbox.base.Sandbox.build_image`, a
backend with the ``image_build`` capability); this module only reads the Dockerfile, asks for the
build and turns the result into points.
"""

from __future__ import annotations

import dataclasses
import re
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
#: Lines of a step's output that explain nothing: pip's progress and "already there" chatter.
NOISE = re.compile(r"^\s*(?:Requirement already satisfied|Collecting |Downloading |Using cached |Obtaining |"
                   r"Installing collected packages|Looking in indexes|Looking in links|Processing |"
                   r"WARNING: Running pip as the 'root' user|\[notice\]|"
                   r"[━─╸╺█|#=>.\s-]*$|"  # a bar, or nothing
                   r"[━─╸╺█|#=>\s-]+.*(?:\beta\b|[kKMG]i?B/s|\d%))")  # a progress bar with its figures
#: Error lines kept from the failing step: its last ones, where the error is.
ERROR_LINES = 15
#: Steps kept from a long build: the last ones (the failing step is last).
STEPS = 12


def evidence(log: list[str], ok: bool) -> list[str]:
    """The build log kept to what explains the outcome: the steps, and for a failed build the failing
    step's output without pip's noise (progress bars, "Requirement already satisfied", "Collecting", ...).

    A log entry is a step (``line 7: RUN ...``) or the output of the step before it, indented by two
    spaces (grader/sandbox/docker/build.py)."""
    steps = [entry for entry in log if not entry.startswith("  ")]
    if ok or not log or not log[-1].startswith("  "):
        return steps[-STEPS:]
    lines = [line for line in log[-1].split("\n") if line.strip() and not NOISE.match(line.strip())]
    return steps[-STEPS:] + lines[-ERROR_LINES:]


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
    kept = evidence(result.log, result.ok)
    if not result.ok:
        return Outcome(PRESENT, f"the Dockerfile does not build offline on the runtime image: {result.error}",
                       evidence=kept)
    if not result.starts:
        return Outcome(BUILDS_NO_START, f"the Dockerfile builds offline on the runtime image ({result.steps} steps) "
                                        "but has no CMD or ENTRYPOINT: it does not say how to start the service",
                       evidence=kept)
    return Outcome(1.0, f"the Dockerfile builds offline on the runtime image ({result.steps} steps) and says how "
                        "to start the service", evidence=kept)
