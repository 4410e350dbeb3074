"""grader: automated grading of machine-learning take-home submissions in a hardened sandbox."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("grader")
except PackageNotFoundError:  # running from a checkout without installing
    __version__ = "0.0.0+local"

from grader.errors import GraderError, SandboxError, SpecError, SubmissionError, UnknownNameError  # noqa: E402
from grader.grading import Grader, grade  # noqa: E402
from grader.metrics import Metric, metrics  # noqa: E402
from grader.report.model import Failure, Report  # noqa: E402
from grader.sandbox import Limits, Mount, RunResult, RunSpec, Sandbox, backends, get_backend  # noqa: E402
from grader.spec.submission import Manifest  # noqa: E402
from grader.spec.task import TaskSpec, discover_tasks, get_task, load_task  # noqa: E402

__all__ = [
    "Failure", "Grader", "GraderError", "Limits", "Manifest", "Metric", "Mount", "Report", "RunResult", "RunSpec",
    "Sandbox", "SandboxError", "SpecError", "SubmissionError", "TaskSpec", "UnknownNameError", "backends",
    "discover_tasks", "get_backend", "get_task", "grade", "load_task", "metrics",
]
