"""Similar code across a cohort: every pair of submissions fingerprinted with copydetect's winnowing.

Code is normalised before fingerprinting (copydetect: names become ``V``/``F``/``O``, strings ``S``,
comments and spaces dropped), so renaming variables or rewording comments does not hide a copy. The
starter template every candidate is handed is boilerplate: its fingerprints are removed from every
submission first, so two candidates who both kept the template's loading code are not alike for it.

Only copydetect's tokenising and winnowing functions are used (``copydetect.utils``): its
``CopyDetector`` also imports matplotlib's pyplot and writes HTML reports, which this needs neither of.
"""

from __future__ import annotations

import tempfile
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
from copydetect.utils import (  # type: ignore[import-untyped]
    filter_code,
    find_fingerprint_overlap,
    get_copied_slices,
    get_document_fingerprints,
    get_token_coverage,
)

from grader.errors import GraderError
from grader.spec.similarity import FileMatch, PairSimilarity, SimilarityReport, Unreadable
from grader.submission.intake import stage

#: k-gram length in normalised characters. copydetect's default (25) matches one-line idioms such as
#: ``V = V(V.V.V("S", "S"))`` between unrelated submissions; 40 keeps the bundled examples of different
#: tasks apart while a renamed copy still matches almost everywhere (see tests/compare/test_similarity.py).
NOISE_THRESHOLD = 40
#: Winnowing window: 1 keeps every k-gram. Submissions are small, and with every k-gram kept the result
#: does not depend on Python's per-process string hash seed (a larger window picks minima of it).
WINDOW = 1
#: A pair at or above this score is flagged for a person to compare.
THRESHOLD = 0.7
#: The code a submission is compared on.
SOURCE_SUFFIXES = (".py",)


@dataclass(frozen=True)
class _File:
    name: str
    raw: str
    offsets: np.ndarray
    hashes: frozenset[int]
    hash_idx: dict[int, list[int]]
    coverage: float
    line_starts: tuple[int, ...]

    def lines(self, start: int, end: int) -> tuple[int, int]:
        """1-based first and last line of raw characters ``[start, end)``."""
        return bisect_right(self.line_starts, start), bisect_right(self.line_starts, max(start, end - 1))


def _fingerprint(name: str, code: str, boilerplate: frozenset[int], k: int) -> _File:
    filtered, offsets = filter_code(code, name)
    hashes, idx = get_document_fingerprints(filtered, k, WINDOW)
    kept = {h: list(i) for h, i in idx.items() if h not in boilerplate}
    starts = (0, *(i + 1 for i, ch in enumerate(code) if ch == "\n"))
    return _File(name, code, offsets, frozenset(kept), kept, float(get_token_coverage(kept, k, len(filtered))),
                 starts)


def _boilerplate_hashes(files: Mapping[str, str], k: int) -> frozenset[int]:
    out: set[int] = set()
    for name, code in files.items():
        out |= _fingerprint(name, code, frozenset(), k).hashes
    return frozenset(out)


def _overlap(file: _File, other: frozenset[int], k: int) -> int:
    """Normalised characters of ``file`` inside k-grams that also occur in ``other``."""
    common = file.hashes & other
    if not common:
        return 0
    slices = get_copied_slices(np.concatenate([np.array(file.hash_idx[h]) for h in common]), k)
    return int(np.sum(slices[1] - slices[0]))


def _raw_slices(file: _File, slices: np.ndarray) -> np.ndarray:
    """Normalised-code slices mapped back to the raw file (copydetect's own translation)."""
    if len(file.offsets) == 0:
        return slices
    where = np.clip(np.searchsorted(file.offsets[:, 0], slices), 0, file.offsets.shape[0] - 1)
    return slices + file.offsets[:, 1][where]


def _share(files: Sequence[_File], other: frozenset[int], k: int) -> float:
    total = sum(f.coverage for f in files)
    return sum(_overlap(f, other, k) for f in files) / total if total else 0.0


def _file_match(fa: _File, fb: _File, k: int) -> FileMatch | None:
    idx_a, idx_b = find_fingerprint_overlap(set(fa.hashes), set(fb.hashes), fa.hash_idx, fb.hash_idx)
    if len(idx_a) == 0:
        return None
    raw_a = _raw_slices(fa, get_copied_slices(idx_a, k))
    raw_b = _raw_slices(fb, get_copied_slices(idx_b, k))
    return FileMatch(a_file=fa.name, b_file=fb.name,
                     a_lines=[fa.lines(int(s), int(e)) for s, e in raw_a.T],
                     b_lines=[fb.lines(int(s), int(e)) for s, e in raw_b.T],
                     a_share=round(_overlap(fa, fb.hashes, k) / fa.coverage, 4) if fa.coverage else 0.0)


def compare_pair(a: str, files_a: Sequence[_File], b: str, files_b: Sequence[_File], *, k: int,
                 threshold: float) -> PairSimilarity:
    hashes_a = frozenset().union(*(f.hashes for f in files_a))
    hashes_b = frozenset().union(*(f.hashes for f in files_b))
    share_a, share_b = _share(files_a, hashes_b, k), _share(files_b, hashes_a, k)
    matches = [m for fa in files_a for fb in files_b if (m := _file_match(fa, fb, k)) is not None]
    matches.sort(key=lambda m: -m.a_share)
    score = round(max(share_a, share_b), 4)
    return PairSimilarity(a=a, b=b, score=score, a_share=round(share_a, 4), b_share=round(share_b, 4),
                          flagged=score >= threshold, matches=matches)


def compare_sources(sources: Mapping[str, Mapping[str, str]], boilerplate: Mapping[str, str], *,
                    threshold: float = THRESHOLD, k: int = NOISE_THRESHOLD) -> list[PairSimilarity]:
    """Every pair of ``sources`` (submission -> {file: code}), highest score first."""
    common = _boilerplate_hashes(boilerplate, k)
    prints = {sub: [_fingerprint(name, code, common, k) for name, code in sorted(files.items())]
              for sub, files in sources.items()}
    pairs = [compare_pair(a, prints[a], b, prints[b], k=k, threshold=threshold)
             for a, b in combinations(sources, 2)]
    return sorted(pairs, key=lambda p: -p.score)


def read_sources(path: Path) -> dict[str, str]:
    """The code files of a submission folder or archive (staged safely, as grading does), by POSIX path."""
    with tempfile.TemporaryDirectory(prefix="grader-similarity-") as tmp:
        staged = stage(path, Path(tmp))
        return {p.relative_to(staged.root).as_posix(): p.read_text(encoding="utf-8", errors="replace")
                for p in sorted(staged.root.rglob("*")) if p.is_file() and p.suffix in SOURCE_SUFFIXES}


def similarity(paths: Sequence[Path], boilerplate: Mapping[str, str], *, threshold: float = THRESHOLD,
               k: int = NOISE_THRESHOLD, names: Sequence[str] | None = None) -> SimilarityReport:
    """Compare every pair of submissions; one that cannot be read is listed with the reason, not raised.
    ``names``: what to call each submission (default: its path), e.g. the candidate of a stored upload."""
    sources: dict[str, dict[str, str]] = {}
    unreadable: list[Unreadable] = []
    for path, name in zip(paths, names or [str(p) for p in paths], strict=True):
        try:
            files = read_sources(path)
        except GraderError as exc:
            unreadable.append(Unreadable(path=name, reason=exc.message))
            continue
        if not files:
            unreadable.append(Unreadable(path=name, reason="no Python files to compare"))
            continue
        sources[name] = files
    return SimilarityReport(threshold=threshold, noise_threshold=k, boilerplate=sorted(boilerplate),
                            pairs=compare_sources(sources, boilerplate, threshold=threshold, k=k),
                            unreadable=unreadable)
