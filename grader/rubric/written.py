"""Written answers graded alone (``grader answers``): an ANSWERS.md against a rubric's questions, no code run.

For rubric authors tuning key points, and for reading one candidate's answers without a grading.
The points are the ones a grading would give (:func:`grader.rubric.question.grade_answer`).
"""

from __future__ import annotations

from collections.abc import Sequence

from grader.errors import UnknownNameError, UsageError
from grader.rubric import answers as md
from grader.rubric import graders
from grader.rubric.base import Outcome
from grader.rubric.question import QuestionSpec, answer_in, grade_answer
from grader.rubric.spec import RubricSpec
from grader.spec.answers import AnswersGrade, QuestionGrade
from grader.spec.report import SecondOpinion


def question_points(rubric: RubricSpec) -> dict[str, float]:
    """Each question's points out of the rubric's 100."""
    points = {}
    for section in rubric.sections:
        weights = sum(c.weight for c in section.criteria)
        for c in section.criteria:
            if isinstance(c, QuestionSpec):
                points[c.id] = round(section.weight * c.weight / weights, 4)
    return points


def select(rubric: RubricSpec, only: Sequence[str] = ()) -> list[QuestionSpec]:
    """The rubric's questions, or the ones named in ``only`` (an unknown id is a usage error)."""
    questions: list[QuestionSpec] = [q for q in rubric.questions() if isinstance(q, QuestionSpec)]
    if not questions:
        raise UsageError(f"rubric {rubric.id!r} has no written questions (no criterion of kind 'question')",
                         "pick a rubric with questions: `grader rubrics list`")
    known = {q.id for q in questions}
    for name in only:
        if name not in known:
            raise UsageError(f"rubric {rubric.id!r} has no question {name!r}",
                             UnknownNameError("question", name, known).hint)
    return [q for q in questions if not only or q.id in only]


def grade_text(text: str, rubric: RubricSpec, only: Sequence[str] = (), second: str | None = None) -> AnswersGrade:
    """Grade the answers in ``text`` (an ANSWERS.md) to ``rubric``'s questions; with ``second``, ask that
    question grader too (:mod:`grader.rubric.judge`: a misconfigured one is a usage error, raised before any
    answer is graded; one that fails on an answer says so in that answer's second opinion)."""
    questions = select(rubric, only)
    opinion = graders.get(second) if second else None  # an unknown name or a missing setting: raised here
    points = question_points(rubric)
    parsed = md.parse(text)
    graded = []
    for spec in questions:
        answer = answer_in(parsed, spec)
        outcome = answer if isinstance(answer, Outcome) else grade_answer(spec, answer)
        so: SecondOpinion | None = None
        if opinion is not None and not isinstance(answer, Outcome):
            so = graders.second_opinion(spec, answer, grader=opinion)
        score = outcome.fraction or 0.0
        graded.append(QuestionGrade(id=spec.id, score=score, points=round(score * points[spec.id], 4),
                                    max_points=points[spec.id], explanation=outcome.explanation,
                                    evidence=outcome.evidence, second_opinion=so))
    return AnswersGrade(questions=graded)


def answered(text: str, questions: Sequence[QuestionSpec]) -> list[str]:
    """The ids of ``questions`` that ``text`` has a section for."""
    parsed = md.parse(text)
    return [q.id for q in questions if md.find(parsed, q.id) is not None]


def headings(text: str) -> list[str]:
    """The section headings of an ANSWERS.md, for saying which questions it answers."""
    return [a.heading for a in md.parse(text)]
