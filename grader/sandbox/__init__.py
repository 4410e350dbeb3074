"""Sandbox backends: run untrusted code with limits. See :mod:`grader.sandbox.base`."""

from grader.sandbox.base import Limits, Mount, RunResult, RunSpec, Sandbox, backends, get_backend

__all__ = ["Limits", "Mount", "RunResult", "RunSpec", "Sandbox", "backends", "get_backend"]
