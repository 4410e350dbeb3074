"""``grader similarity --json``: how alike the code of a cohort's submissions is, pair by pair.

A high score is evidence for a person to weigh (shared code), never a verdict: the command flags a
pair, it does not fail anyone.
"""

from __future__ import annotations

from pydantic import Field

from grader.spec.base import StrictModel


class FileMatch(StrictModel):
    """Code of one file of ``a`` found in one file of ``b``: the matching line ranges on both sides."""

    a_file: str = Field(description="Path inside submission a, POSIX style.")
    b_file: str
    a_lines: list[tuple[int, int]] = Field(description="First and last line (1-based) of each matching span in a.")
    b_lines: list[tuple[int, int]]
    a_share: float = Field(description="Share of a_file's fingerprinted code that matches b_file.")


class PairSimilarity(StrictModel):
    a: str = Field(description="The submission path as given.")
    b: str
    score: float = Field(description="The larger of a_share and b_share: a copy padded with new code still scores "
                                     "high on the side it was copied from.")
    a_share: float = Field(description="Share of a's code (starter template left out) that also occurs in b.")
    b_share: float
    flagged: bool = Field(description="score >= threshold: a person should compare the two.")
    matches: list[FileMatch] = Field(default_factory=list, description="Largest first.")


class Unreadable(StrictModel):
    path: str
    reason: str


class SimilarityReport(StrictModel):
    threshold: float
    noise_threshold: int = Field(description="Length of the fingerprinted k-grams, in characters of normalised code "
                                             "(names, strings and comments replaced): shorter matches are noise.")
    boilerplate: list[str] = Field(description="Files whose code is left out of every score (the starter template).")
    pairs: list[PairSimilarity] = Field(description="Every pair of readable submissions, highest score first.")
    unreadable: list[Unreadable] = Field(default_factory=list)
