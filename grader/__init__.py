"""grader: automated grading of machine-learning take-home submissions in a hardened sandbox."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("grader")
except PackageNotFoundError:  # running from a checkout without installing
    __version__ = "0.0.0+local"

from grader.errors import GraderError, SandboxError, SpecError, SubmissionError, UnknownNameError  # noqa: E402
from grader.figures import Figure, figures, get_figure  # noqa: E402
from grader.grading import Grader, grade  # noqa: E402
from grader.metrics import Metric, metrics  # noqa: E402
from grader.report.model import Failure, Latency, Report, Reproducibility  # noqa: E402
from grader.report.write import write_reports  # noqa: E402
from grader.sandbox import (  # noqa: E402
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
from grader.spec.submission import Manifest  # noqa: E402
from grader.spec.task import TaskSpec, discover_tasks, get_task, load_task, with_overrides  # noqa: E402
from grader.tracking import Tracking, log_grading  # noqa: E402

__all__ = [
    "Companion", "CompanionResult", "Failure", "Figure", "Grader", "GraderError", "Latency", "Limits", "Manifest",
    "Metric", "Mount", "Report", "Reproducibility", "RunResult", "RunSpec", "Sandbox", "SandboxError", "SpecError",
    "SubmissionError", "TaskSpec", "Tracking", "UnknownNameError", "backends", "discover_tasks", "figures",
    "get_backend", "get_figure", "get_task", "grade", "load_task", "log_grading", "metrics", "with_overrides",
    "write_reports",
]
