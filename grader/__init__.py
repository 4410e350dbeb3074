"""grader: automated grading of machine-learning take-home submissions in a hardened sandbox.

The public API is imported on first use (PEP 562), so ``import grader`` and the CLI's start cost
nothing until a name is used: the pipeline pulls in scikit-learn, pandas and the docker SDK, and
even ``__version__`` reads the installed metadata (``importlib.metadata``) only when asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grader.exports import lazy_exports

#: Public name -> the module that defines it.
_API: dict[str, str] = {
    "__version__": "grader.version",
    **dict.fromkeys(["GraderError", "SandboxError", "SpecError", "SubmissionError", "UnknownNameError"],
                    "grader.errors"),
    **dict.fromkeys(["Figure", "figures", "get_figure"], "grader.evaluate.figures"),
    **dict.fromkeys(["Metric", "metrics"], "grader.evaluate.metrics"),
    **dict.fromkeys(["Grader", "grade"], "grader.grading.pipeline"),
    **dict.fromkeys(["Failure", "Latency", "Report", "Reproducibility"], "grader.spec.report"),
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


__getattr__, __dir__ = lazy_exports(__name__, _API, globals())


if TYPE_CHECKING:
    from grader.errors import GraderError, SandboxError, SpecError, SubmissionError, UnknownNameError
    from grader.evaluate.figures import Figure, figures, get_figure
    from grader.evaluate.metrics import Metric, metrics
    from grader.grading.pipeline import Grader, grade
    from grader.integrations.mlflow import Tracking, log_grading
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
    from grader.spec.report import Failure, Latency, Report, Reproducibility
    from grader.spec.task import TaskSpec, discover_tasks, get_task, load_task, with_overrides
    from grader.version import __version__
