"""``question`` criteria: a written answer in ANSWERS.md, graded against the key points the rubric lists.

A key point counts where a sentence of the answer *says* it, in whatever words: a key point lists
cues (a term, or words that must come together, like ``compare|beat + live|current|champion``), and
a sentence carrying one of them affirmatively says the point; one sentence may say several. What
does not count, so that an interviewer would agree with the score:

- a cue made only of the question's own words (``roll back`` in an answer to "how would you roll
  back?"), and questions asked back;
- a cue under a negation ("I would **not** retrain on a schedule", "a canary is **unnecessary**"):
  the point is *denied*, and a point the answer denies without saying it elsewhere costs half its
  weight;
- a list of terms: a line that is not a sentence, a sentence made mostly of terms, and terms of
  several key points listed in a row ("SHAP, LIME, reason codes and fairness audits") only *name*
  the points, for a quarter of their weight.

Short answers get a share of the points in proportion to their length up to ``min_words``. Every
credit quotes the sentence and the words that earned it; every automatic score is marked for
human review.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from grader.rubric import answers as md
from grader.rubric import graders, language
from grader.rubric.base import ID_PATTERN, Context, CriterionKind, CriterionSpec, Outcome, kinds
from grader.spec.base import StrictModel
from grader.spec.report import KeyPointVerdict, SecondOpinion

ANSWERS_FILE = "ANSWERS.md"
#: A sentence whose words are more than this share rubric terms is stuffing, not an answer (a dense but
#: real sentence, "the leading indicators are input drift (feature distributions, missing values)...", has
#: about half).
MAX_TERM_DENSITY = 2 / 3
#: The share of a key point's weight earned by only naming it (in a list of terms).
NAMED_CREDIT = 0.25
#: The share of a key point's weight lost by denying it and never saying it.
DENIAL_PENALTY = 0.5
#: A sentence touching this many key points without a figure, reason, condition or plan only names them.
TOUR_POINTS = 3
#: The words of a cue's parts must lie within this many words of each other.
CUE_SPAN_WORDS = 12
#: A quoted sentence longer than this is cut at a clause or word boundary after the words that earned
#: the point, with " …" where the rest was left out; shorter ones are quoted whole.
QUOTE = 400
#: Where a long sentence may be cut: after a clause's punctuation, else between words.
_CLAUSE_END = re.compile(r"[,;:)\]](?=\s)|\s[-–—](?=\s)")


@functools.cache
def term_pattern(term: str) -> re.Pattern[str]:
    """A term as a case-insensitive regex: separators are optional and flexible (``start-up`` = ``startup``
    = ``start up``), and terms of four or more letters match as word prefixes (``retrain`` matches
    ``retraining``); shorter ones (``ms``, ``psi``) only as whole words."""
    parts = [re.escape(p) for p in re.split(r"[\s_-]+", term.strip().lower()) if p]
    body = r"[\s_-]*".join(parts)
    tail = r"\w*" if len(term.strip()) >= 4 and term.strip()[-1].isalnum() else r"\b"
    return re.compile(rf"(?<![\w]){body}{tail}", re.I)


def _alternative(text: str, lexicon: dict[str, list[str]], where: str) -> list[str]:
    """One alternative of a cue, checked: a term, ``/regex/``, or ``@name`` (the entries of the question's
    lexicon). Returned as the terms and ``/regex/`` it stands for; :func:`compiled` makes them patterns."""
    text = text.strip()
    if not text:
        raise ValueError(f"{where}: an empty alternative (two '|' in a row, or a '+' at an end)")
    if text.startswith("@"):
        name = text[1:]
        if name not in lexicon:
            known = ", ".join(sorted(lexicon)) or "none"
            raise ValueError(f"{where}: unknown lexicon entry {text!r} (the question's lexicon has: {known})")
        return [p for entry in lexicon[name] for p in _alternative(entry, {}, f"{where}, lexicon {name!r}")]
    if len(text) > 2 and text.startswith("/") and text.endswith("/"):
        try:
            re.compile(text[1:-1])
        except re.error as exc:
            raise ValueError(f"{where}: {text!r} is not a regular expression: {exc}") from None
    return [text]


@functools.cache
def compiled(alternative: str) -> re.Pattern[str]:
    """An alternative's pattern: ``/regex/`` as written, ``term:...`` (a key point's ``terms``) and any other
    alternative as a term."""
    if alternative.startswith("term:"):
        return term_pattern(alternative[5:])
    if len(alternative) > 2 and alternative.startswith("/") and alternative.endswith("/"):
        return re.compile(alternative[1:-1], re.I)
    return term_pattern(alternative)


@dataclass(frozen=True)
class Cue:
    """Words that show a key point: one of each group, within :data:`CUE_SPAN_WORDS` of each other.
    Checked when the rubric loads, compiled when first used (a rubric has hundreds of terms)."""

    source: str
    alternatives: tuple[tuple[str, ...], ...]

    @classmethod
    def parse(cls, text: str, lexicon: dict[str, list[str]], where: str) -> Cue:
        groups = tuple(tuple(p for alt in _split(group, "|") for p in _alternative(alt, lexicon, where))
                       for group in _split(text, " + "))
        return cls(text, groups)

    @cached_property
    def groups(self) -> tuple[tuple[re.Pattern[str], ...], ...]:
        return tuple(tuple(compiled(alt) for alt in group) for group in self.alternatives)


def _split(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep``, except inside a ``/regex/`` alternative (which may hold ``|`` and ``+``)."""
    parts, start, i = [], 0, 0
    while i < len(text):
        if text[i] == "/" and text[start:i].strip() == "":
            close = next((j for j in range(i + 1, len(text)) if text[j] == "/"
                          and (j + 1 == len(text) or text[j + 1] in "|" or text.startswith(" + ", j + 1))), None)
            if close is not None:
                i = close + 1
                continue
        if text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts


@dataclass(frozen=True)
class Hit:
    """Where a cue matched in a sentence: the spans of its parts."""

    point: str
    cue: str
    spans: tuple[tuple[int, int], ...]
    text: str

    @property
    def start(self) -> int:
        return min(a for a, _ in self.spans)

    @property
    def end(self) -> int:
        return max(b for _, b in self.spans)


class KeyPoint(StrictModel):
    id: str = Field(pattern=ID_PATTERN)
    description: str = Field(description="What a good answer says, in a sentence: shown to candidates' reviewers.")
    weight: float = Field(default=1.0, gt=0)
    terms: list[str] = Field(default_factory=list, description="Words or phrases that show the point is covered.")
    patterns: list[str] = Field(default_factory=list, description="Regular expressions, case-insensitive.")
    cues: list[str] = Field(
        default_factory=list,
        description="Rubric version 2. Words that together show the point: groups joined by ' + ' must all appear "
                    "within a few words of each other, alternatives in a group are separated by '|'; an alternative "
                    "is a term, '/regex/', or '@name' for the entries of the question's lexicon. "
                    "Example: 'compare|beat|outperform + @live-model'.")

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
        if not self.terms and not self.patterns and not self.cues:
            raise ValueError(f"key point {self.id!r} has no terms, patterns or cues: nothing could show it is covered")
        return self

    @cached_property
    def matchers(self) -> list[re.Pattern[str]]:
        """The single-word matchers (terms and patterns); cues are compiled by the question (they use its lexicon)."""
        return [term_pattern(t) for t in self.terms] + [re.compile(p, re.I) for p in self.patterns]


class QuestionSpec(CriterionSpec):
    kind: Literal["question"]
    question: str = Field(description="The question, as candidates read it.")
    min_words: int = Field(default=40, ge=0, description="Words of prose for the full share of the points.")
    lexicon: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Rubric version 2. Named lists of synonyms the key points' cues refer to as '@name'.")
    key_points: list[KeyPoint] = Field(min_length=1)
    _cues: dict[str, list[Cue]] = PrivateAttr(default_factory=dict)

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
        for name, entries in self.lexicon.items():
            if not entries:
                raise ValueError(f"question {self.id!r}: lexicon entry {name!r} is empty")
        self._cues = {
            kp.id: [Cue(t, ((f"term:{t}",),)) for t in kp.terms] + [Cue(p, ((f"/{p}/",),)) for p in kp.patterns]
            + [Cue.parse(c, self.lexicon, f"question {self.id!r}, key point {kp.id!r}, cue {c!r}") for c in kp.cues]
            for kp in self.key_points}
        return self

    def uses_version_2(self) -> bool:
        return bool(self.lexicon) or any(kp.cues for kp in self.key_points)

    def cues(self, point: str) -> list[Cue]:
        return self._cues[point]

    @cached_property
    def echo(self) -> language.Echo:
        return language.Echo(self.question)


def hits(spec: QuestionSpec, sentence: language.Sentence) -> Iterator[Hit]:
    """Every match of every key point's cues in ``sentence`` (one per anchor of a cue)."""
    text = sentence.text
    for kp in spec.key_points:
        for cue in spec.cues(kp.id):
            found: list[list[tuple[int, int]]] = []
            for group in cue.groups:
                spans = [m.span() for rx in group for m in rx.finditer(text) if m.end() > m.start()]
                if not spans:
                    break
                found.append(spans)
            else:
                yield from _combine(kp.id, cue, found, sentence)


def _combine(point: str, cue: Cue, found: list[list[tuple[int, int]]], sentence: language.Sentence) -> Iterator[Hit]:
    """The hits of one cue whose parts were all found: each anchor with the nearest match of every other part,
    all within :data:`CUE_SPAN_WORDS` words and between the same hard breaks."""
    text = sentence.text
    for anchor in found[0]:
        spans = [anchor]
        at = sentence.word_index(anchor[0])
        for others in found[1:]:
            best = min(others, key=lambda s: abs(sentence.word_index(s[0]) - at))
            if abs(sentence.word_index(best[0]) - at) > CUE_SPAN_WORDS:
                break
            spans.append(best)
        else:
            if len(spans) == 1 or sentence.same_part(a for a, _ in spans):
                yield Hit(point, cue.source, tuple(spans), " + ".join(text[a:b] for a, b in spans))


@dataclass
class Reading:
    """What one sentence does with each key point it touches."""

    sentence: md.Sentence
    said: dict[str, list[Hit]] = field(default_factory=dict)
    named: dict[str, list[Hit]] = field(default_factory=dict)
    denied: dict[str, tuple[Hit, str]] = field(default_factory=dict)
    kind: Literal["answer", "echo", "question", "fragment", "stuffed", "filler"] = "answer"


def read(spec: QuestionSpec, sentence: md.Sentence) -> Reading:
    """Which key points ``sentence`` says, only names, or denies, and why."""
    reading = Reading(sentence)
    text = sentence.text
    s = language.Sentence(text)
    found = list(hits(spec, s))
    echo = spec.echo
    real = [h for h in found if not all(echo.covers(text[a:b]) for a, b in h.spans)]
    if not real:
        reading.kind = "filler" if s.filler else "echo" if found or echo.share(text) >= 0.6 else "answer"
        return reading
    if s.is_question:
        reading.kind = "question"
        return reading
    if not sentence.prose:
        reading.kind = "fragment"
        return reading
    # Single terms only: a cue's parts come with words between them, and a long match (a quote) is not a term.
    terms = [h for h in found if len(h.spans) == 1 and len(h.text.split()) <= 3]
    covered = [w for w in s.words if any(a <= w.start < b for h in terms for a, b in h.spans)]
    if len(covered) > MAX_TERM_DENSITY * sentence.words:
        reading.kind = "stuffed"
        return reading
    affirmed: list[Hit] = []
    for h in real:
        why = s.negation(h.start, h.end)
        if why is None:
            affirmed.append(h)
        elif h.point not in reading.denied:
            reading.denied[h.point] = (h, why)
    # Terms in a list name their points; a list of one point's examples in a statement says it.
    listed = [h for h in affirmed if all(s.in_list(a) for a, _ in h.spans)]
    by_list: dict[tuple[int, int], set[str]] = {}
    for h in listed:
        span = next(sp for sp in s.lists if sp[0] <= h.start < sp[1])
        by_list.setdefault(span, set()).add(h.point)
    for h in affirmed:
        if h in listed:
            span = next(sp for sp in s.lists if sp[0] <= h.start < sp[1])
            examples = len(by_list[span]) == 1 and s.concrete
            (reading.said if examples else reading.named).setdefault(h.point, []).append(h)
        else:
            reading.said.setdefault(h.point, []).append(h)
    if len(set(reading.said) | set(reading.named)) >= TOUR_POINTS and not s.concrete:
        # A statement that makes several points gives a figure, a reason, a condition or a plan for them.
        for point, point_hits in reading.said.items():
            reading.named.setdefault(point, []).extend(point_hits)
        reading.said = {}
    for point in reading.said:
        reading.named.pop(point, None)
        reading.denied.pop(point, None)
    return reading


@dataclass
class Grade:
    """The key points of one answer, each said, named or denied where first seen, and the score."""

    fraction: float
    length: float  # the share of min_words written in sentences, capped at 1
    said: dict[str, tuple[md.Sentence, list[Hit]]]
    named: dict[str, md.Sentence]
    denied: dict[str, tuple[md.Sentence, str]]
    not_counted: dict[str, list[md.Sentence]]


def assess(spec: QuestionSpec, answer: md.Answer) -> Grade:
    said: dict[str, tuple[md.Sentence, list[Hit]]] = {}
    named: dict[str, md.Sentence] = {}
    denied: dict[str, tuple[md.Sentence, str]] = {}
    not_counted: dict[str, list[md.Sentence]] = {}
    for sentence in answer.sentences:
        r = read(spec, sentence)
        if r.kind != "answer":
            not_counted.setdefault(r.kind, []).append(sentence)
            continue
        for point, point_hits in r.said.items():
            said.setdefault(point, (sentence, point_hits))
        for point in r.named:
            named.setdefault(point, sentence)
        for point, (_, why) in r.denied.items():
            denied.setdefault(point, (sentence, why))
    for point in said:
        named.pop(point, None)
        denied.pop(point, None)
    for point in denied:
        named.pop(point, None)
    total = sum(kp.weight for kp in spec.key_points)
    earned = sum(kp.weight * (1.0 if kp.id in said else NAMED_CREDIT if kp.id in named else 0.0)
                 - kp.weight * (DENIAL_PENALTY if kp.id in denied else 0.0) for kp in spec.key_points)
    coverage = max(0.0, earned) / total
    length = 1.0 if spec.min_words == 0 else min(1.0, answer.prose_words / spec.min_words)
    return Grade(round(coverage * length, 4), length, said, named, denied, not_counted)


def _quote(sentence: md.Sentence, point_hits: list[Hit] | None = None) -> str:
    """``line <n>: "<sentence>"``: the whole sentence, or a long one up to a clause boundary after the
    words that earned the point, then `` …``; never cut inside a word."""
    return f"line {sentence.line}: \"{clip(sentence.text, max((h.end for h in point_hits or []), default=0))}\""


def clip(text: str, keep: int = 0) -> str:
    """``text`` whole when it is at most :data:`QUOTE` characters, else cut at the last clause boundary
    (else word boundary) that keeps its first ``keep`` characters and most of :data:`QUOTE`, with `` …``."""
    if len(text) <= QUOTE:
        return text
    limit = max(QUOTE, keep + 80)  # room for the clause that holds the last matched word
    floor = max(keep, QUOTE // 2)
    clauses = [m.start() + (1 if m.group()[0] in ",;:)]" else 0) for m in _CLAUSE_END.finditer(text, 0, limit + 1)]
    cuts = [c for c in clauses if floor <= c <= limit]
    if not cuts:
        cuts = [m.start() for m in re.finditer(r"\s", text) if floor <= m.start() <= limit]
    if not cuts:  # one word longer than the room: cut after it
        cuts = [m.start() for m in re.finditer(r"\s", text) if m.start() >= floor][:1]
    cut = cuts[-1] if cuts else len(text)
    if cut >= len(text.rstrip()):
        return text
    return text[:cut].rstrip(" ,;:-–—") + " …"


def _matched(point_hits: list[Hit]) -> str:
    seen: list[str] = []
    for h in point_hits:
        if h.text.lower() not in (s.lower() for s in seen):
            seen.append(h.text)
    return "; ".join(seen[:4])


NOT_COUNTED = {
    "stuffed": "sentence(s) made mostly of key terms were not counted",
    "fragment": "line(s) name key terms without a sentence to explain them and were not counted",
    "echo": "sentence(s) only repeat the question's words and were not counted",
    "question": "question(s) asked back were not counted",
    "filler": "sentence(s) say nothing specific (filler)",
}


def grade_answer(spec: QuestionSpec, answer: md.Answer) -> Outcome:
    g = assess(spec, answer)
    found = [kp for kp in spec.key_points if kp.id in g.said]
    missing = [kp for kp in spec.key_points if kp.id not in g.said]
    parts = [f"covers {len(found)} of {len(spec.key_points)} key points"
             + (f" ({', '.join(kp.id for kp in found)})" if found else "")]
    if g.named:
        parts.append(f"named in a list of terms without saying anything about them, {NAMED_CREDIT:.0%} of their "
                     "points: " + ", ".join(f"{p} (line {s.line})" for p, s in g.named.items()))
    if g.denied:
        parts.append(f"says the opposite, {DENIAL_PENALTY:.0%} of their points taken off: "
                     + ", ".join(f"{p} ({_quote(s)}, '{why}')" for p, (s, why) in g.denied.items()))
    if missing:
        parts.append("missing: " + "; ".join(f"{kp.id} ({kp.description})" for kp in missing))
    parts.append(f"{answer.prose_words} words in sentences")
    if g.length < 1:
        parts.append(f"shorter than the {spec.min_words} words a full answer takes, so {g.length:.0%} of the points")
    for kind, why in NOT_COUNTED.items():
        if g.not_counted.get(kind):
            sentences = g.not_counted[kind]
            parts.append(f"{len(sentences)} {why} ({_quote(sentences[0])})")
    evidence = [f"{kp.id} ({kp.description}): {_quote(*g.said[kp.id])} (matched: {_matched(g.said[kp.id][1])})"
                for kp in found]
    return Outcome(g.fraction, "; ".join(parts), evidence=evidence, needs_review=True)


@graders.question_graders.register("automatic")
class AutomaticGrader(graders.QuestionGrader):
    """The rules above, as per-key-point verdicts."""

    name = "automatic"

    def opinion(self, spec: QuestionSpec, answer: md.Answer) -> SecondOpinion:
        g = assess(spec, answer)
        verdicts = []
        for kp in spec.key_points:
            if kp.id in g.said:
                sentence, point_hits = g.said[kp.id]
                verdicts.append(KeyPointVerdict(id=kp.id, verdict="covered", quote=sentence.text,
                                                reason=f"matched: {_matched(point_hits)}", quote_found=True))
            elif kp.id in g.named:
                verdicts.append(KeyPointVerdict(id=kp.id, verdict="partial", quote=g.named[kp.id].text,
                                                reason="named in a list of terms", quote_found=True))
            elif kp.id in g.denied:
                sentence, why = g.denied[kp.id]
                verdicts.append(KeyPointVerdict(id=kp.id, verdict="contradicted", quote=sentence.text,
                                                reason=f"negated by '{why}'", quote_found=True))
            else:
                verdicts.append(KeyPointVerdict(id=kp.id, verdict="missing"))
        return SecondOpinion(grader=self.name, fraction=g.fraction, key_points=verdicts)


def answer_of(spec: QuestionSpec, ctx: Context) -> md.Answer | Outcome:
    """The candidate's answer to ``spec``, or the outcome that says why there is none."""
    path = ctx.submission / ANSWERS_FILE if ctx.submission else None
    if path is None or not path.is_file():
        return Outcome(0.0, f"{ANSWERS_FILE} is missing: no answer to {spec.id!r}", needs_review=True)
    return answer_in(md.parse(path.read_text(encoding="utf-8", errors="replace")), spec)


def answer_in(parsed: list[md.Answer], spec: QuestionSpec) -> md.Answer | Outcome:
    """The section of a parsed ANSWERS.md that answers ``spec``, or the outcome that says why there is none."""
    answer = md.find(parsed, spec.id)
    if answer is None or not answer.sentences:
        what = "is empty" if answer is not None else "is missing"
        return Outcome(0.0, f"the '## {spec.id}' section of {ANSWERS_FILE} {what}: no points", needs_review=True)
    return answer


@kinds.register("question")
class QuestionKind(CriterionKind):
    name = "question"
    spec = QuestionSpec

    def grade(self, spec: CriterionSpec, ctx: Context) -> Outcome:
        assert isinstance(spec, QuestionSpec)
        answer = answer_of(spec, ctx)
        if isinstance(answer, Outcome):
            return answer
        outcome = grade_answer(spec, answer)
        outcome.second_opinion = graders.second_opinion(spec, answer)
        return outcome
