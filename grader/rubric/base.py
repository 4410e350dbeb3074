"""What a criterion kind is: a spec model for its YAML, and a function from a context to an outcome.

Kinds are registered by name (``metric``, ``check``, ``question``); a rubric's criterion names its
kind, and an unknown name gets a "did you mean". A kind never raises for a bad submission: what it
cannot grade it says so in its outcome.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from grader.registry import Registry
from grader.spec.base import StrictModel

if TYPE_CHECKING:
    from grader.sandbox.base import Sandbox
    from grader.spec.report import Report, Requirement, SecondOpinion
    from grader.spec.task import TaskSpec

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


class CriterionSpec(StrictModel):
    """Fields every criterion has, whatever its kind."""

    id: str = Field(pattern=ID_PATTERN, description="Unique in the rubric; reviews and task overrides name it.")
    kind: str
    title: str
    description: str = ""
    weight: float = Field(default=1.0, gt=0, description="Share of its section, relative to the other criteria.")
    required: bool = Field(default=False, description="The submission passes only with this criterion's full points.")


@dataclass
class Context:
    """What a criterion may look at: the report so far, the submission's files, the task, the sandbox."""

    report: Report
    task: TaskSpec
    submission: Path | None = None
    sandbox: Sandbox | None = None
    #: Outcomes graded ahead, by criterion id (:func:`grader.rubric.engine.grade_ahead`): used as they are.
    ready: dict[str, Outcome] = field(default_factory=dict)


@dataclass
class Outcome:
    """``fraction`` of the criterion's points (None: could not be graded, scores 0), and why."""

    fraction: float | None
    explanation: str
    evidence: list[str] = field(default_factory=list)
    needs_review: bool = False
    gate: Requirement | None = None
    second_opinion: SecondOpinion | None = None


class CriterionKind(abc.ABC):
    """A kind of criterion. Subclasses set ``name`` and ``spec`` and register with :data:`kinds`."""

    name: ClassVar[str]
    spec: ClassVar[type[CriterionSpec]]

    @abc.abstractmethod
    def grade(self, spec: CriterionSpec, ctx: Context) -> Outcome:
        """Grade one criterion of this kind."""

    def reads_report(self, spec: CriterionSpec) -> bool:
        """Whether grading ``spec`` looks at the report (if not, it can be graded while the runs go on)."""
        return True


kinds: Registry[type[CriterionKind]] = Registry("criterion kind")
BUILTIN_KINDS = ("grader.rubric.metric", "grader.rubric.checks", "grader.rubric.question")


def load_builtin_kinds() -> None:
    import importlib

    for module in BUILTIN_KINDS:
        importlib.import_module(module)
