"""``ANSWERS.md`` read as a person would: sections under ``## <question-id>``, prose in sentences.

Formatting must not matter (headings in any case, with numbers or code quotes; lists, emphasis,
links), and what is a sentence must be told from a list of terms: only sentences count as answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HEADING = re.compile(r"^(#{1,6})\s*(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
MARKUP = re.compile(r"(\*\*|__|\*|`|<[^>]+>)")
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
WORD = re.compile(r"[A-Za-z0-9][\w'’-]*")
#: Words a sentence has and a list of buzzwords does not.
FUNCTION_WORDS = frozenset("""
a an the to of in on at for from by with without into onto over under about as and or but if when while
because so than then that this these those which who whom whose what where why how is are was were be been
being am do does did done has have had having would will shall should can could may might must not no
we i you he she it they our my your its their us me them there here each every any all some one both
""".split())
#: A sentence needs this many words: shorter fragments are labels, not explanations.
MIN_SENTENCE_WORDS = 6


def slug(text: str) -> str:
    """``## 1. Serving Latency`` -> ``1-serving-latency``: case, markup and separators do not matter."""
    text = MARKUP.sub("", LINK.sub(r"\1", text)).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


@dataclass
class Sentence:
    text: str
    line: int
    words: int
    prose: bool


@dataclass
class Answer:
    heading: str
    line: int
    sentences: list[Sentence] = field(default_factory=list)
    #: The section as written, heading left out: what a person (or a language model) reads.
    text: str = ""

    @property
    def prose_words(self) -> int:
        return sum(s.words for s in self.sentences if s.prose)

    @property
    def words(self) -> int:
        return sum(s.words for s in self.sentences)


def is_prose(text: str) -> tuple[int, bool]:
    words = WORD.findall(text)
    return len(words), len(words) >= MIN_SENTENCE_WORDS and any(w.lower() in FUNCTION_WORDS for w in words)


def _sentences(chunk: str, line: int) -> list[Sentence]:
    out = []
    start = 0
    for match in [*SENTENCE_END.finditer(chunk), None]:
        end = match.start() if match else len(chunk)
        text = " ".join(chunk[start:end].split())
        if text:
            words, prose = is_prose(text)
            out.append(Sentence(text, line + chunk[:start].count("\n"), words, prose))
        if match:
            start = match.end()
    return out


def parse(text: str) -> list[Answer]:
    """Every section under a heading (levels 2 and 3 start an answer), split into sentences."""
    answers: list[Answer] = []
    current: Answer | None = None
    chunk: list[str] = []
    chunk_line = 0
    in_fence = False

    def flush() -> None:
        nonlocal chunk
        if current is not None and chunk:
            current.sentences += _sentences("\n".join(chunk), chunk_line)
        chunk = []

    for number, raw in enumerate(text.splitlines(), start=1):
        if FENCE.match(raw):
            flush()
            in_fence = not in_fence
            continue
        heading = None if in_fence else HEADING.match(raw)
        if heading and len(heading.group(1)) in (2, 3):
            flush()
            current = Answer(heading.group(2), number)
            answers.append(current)
            continue
        if current is not None:
            current.text += raw + "\n"
        line = raw.strip()
        if not line or heading or set(line) <= set("-|: "):
            flush()  # blank lines, other headings and table rules end a paragraph
            continue
        if LIST_ITEM.match(raw) or line.startswith(("|", ">")) or in_fence:
            flush()  # a list item, table row or quoted line stands on its own
            line = LIST_ITEM.sub("", raw).strip().strip("|>").strip()
        line = MARKUP.sub("", LINK.sub(r"\1", line.replace("|", ". ")))
        if not chunk:
            chunk_line = number
        chunk.append(line)
        if in_fence:
            flush()
    flush()
    return answers


def find(answers: list[Answer], question_id: str) -> Answer | None:
    """The section answering ``question_id``: its heading's slug is the id, maybe numbered or followed by
    a title (``## 2. drift-monitoring: what to watch``). The first such section wins."""
    pattern = re.compile(rf"^(?:q?\d+-)?{re.escape(question_id)}(?:-|$)")
    return next((a for a in answers if pattern.match(slug(a.heading))), None)
