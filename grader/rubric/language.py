"""What a sentence of a written answer does, read the way an interviewer reads it.

Small, explainable rules rather than a language model: where a clause ends, what a negation covers
("I would **not** retrain on a schedule", "a canary is **unnecessary**"), which words only echo the
question, which are filler ("it is essential to follow best practices"), and where a sentence is
a list of terms rather than a statement. :mod:`grader.rubric.question` uses them to decide whether
a key point is *said*, only *named*, or *denied*.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from grader.rubric.answers import FUNCTION_WORDS

TOKEN = re.compile(r"[A-Za-z0-9][\w'’/.-]*[A-Za-z0-9%]|[A-Za-z0-9%]|[,;:()\[\]—–]|\s-\s")
CLAUSE_MARK = frozenset(",;:()[]—–-")
#: Words that end a clause: a negation before them does not reach past them.
CLAUSE_WORDS = frozenset("""
but however although though because since so which while whereas yet then except unless otherwise
when whenever where before after until if
""".split())
#: After ``and``/``or`` these start a new clause ("... not X, and I would Y").
SUBJECTS = frozenset("i we you it they i'd we'd i'll we'll i'm we're this that there then".split())

NEGATORS = frozenset("""
not no never none nor neither without cannot nobody nothing nowhere
""".split())
#: Multi-word negators, matched on the lower-cased clause text.
NEGATOR_PHRASES = ("no need", "no point", "rather than", "instead of", "refuse to", "no longer")
#: Look like a negation and are not one.
PSEUDO_NEGATIONS = ("not only", "not just", "no more than", "not more than", "no less than", "not less than",
                    "no later than", "no matter", "not worse", "no worse", "nothing but", "if not", "whether or not",
                    "not least", "no doubt", "never seen", "never saw", "not seen")
#: After a term, in the same clause, these deny it ("a canary is unnecessary", "rollback isn't possible").
DISMISSALS = tuple(re.compile(rf"\b{p}\b") for p in (
    "unnecessary", "needless", "pointless", "overkill", "useless", "irrelevant", "misleading", "impossible",
    "a waste", "never needed",
    r"(?:not|n't|never) (?:be |been |really )?(?:needed|necessary|required|worth|relevant|possible|useful|"
    r"important|an issue|a concern|a real concern|something|helpful)",
    r"(?:doesn't|does not|don't|do not|won't|wouldn't) (?:really )?(?:matter|help|apply)"))
#: Directly after a term, a negated verb denies it too ("feature importance is not something I computed").
NEGATED_VERBS = frozenset("""
isn't aren't wasn't weren't doesn't don't didn't won't wouldn't shouldn't can't cannot
""".split())
COPULAS = frozenset("is are was were would will does do did should can".split())

#: Words that carry no content of their own: the glue of filler and of buzzword lists.
GENERIC = frozenset("""
important importance essential crucial critical vital key significant necessary needed relevant appropriate proper
good great best right correct careful carefully thoughtful thoughtfully robust scalable seamless seamlessly efficient
efficiently effective effectively comprehensive holistic holistically end-to-end modern standard industry
industry-standard state-of-the-art cutting-edge world-class innovative pragmatic solid strong reliable smooth
practice practices approach approaches strategy strategies solution solutions system systems platform stack
framework frameworks lifecycle capability capabilities aspect aspects factor factors consideration considerations
thing things way ways part process overall whole general generally broadly various different many number several
certain specific particular lot lots always often usually typically really truly very absolutely certainly clearly
simply just also well able ensure ensures ensuring enable enables enabling leverage leverages leveraging utilize
utilise utilizes utilises use uses used using include includes including cover covers covering provide provides
providing require requires required involve involves handle handles handled address addressed consider considered
follow followed adopt adopted apply applied support supports supported deliver delivers achieve achieved implement
implemented implementing make makes made take takes taken keep mind come comes next available whenever matter
matters depend depends depending context situation case cases team teams business stakeholders organisation
organization organisations organizations culture journey mindset value values goal goals objective objectives
success successful quality excellence experience believe think feel hope sure confident passionate happy
question questions answer topic interesting today today's landscape nowadays ultimately summary conclusion short
end day balance judgement judgment communication collaboration collaborative stay close eye
""".split())
#: Phrases that mark a sentence as filler however many content words it has.
FILLER_PHRASES = ("it is important", "it is essential", "it is crucial", "it is critical", "it is vital",
                  "it is always a good idea", "best practice", "at the end of the day", "in today's",
                  "one-size-fits-all", "there are many", "there are a number of", "there is a lot", "depends on the",
                  "great question",
                  "thank you for", "i believe that", "it is worth noting", "in summary", "in short", "all in all",
                  "the right approach", "the right mindset", "the right tools", "the right balance", "many factors",
                  "a number of different", "plays a key role", "second to none")
#: What makes a sentence a statement of what the candidate would do rather than a list: a figure, a reason,
#: a condition, or a plan in the first person.
CONCRETE = re.compile(
    r"(?<![\w.])\d|\b(?:because|since|so that|so|if|when|whenever|unless|until|before|after|once|only|otherwise|"
    r"which means|i'd|i would|we'd|we would|i'll|we'll|i will|we will|i'm|i am going|my)\b", re.I)

#: A list item has at most this many words.
ITEM_WORDS = 3
LIST_SEPARATORS = frozenset(",")
LIST_WORDS = frozenset("and or plus".split())


def stem(word: str) -> str:
    """A crude stem, enough to tell that ``retraining`` and ``dominates`` echo ``retrain`` and ``dominate``."""
    w = word.lower().strip("'’").removesuffix("'s").removesuffix("’s")
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", ""), ("e", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: len(w) - len(suffix)] + repl
    return w


def squash(text: str) -> str:
    """Letters and digits only: ``roll back`` and ``rollback`` are the same."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def content_words(text: str) -> list[str]:
    return [w for w in (t.lower() for t in re.findall(r"[A-Za-z][\w'’-]*", text)) if w not in FUNCTION_WORDS]


@dataclass(frozen=True)
class Token:
    text: str
    lower: str
    start: int
    end: int

    @property
    def mark(self) -> bool:
        return self.text.strip() in CLAUSE_MARK


class Echo:
    """The question's own words: a term of the answer made only of them shows no knowledge."""

    def __init__(self, question: str) -> None:
        self.stems = {stem(w) for w in content_words(question)}
        self.squashed = squash(question)

    def covers(self, matched: str) -> bool:
        words = content_words(matched)
        if words and all(stem(w) in self.stems for w in words):
            return True
        flat = squash(matched)
        return len(flat) >= 6 and flat in self.squashed

    def share(self, text: str) -> float:
        """The share of a sentence's content words (generic ones left out) that the question has."""
        words = [w for w in content_words(text) if w not in GENERIC]
        return sum(stem(w) in self.stems for w in words) / len(words) if words else 1.0


class Sentence:
    """One sentence of an answer, tokenised, with its clauses and its lists."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lower = text.lower()

    @cached_property
    def tokens(self) -> list[Token]:
        return [Token(m.group().strip() or "-", m.group().lower().strip() or "-", m.start(), m.end())
                for m in TOKEN.finditer(self.text)]

    @cached_property
    def words(self) -> list[Token]:
        return [t for t in self.tokens if not t.mark]

    @cached_property
    def _word_ends(self) -> list[int]:
        return [w.end for w in self.words]

    def word_index(self, pos: int) -> int:
        """The index in :attr:`words` of the word at or after character ``pos``."""
        return bisect.bisect_right(self._word_ends, pos)

    @cached_property
    def is_question(self) -> bool:
        return self.text.rstrip().endswith("?")

    def clause(self, start: int, end: int) -> tuple[int, int]:
        """Character bounds of the clause around ``start..end``: up to a mark, a clause word, or ``and``/``or``
        before a new subject."""
        toks = self.tokens
        lo, hi = 0, len(self.text)
        for i, t in enumerate(toks):
            if t.end <= start and self._ends_clause(i):
                lo = t.end
            elif t.start >= end and self._ends_clause(i):
                hi = t.start
                break
        return lo, hi

    def _ends_clause(self, i: int) -> bool:
        t = self.tokens[i]
        if t.mark or t.lower in CLAUSE_WORDS:
            return True
        if t.lower in ("and", "or") and i + 1 < len(self.tokens):
            return self.tokens[i + 1].lower in SUBJECTS
        return False

    def negation(self, start: int, end: int) -> str | None:
        """The words that deny the term at ``start..end`` (before it in its clause, or dismissing it after it),
        or None when it is affirmed."""
        lo, hi = self.clause(start, end)
        before = self.lower[lo:start]
        masked = before
        for pseudo in PSEUDO_NEGATIONS:
            masked = masked.replace(pseudo, " " * len(pseudo))
        for phrase in NEGATOR_PHRASES:
            if phrase in masked:
                return phrase
        for word in re.findall(r"[a-z']+", masked):
            if word in NEGATORS or word.endswith("n't"):
                return word
        after = self.lower[end:hi].replace("’", "'")
        for rx in DISMISSALS:
            found = rx.search(after)
            if found:
                return found.group(0)
        following = re.findall(r"[a-z'’]+", after)[:3]
        for i, word in enumerate(following):
            word = word.replace("’", "'")
            if word in NEGATED_VERBS or (word == "not" and i > 0 and following[i - 1] in COPULAS):
                return word
        return None

    @cached_property
    def lists(self) -> list[tuple[int, int]]:
        """Character spans of the enumerations in the sentence: three or more items in a row, separated by
        commas, ``and``, ``or``, with the inner ones (or all) of at most :data:`ITEM_WORDS` words."""
        segments: list[tuple[int, int, int]] = []  # start, end, words (-1: a hard break)
        commas: list[int] = []
        start = None
        count = 0
        last_end = 0
        for t in self.tokens:
            if t.text in LIST_SEPARATORS or t.lower in LIST_WORDS:
                if t.text in LIST_SEPARATORS:
                    commas.append(t.start)
                if start is not None:
                    segments.append((start, last_end, count))
                start, count = None, 0
                continue
            if t.mark:
                if start is not None:
                    segments.append((start, last_end, count))
                segments.append((t.start, t.start, -1))  # a hard break: no list runs across it
                start, count = None, 0
                continue
            if start is None:
                start = t.start
            count += 1
            last_end = t.end
        if start is not None:
            segments.append((start, last_end, count))
        spans = []
        i = 0
        while i < len(segments):
            j = i
            while j < len(segments) and 0 < segments[j][2] <= ITEM_WORDS:
                j += 1
            run = j - i
            if run >= 2:
                first = i - 1 if i > 0 and segments[i - 1][2] > 0 else i
                last = j if j < len(segments) and segments[j][2] > 0 else j - 1
                span = (self._tail(segments[first]) if first < i else segments[first][0],
                        self._head(segments[last]) if last >= j else segments[last][1])
                # "precision and recall by cohort and by segment" coordinates; a list has commas
                if last - first + 1 >= 3 and any(span[0] <= c < span[1] for c in commas):
                    spans.append(span)
            i = max(j, i + 1)
        return spans

    def _tail(self, segment: tuple[int, int, int]) -> int:
        """Where the last :data:`ITEM_WORDS` words of a segment start: the first item of a list after a clause."""
        inside = [w for w in self.words if segment[0] <= w.start < segment[1]]
        return inside[-ITEM_WORDS].start if len(inside) >= ITEM_WORDS else segment[0]

    def _head(self, segment: tuple[int, int, int]) -> int:
        inside = [w for w in self.words if segment[0] <= w.start < segment[1]]
        return inside[ITEM_WORDS - 1].end if len(inside) >= ITEM_WORDS else segment[1]

    @cached_property
    def parts(self) -> list[tuple[int, int]]:
        """Character spans between hard breaks (``;``, ``:``, a dash): a cue's words must lie in one of them."""
        bounds = [0] + [t.start for t in self.tokens if t.text.strip() in ";:—–-"] + [len(self.text)]
        return list(zip(bounds, bounds[1:], strict=False))

    def same_part(self, positions: Iterable[int]) -> bool:
        where = {next((i for i, (a, b) in enumerate(self.parts) if a <= p < b), -1) for p in positions}
        return len(where) == 1

    def in_list(self, start: int) -> bool:
        return any(a <= start < b for a, b in self.lists)

    @cached_property
    def concrete(self) -> bool:
        return bool(CONCRETE.search(self.text))

    @cached_property
    def filler(self) -> bool:
        """Says nothing specific: a filler phrase, or content words that are nearly all generic."""
        if any(p in self.lower for p in FILLER_PHRASES):
            return True
        words = content_words(self.text)
        return bool(words) and sum(w in GENERIC for w in words) / len(words) >= 0.5
