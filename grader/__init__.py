"""grader: automated grading of machine-learning take-home submissions in a hardened sandbox.

The public API is imported on first use (PEP 562), so ``import grader`` and the CLI's start cost
nothing until a name is used: the pipeline pulls in scikit-learn, pandas and the docker SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from grader.version import __version__

#: Public name -> the module that defines it.
_API: dict[str, str] = {
    **dict.fromkeys(["GraderError", "SandboxError", "SpecError", "SubmissionError", "UnknownNameError"],
                    "grader.errors"),
    **dict.fromkeys(["Figure", "figures", "get_figure"], "grader.evaluate.figures"),
    **dict.fromkeys(["Metric", "metrics"], "grader.evaluate.metrics"),
    **dict.fromkeys(["Grader", "grade"], "grader.grading.pipeline"),
    **dict.fromkeys(["Failure", "Latency", "Report", "Reproducibility"], "grader.report.model"),
    "write_reports": "grader.report.write",
    **dict.fromkeys(["Companion", "CompanionResult", "Limits", "Mount", "RunResult", "RunSpec", "Sandbox", "backends",
                     "get_backend"], "grader.sandbox.base"),
    "Manifest": "grader.spec.manifest",
    **dict.fromkeys(["TaskSpec", "discover_tasks", "get_task", "load_task", "with_overrides"], "grader.spec.task"),
    **dict.fromkeys(["Tracking", "log_grading"], "grader.integrations.mlflow"),
}

__all__ = [
    "__version__", "Companion", "CompanionResult", "Failure", "Figure", "Grader", "GraderError", "Latency", "Limits",
    "Manifest", "Metric", "Mount", "Report", "Reproducibility", "RunResult", "RunSpec", "Sandbox", "SandboxError",
    "SpecError", "SubmissionError", "TaskSpec", "Tracking", "UnknownNameError", "backends", "discover_tasks",
    "figures", "get_backend", "get_figure", "get_task", "grade", "load_task", "log_grading", "metrics",
    "with_overrides", "write_reports",
]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'grader' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


if TYPE_CHECKING:
    from grader.errors import GraderError, SandboxError, SpecError, SubmissionError, UnknownNameError
    from grader.evaluate.figures import Figure, figures, get_figure
    from grader.evaluate.metrics import Metric, metrics
    from grader.grading.pipeline import Grader, grade
    from grader.integrations.mlflow import Tracking, log_grading
    from grader.report.model import Failure, Latency, Report, Reproducibility
    from grader.report.write import write_reports
    from grader.sandbox.base import (
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
    from grader.spec.manifest import Manifest
    from grader.spec.task import TaskSpec, discover_tasks, get_task, load_task, with_overrides
