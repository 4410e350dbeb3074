"""Question graders: ways to grade a written answer against its key points, registered by name.

The automatic grader (:mod:`grader.rubric.question`) gives the points. Another one, named in the
configuration (``GRADER_SECOND_OPINION``, off by default), gives a second opinion shown beside them
and never instead of them: the language-model judge (``llm``, :mod:`grader.rubric.judge`).
"""

from __future__ import annotations

import abc
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from grader.errors import GraderError
from grader.registry import Registry
from grader.spec.report import SecondOpinion

if TYPE_CHECKING:
    from grader.rubric import answers as md
    from grader.rubric.question import QuestionSpec

ENV_GRADER = "GRADER_SECOND_OPINION"
BUILTIN_GRADERS = ("grader.rubric.question", "grader.rubric.judge")


class QuestionGrader(abc.ABC):
    """Grades one written answer: a verdict per key point, and the share of the points it would give."""

    name: ClassVar[str]

    @abc.abstractmethod
    def opinion(self, spec: QuestionSpec, answer: md.Answer) -> SecondOpinion:
        """This grader's verdict on each key point of ``spec`` for ``answer``."""


question_graders: Registry[type[QuestionGrader]] = Registry("question grader")


def load_builtin_graders() -> None:
    import importlib

    for module in BUILTIN_GRADERS:
        importlib.import_module(module)


def get(name: str) -> QuestionGrader:
    """The grader registered as ``name``, ready to ask (an unknown name or a missing setting is a usage error)."""
    load_builtin_graders()
    return question_graders.get(name)()


def configured(env: Mapping[str, str] = os.environ) -> str | None:
    """The name of the grader asked for a second opinion, or None (the default: no second opinion)."""
    return env.get(ENV_GRADER) or None


def second_opinion(spec: QuestionSpec, answer: md.Answer, grader: QuestionGrader | None = None
                   ) -> SecondOpinion | None:
    """``grader``'s opinion of one answer, by default the configured one's (None when none is configured).
    Never raises for a grader that is misconfigured or cannot be reached: that is the opinion's note."""
    name = grader.name if grader is not None else configured()
    if not name:
        return None
    try:
        return (grader or get(name)).opinion(spec, answer)
    except GraderError as exc:
        return SecondOpinion(grader=name, fraction=None, note=str(exc))
