"""Sandbox backends: run untrusted code with limits. See :mod:`grader.sandbox.base`."""

from grader.sandbox.base import (
    IMAGE_BUILD,
    BuildResult,
    Companion,
    CompanionResult,
    Limits,
    Mount,
    RunResult,
    RunSpec,
    Sandbox,
    backends,
    get_backend,
)

__all__ = ["IMAGE_BUILD", "BuildResult", "Companion", "CompanionResult", "Limits", "Mount", "RunResult", "RunSpec",
           "Sandbox", "backends", "get_backend"]
