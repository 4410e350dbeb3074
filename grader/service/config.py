"""Where the service keeps its state, and its knobs: one object built by ``grader serve`` and ``grader admin``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import UsageError
from grader.paths import data_dir
from grader.submission.intake import ARCHIVE_SUFFIXES

if TYPE_CHECKING:
    from grader.service.db import Submission

#: The default cap on one upload, per assessment unless the assessment sets its own.
DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024
#: Gradings of one submission the service starts at most: the first, then retries of infrastructure failures.
MAX_TRIES = 3
#: Seconds between heartbeats of a server's running gradings.
HEARTBEAT_S = 5.0
#: A running grading whose server has not reported for this long is taken back and queued again
#: (``GRADER_SERVICE_STALE_AFTER_S`` of ``grader serve`` changes it).
STALE_AFTER_S = 30.0
#: The shortest ``stale_after_s``: two missed heartbeats, so a busy but live server never loses its gradings.
MIN_STALE_AFTER_S = 2 * HEARTBEAT_S


def default_data() -> Path:
    """``<data dir>/service``: beside the user's MLflow store (``grader.paths.data_dir``)."""
    return data_dir() / "service"


@dataclass(frozen=True)
class ServiceConfig:
    """``data``: the folder of uploads, report folders and (by default) the SQLite database.
    ``db``: a SQLAlchemy URL (``sqlite:///...`` or ``postgresql://...``); None for ``<data>/grader.db``.
    ``queue``: a Redis URL: gradings go to ``grader worker`` there instead of local workers.
    """

    data: Path
    db: str | None = None
    queue: str | None = None
    workers: int = 1
    sandbox: str = "docker"
    mlflow_uri: str | None = None
    mlflow: bool = True
    stale_after_s: float = STALE_AFTER_S
    max_tries: int = MAX_TRIES
    #: Seconds between the dispatcher's and the reaper's rounds.
    poll_s: float = 0.5
    #: A running grading is moved to ``error`` after this long; None: from its task's phase timeouts.
    grading_timeout_s: float | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise UsageError(f"--workers must be at least 1, not {self.workers}", "give --workers 1 or more")
        if self.stale_after_s < MIN_STALE_AFTER_S:
            raise UsageError(f"a grading cannot be taken back from its server after {self.stale_after_s:g} s: its "
                             f"server reports every {HEARTBEAT_S:g} s, so a live one would lose its gradings",
                             f"set GRADER_SERVICE_STALE_AFTER_S to {MIN_STALE_AFTER_S:g} or more (default "
                             f"{STALE_AFTER_S:g})")

    @property
    def db_url(self) -> str:
        return self.db or f"sqlite:///{(self.data / 'grader.db').resolve()}"

    @property
    def submissions_dir(self) -> Path:
        return self.data / "submissions"

    @property
    def incoming_dir(self) -> Path:
        """Uploads being received: on the same file system as the submissions, so keeping one is a rename."""
        return self.data / "incoming"

    @property
    def kits_dir(self) -> Path:
        return self.data / "kits"

    def submission_dir(self, submission_id: str) -> Path:
        return self.submissions_dir / submission_id

    def report_dir(self, submission_id: str) -> Path:
        return self.submission_dir(submission_id) / "report"

    def upload_path(self, row: Submission) -> Path:
        """Where a submission's upload is kept, named ``upload`` with its archive's suffix."""
        return self.submission_dir(row.id) / upload_name(row.filename)


def upload_name(filename: str) -> str:
    lower = filename.lower()
    suffix = next((s for s in ARCHIVE_SUFFIXES if lower.endswith(s)), "")
    return f"upload{suffix}"
