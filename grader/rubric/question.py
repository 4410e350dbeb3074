"""``question`` criteria: a written answer in ANSWERS.md, graded against the key points the rubric lists.

A key point is covered when a *sentence* of the answer uses one of its terms or patterns. What a
keyword-stuffer writes earns nothing: fragments and lists of terms are not sentences; a sentence
made mostly of rubric terms is not counted; and one sentence backs at most two key points, since
explaining a point takes words. Short answers get a share of the points in proportion to their
length up to ``min_words``. Every automatic score here is marked for human review.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator, model_validator

from grader.rubric import answers as md
from grader.rubric.base import ID_PATTERN, Context, CriterionKind, CriterionSpec, Outcome, kinds
from grader.spec.base import StrictModel

ANSWERS_FILE = "ANSWERS.md"
#: A sentence backs at most this many key points.
POINTS_PER_SENTENCE = 2
#: A sentence whose words are more than this share rubric terms is stuffing, not an answer.
MAX_TERM_DENSITY = 0.5
QUOTE = 200


def term_pattern(term: str) -> re.Pattern[str]:
    """A term as a case-insensitive regex: separators are optional and flexible (``start-up`` = ``startup``
    = ``start up``), and terms of four or more letters match as word prefixes (``retrain`` matches
    ``retraining``); shorter ones (``ms``, ``psi``) only as whole words."""
    parts = [re.escape(p) for p in re.split(r"[\s_-]+", term.strip().lower()) if p]
    body = r"[\s_-]*".join(parts)
    tail = r"\w*" if len(term.strip()) >= 4 and term.strip()[-1].isalnum() else r"\b"
    return re.compile(rf"(?<![\w]){body}{tail}", re.I)


class KeyPoint(StrictModel):
    id: str = Field(pattern=ID_PATTERN)
    description: str = Field(description="What a good answer says, in a sentence: shown to candidates' reviewers.")
    weight: float = Field(default=1.0, gt=0)
    terms: list[str] = Field(default_factory=list, description="Words or phrases that show the point is covered.")
    patterns: list[str] = Field(default_factory=list, description="Regular expressions, case-insensitive.")

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _something_to_find(self) -> KeyPoint:
        if not self.terms and not self.patterns:
            raise ValueError(f"key point {self.id!r} has neither terms nor patterns: nothing could show it is covered")
        return self

    @cached_property
    def matchers(self) -> list[re.Pattern[str]]:
        return [term_pattern(t) for t in self.terms] + [re.compile(p, re.I) for p in self.patterns]


class QuestionSpec(CriterionSpec):
    kind: Literal["question"]
    question: str = Field(description="The question, as candidates read it.")
    min_words: int = Field(default=40, ge=0, description="Words of prose for the full share of the points.")
    key_points: list[KeyPoint] = Field(min_length=1)

    @field_validator("key_points", mode="before")
    @classmethod
    def _not_empty(cls, value: object) -> object:
        if isinstance(value, list) and not value:
            raise ValueError("a question needs at least one key point: without them its answer cannot be graded")
        return value

    @model_validator(mode="after")
    def _unique(self) -> QuestionSpec:
        ids = [k.id for k in self.key_points]
        if len(set(ids)) != len(ids):
            raise ValueError(f"question {self.id!r}: key point ids must be unique")
        return self


def _term_words(text: str, matchers: list[re.Pattern[str]]) -> int:
    """How many of the sentence's words are inside a match of any rubric term."""
    spans = [m.span() for rx in matchers for m in rx.finditer(text)]
    return sum(1 for w in md.WORD.finditer(text) if any(a <= w.start() < b for a, b in spans))


def _quote(sentence: md.Sentence) -> str:
    text = sentence.text if len(sentence.text) <= QUOTE else sentence.text[:QUOTE - 1] + "…"
    return f"line {sentence.line}: \"{text}\""


@kinds.register("question")
class QuestionKind(CriterionKind):
    name = "question"
    spec = QuestionSpec

    def grade(self, spec: CriterionSpec, ctx: Context) -> Outcome:
        assert isinstance(spec, QuestionSpec)
        path = ctx.submission / ANSWERS_FILE if ctx.submission else None
        if path is None or not path.is_file():
            return Outcome(0.0, f"{ANSWERS_FILE} is missing: no answer to {spec.id!r}", needs_review=True)
        answer = md.find(md.parse(path.read_text(encoding="utf-8", errors="replace")), spec.id)
        if answer is None or not answer.sentences:
            what = "is empty" if answer is not None else "is missing"
            return Outcome(0.0, f"the '## {spec.id}' section of {ANSWERS_FILE} {what}: no points", needs_review=True)
        return grade_answer(spec, answer)


def grade_answer(spec: QuestionSpec, answer: md.Answer) -> Outcome:
    every_term = [rx for kp in spec.key_points for rx in kp.matchers]
    covered: dict[str, md.Sentence] = {}
    stuffed: list[md.Sentence] = []
    fragments: list[md.Sentence] = []
    for sentence in answer.sentences:
        hits = [kp for kp in spec.key_points if any(rx.search(sentence.text) for rx in kp.matchers)]
        if not hits:
            continue
        if not sentence.prose:
            fragments.append(sentence)
            continue
        if _term_words(sentence.text, every_term) > MAX_TERM_DENSITY * sentence.words:
            stuffed.append(sentence)
            continue
        for kp in [kp for kp in hits if kp.id not in covered][:POINTS_PER_SENTENCE]:
            covered[kp.id] = sentence
    total = sum(kp.weight for kp in spec.key_points)
    coverage = sum(kp.weight for kp in spec.key_points if kp.id in covered) / total
    length = 1.0 if spec.min_words == 0 else min(1.0, answer.prose_words / spec.min_words)
    found = [kp for kp in spec.key_points if kp.id in covered]
    missing = [kp for kp in spec.key_points if kp.id not in covered]
    parts = [f"covers {len(found)} of {len(spec.key_points)} key points"
             + (f" ({', '.join(kp.id for kp in found)})" if found else "")]
    if missing:
        parts.append("missing: " + "; ".join(f"{kp.id} ({kp.description})" for kp in missing))
    parts.append(f"{answer.prose_words} words in sentences")
    if length < 1:
        parts.append(f"shorter than the {spec.min_words} words a full answer takes, so {length:.0%} of the points")
    if stuffed:
        parts.append(f"{len(stuffed)} sentence(s) made mostly of key terms were not counted ({_quote(stuffed[0])})")
    if fragments:
        parts.append(f"{len(fragments)} line(s) name key terms without a sentence to explain them and were not "
                     f"counted ({_quote(fragments[0])})")
    evidence = [f"{kp.id}: {_quote(covered[kp.id])}" for kp in found]
    return Outcome(round(coverage * length, 4), "; ".join(parts), evidence=evidence, needs_review=True)
