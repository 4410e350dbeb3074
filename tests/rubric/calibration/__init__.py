"""The calibration set of the written questions: answers with an interviewer's points (README.md here),
and how the automatic grader's scores compare with them.

Read by ``benchmarks/answers_calibration.py`` (which prints the figures) and by
``tests/rubric/test_calibration.py`` (which holds the targets).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from scipy.stats import spearmanr

from grader.rubric import answers as md
from grader.rubric.question import QuestionSpec, grade_answer
from grader.rubric.spec import get_rubric

HERE = Path(__file__).resolve().parent
Quality = Literal["thorough", "concise", "partial", "padded", "buzzwords", "negated", "wrong", "off-topic", "restated"]
QUALITIES: tuple[Quality, ...] = ("thorough", "concise", "partial", "padded", "buzzwords", "negated", "wrong",
                                  "off-topic", "restated")
#: Answers an interviewer would call real answers, and the two kinds that only look like one.
REAL = ("thorough", "concise")
HOLLOW = ("padded", "buzzwords")
#: Answers that must earn almost nothing.
EMPTY = ("negated", "off-topic", "restated")


@dataclass(frozen=True)
class Item:
    question: str
    id: str
    quality: Quality
    points: float
    max_points: float
    text: str
    holdout: bool = False

    @property
    def share(self) -> float:
        """The interviewer's points as a share of the question's."""
        return self.points / self.max_points


@dataclass(frozen=True)
class Graded:
    item: Item
    score: float  # the automatic grader's share of the points, 0..1


def load(folder: Path = HERE) -> list[Item]:
    items = []
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for entry in data["answers"]:
            assert entry["quality"] in QUALITIES, f"{path.name}: {entry['id']}: unknown quality {entry['quality']!r}"
            items.append(Item(question=data["question"], id=entry["id"], quality=entry["quality"],
                              points=float(entry["points"]), max_points=float(data["max_points"]),
                              text=entry["text"], holdout=bool(entry.get("holdout", False))))
    return items


def questions(rubric: str = "ml-engineer") -> dict[str, QuestionSpec]:
    return {q.id: q for q in get_rubric(rubric).questions()}


def parse(item: Item) -> md.Answer:
    """The answer as it would stand in ANSWERS.md under its question's heading."""
    found = md.find(md.parse(f"## {item.question}\n\n{item.text}"), item.question)
    assert found is not None
    return found


Grade = Callable[[QuestionSpec, md.Answer], float]


def automatic(spec: QuestionSpec, answer: md.Answer) -> float:
    return grade_answer(spec, answer).fraction or 0.0


def grade_all(items: Sequence[Item], grade: Grade = automatic) -> list[Graded]:
    specs = questions()
    return [Graded(item, grade(specs[item.question], parse(item))) for item in items]


@dataclass(frozen=True)
class Figures:
    answers: int
    spearman: float
    mae: float  # in points of the question's max_points
    by_quality: dict[str, float]  # mean automatic share per quality

    def ratio_real_to_hollow(self) -> float:
        real = [self.by_quality[q] for q in REAL if q in self.by_quality]
        hollow = [self.by_quality[q] for q in HOLLOW if q in self.by_quality]
        if not real or not hollow:
            return float("nan")
        low = statistics.fmean(hollow)
        return float("inf") if low == 0 else statistics.fmean(real) / low


def figures(graded: Sequence[Graded]) -> Figures:
    rho = spearmanr([g.item.points for g in graded], [g.score for g in graded]).statistic
    mae = statistics.fmean(abs(g.score * g.item.max_points - g.item.points) for g in graded)
    by_quality = {q: statistics.fmean(g.score for g in graded if g.item.quality == q)
                  for q in QUALITIES if any(g.item.quality == q for g in graded)}
    return Figures(len(graded), float(rho), mae, by_quality)


def worst_empty(graded: Sequence[Graded]) -> Graded | None:
    """The negated, off-topic or restated answer that scored highest."""
    empty = [g for g in graded if g.item.quality in EMPTY]
    return max(empty, key=lambda g: g.score, default=None)
