"""``cohort.json``, written by ``grader batch``: one entry per submission of the batch, with its verdict
and where its report is, so a person (or a script) reads a cohort without opening every report folder."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from grader.spec.base import StrictModel
from grader.spec.report import Outcome, Status
from grader.spec.similarity import SimilarityReport

COHORT_FILE = "cohort.json"


class CohortEntry(StrictModel):
    name: str = Field(description="The submission's folder under the batch's --out (unique within the batch).")
    path: str = Field(description="The submission as given: a folder or an archive.")
    status: Status
    outcome: Outcome = Field(description="passed, not_passed, invalid or error: the verdict of its report.")
    passed: bool
    score: float
    report: str = Field(description="Its report.json, relative to cohort.json.")
    resumed: bool = Field(default=False, description="Not graded by this run: an earlier report of the same "
                                                     "content, task, rubric and grader versions was kept.")
    duration_s: float | None = None


class Cohort(StrictModel):
    batch_id: str = Field(description="Also the `grader.batch` tag of every MLflow run of the batch.")
    grader_version: str
    started_at: str
    workers: int = Field(description="Gradings at once here, or (with `queue`) the queue workers that graded.")
    queue: str | None = Field(default=None, description="The queue's Redis URL (without its password), when the "
                                                        "cohort was graded through `grader batch --queue`.")
    submissions: list[CohortEntry]
    similarity: SimilarityReport | None = Field(default=None, description="Code similarity of every pair of "
                                                "submissions (`grader similarity`), when it could be computed.")

    @property
    def exit_code(self) -> int:
        return exit_code(entry.outcome for entry in self.submissions)


def exit_code(outcomes: Iterable[Outcome]) -> int:
    """The batch's exit code: 4 when any grading ended in a grader or infrastructure error (the cohort is
    incomplete, whatever the others say), else 0 when every submission passed, else 1."""
    seen = set(outcomes)
    if "error" in seen:
        return 4
    return 0 if seen <= {"passed"} else 1
