"""``grader answers --json``: written answers graded alone, without running any code."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from grader.spec.report import SecondOpinion


class QuestionGrade(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The question's id: its heading in ANSWERS.md.")
    score: float = Field(ge=0, le=1, description="The share of the question's points earned automatically.")
    points: float
    max_points: float = Field(description="The question's points in the rubric (out of its 100).")
    explanation: str
    evidence: list[str] = Field(default_factory=list, description="Each key point counted, with the sentence that "
                                                                  "says it and the words that earned it.")
    second_opinion: SecondOpinion | None = Field(default=None, description="Another grader's verdict, when asked "
                                                                           "for (`--second-opinion`); not counted.")


class AnswersGrade(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: list[QuestionGrade]

    def to_json(self) -> dict[str, Any]:
        """The document `grader answers --json` prints: ``second_opinion`` only where there is one."""
        data = self.model_dump(mode="json")
        for question in data["questions"]:
            if question["second_opinion"] is None:
                del question["second_opinion"]
        return data
