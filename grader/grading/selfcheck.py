"""What ``grader check`` tells a candidate beyond the metrics: the rubric's checks, and missing answers.

A self-check runs the rubric's ``check`` criteria (Dockerfile, README, tests, pins, ...) and says
which would not earn their points and why. For the written questions it only says which are not
answered: how answers are graded (their key points) is for interviewers, not for tuning answers.
"""

from __future__ import annotations

from grader.rubric import answers as md
from grader.rubric.base import Context, kinds, load_builtin_kinds
from grader.rubric.question import ANSWERS_FILE
from grader.rubric.spec import RubricSpec


def notes(rubric: RubricSpec, ctx: Context) -> list[str]:
    load_builtin_kinds()
    found: list[str] = []
    for spec in rubric.criteria():
        if spec.kind == "check":
            outcome = ctx.ready.get(spec.id) or kinds.get("check")().grade(spec, ctx)
            if outcome.fraction is None or outcome.fraction < 1:
                found.append(f"{spec.title}: {outcome.explanation}")
    path = ctx.submission / ANSWERS_FILE if ctx.submission else None
    parsed = md.parse(path.read_text(encoding="utf-8", errors="replace")) if path and path.is_file() else []
    for question in rubric.questions():
        answer = md.find(parsed, question.id)
        if answer is None or not answer.sentences:
            found.append(f"{ANSWERS_FILE} has no answer under '## {question.id}': {question.question}")
    return found
