"""Near-twins of hidden rows, and the probe call that carries them with repeated hidden rows.

A genuine model's answer barely moves when a row moves by much less than the noise its features carry
anyway; a lookup of the public data set the task comes from is exact on the hidden rows and lost on a
row it has never seen. So the grader adds, to the inputs the timer holds, slightly perturbed copies of
some hidden rows (numeric jitter well inside each column's spread, a few character edits, a one-pixel
shift), formatted exactly like the real rows. The timer sends them, shuffled among hidden rows sent a
second time, in one untimed call after the scored full batch; the host alone knows which are which
(:class:`~grader.spec.probes.ProbePlan`), scores them apart and never counts them. The repeated rows
also show whether an answer depends on the order or the batch a row comes in.

Everything is seeded by the task's seed: every candidate of a task gets the same twins.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from grader.data.files import read_npz
from grader.data.splits import INPUT_FILES, PROBE_FILE, TEXT_COLUMN, Split, read_table, write_inputs
from grader.spec.probes import ProbePlan
from grader.spec.task import TaskSpec

#: Share of the hidden rows that get a twin (and as many that are sent again), capped: enough for a
#: proportion to within a few points, little enough to keep the probe call well under the full batch.
TWIN_SHARE: Final = 0.2
MAX_TWINS: Final = 300
#: Below this many hidden rows there is no probe call: too few twins to judge anything by.
MIN_ROWS: Final = 20
#: Tabular jitter: normal with this fraction of the column's standard deviation, cut at two of them, so a
#: value moves by at most a tenth of the column's spread (plus rounding to the column's step).
JITTER: Final = 0.05
JITTER_CUT: Final = 2.0
#: A numeric column with this many distinct values or fewer is a category (months 12/24/36...): unchanged,
#: since a value never seen in it would mark the row.
CATEGORICAL_LEVELS: Final = 20
#: Steps a numeric column's values are rounded to when (nearly) all of them are multiples of it.
STEPS: Final = (1000, 500, 100, 50, 10, 5, 1)
STEP_SHARE: Final = 0.9
#: Character edits per text: two, three for a long text (chars).
TEXT_EDITS: Final = 2
LONG_TEXT: Final = 200
_SALT: Final = 0x7731  # the probe's own stream of the task seed, apart from anything else seeded by it
_WORD = re.compile(r"[A-Za-z]{4,}")


# -- tabular ------------------------------------------------------------------------------------------

class NumericColumn:
    """A continuous numeric column as written: its spread, range, step and decimals (so twins read alike)."""

    def __init__(self, values: pd.Series) -> None:
        present = values[values != ""]
        self.numbers = present.astype(float)
        self.decimals = max((len(v.split(".", 1)[1]) if "." in v else 0) for v in present)
        self.spread = float(self.numbers.std(ddof=0))
        self.low, self.high = float(self.numbers.min()), float(self.numbers.max())
        self.step = 10.0 ** -self.decimals
        for step in STEPS:
            if float(np.mean(np.isclose(np.mod(self.numbers, step), 0) | np.isclose(np.mod(self.numbers, step), step)))\
                    >= STEP_SHARE:
                self.step = float(step)
                break

    @classmethod
    def of(cls, values: pd.Series) -> NumericColumn | None:
        """The column, when it is numeric with more than :data:`CATEGORICAL_LEVELS` values; else None."""
        present = values[values != ""]
        if present.nunique() <= CATEGORICAL_LEVELS:
            return None
        try:
            for v in present.unique():
                Decimal(v)
            present.astype(float)
        except (InvalidOperation, ValueError):
            return None
        return cls(values)

    def format(self, value: float) -> str:
        text = f"{value:.{self.decimals}f}"
        return text.removeprefix("-") if float(text) == 0 else text

    def jitter(self, text: str, rng: np.random.Generator, *, force: bool) -> str:
        """``text`` moved by the jitter, rounded to the column's step, kept in its range. Empty cells and
        zeros (none, a category of their own) stay. ``force``: move by one step when the jitter rounds to 0."""
        if text == "" or float(text) == 0 or self.spread == 0:
            return text
        value = float(text)
        delta = float(np.clip(rng.normal(0.0, JITTER * self.spread), -JITTER_CUT * JITTER * self.spread,
                              JITTER_CUT * JITTER * self.spread))
        moved = min(self.high, max(self.low, round((value + delta) / self.step) * self.step))
        if moved == 0:  # a present value never becomes "none"
            moved = value
        if force and self.format(moved) == text:
            sign = 1.0 if rng.random() < 0.5 else -1.0
            moved = value + sign * self.step
            if not self.low <= moved <= self.high:
                moved = value - sign * self.step
            if not self.low <= moved <= self.high or moved == 0:
                return text
        return self.format(moved)


def perturb_table(frame: pd.DataFrame, columns: list[str], rows: list[int],
                  rng: np.random.Generator) -> pd.DataFrame:
    """Twins of ``rows`` of a split read as strings: every continuous cell jittered, categories kept; each
    twin differs from its row in at least one cell when any of its cells can move."""
    numeric = {c: col for c in columns if (col := NumericColumn.of(frame[c])) is not None}
    out = frame.iloc[rows].reset_index(drop=True).copy()
    for c, col in numeric.items():
        out[c] = [col.jitter(v, rng, force=False) for v in out[c]]
    for i, source in enumerate(rows):
        if all(out.at[i, c] == frame.at[source, c] for c in numeric):
            for c in rng.permutation(list(numeric)):
                moved = numeric[c].jitter(frame.at[source, c], rng, force=True)
                if moved != frame.at[source, c]:
                    out.at[i, c] = moved
                    break
    return out


def movable_rows(frame: pd.DataFrame, columns: list[str]) -> list[int]:
    """Rows with a continuous, present, non-zero cell: the ones a twin can differ from."""
    numeric = [c for c in columns if NumericColumn.of(frame[c]) is not None]
    if not numeric:
        return []
    cells = frame[numeric]
    ok = ((cells != "") & (cells.apply(pd.to_numeric, errors="coerce").fillna(0) != 0)).any(axis=1)
    return [int(i) for i in np.flatnonzero(ok.to_numpy())]


# -- text ---------------------------------------------------------------------------------------------

def edit_text(text: str, rng: np.random.Generator) -> str:
    """A few character edits inside words of four letters or more (swap two letters, drop one, double one),
    never the first letter: the words stay recognisable, an exact (or normalised) match does not."""
    words = [m for m in _WORD.finditer(text)]
    if not words:
        return text
    k = min(len(words), TEXT_EDITS + (len(text) > LONG_TEXT))
    chosen = sorted(rng.choice(len(words), size=k, replace=False).tolist(), reverse=True)
    out = text
    for w in chosen:
        start, end = words[w].span()
        at = int(rng.integers(start + 1, end - 1))  # an interior letter, with one after it
        op = int(rng.integers(3))
        if op == 0 and out[at] != out[at + 1]:
            out = out[:at] + out[at + 1] + out[at] + out[at + 2:]
        elif op == 1:
            out = out[:at] + out[at + 1:]
        else:
            out = out[:at] + out[at] + out[at:]
    return out


# -- images -------------------------------------------------------------------------------------------

#: The four one-pixel shifts: (rows, columns).
SHIFTS: Final = ((0, 1), (0, -1), (1, 0), (-1, 0))


def shift_image(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """The image moved by one pixel; the edge it leaves is filled with a copy of the edge (same dtype and shape)."""
    pad = [(1, 1), (1, 1)] + [(0, 0)] * (image.ndim - 2)
    padded = np.pad(image, pad, mode="edge")
    h, w = image.shape[:2]
    return np.ascontiguousarray(padded[1 - dy:1 - dy + h, 1 - dx:1 - dx + w])


# -- the probe ----------------------------------------------------------------------------------------

def _sizes(n: int, eligible: int) -> int:
    return min(MAX_TWINS, round(TWIN_SHARE * n), eligible, n // 2)


def write_probe_inputs(task: TaskSpec, split: Split, folder: Path, seed: int) -> ProbePlan | None:
    """The split's inputs (:func:`~grader.data.splits.write_inputs`), then twins of some of its rows after
    them, and the probe call's rows in ``folder/probe.json`` for the timer. The plan stays on the host.

    None (and the inputs alone) when the split is too small for a probe."""
    n = write_inputs(task, split, folder)
    if n < MIN_ROWS:
        return None
    rng = np.random.default_rng([seed, _SALT])
    target = folder / INPUT_FILES[task.suite]
    if task.suite == "tabular":
        frame = read_table(task, split)
        columns = list(task.feature_columns)
        eligible = movable_rows(frame, columns)
        sources = _pick(rng, eligible, _sizes(n, len(eligible)))
        twins = perturb_table(frame, columns, sources, rng)
        twins[[c for c in frame.columns if c != task.label_column]].to_csv(
            target, mode="a", header=False, index=False, lineterminator="\n")
    elif task.suite == "nlp":
        texts = read_table(task, split)[TEXT_COLUMN].tolist()
        eligible = [i for i, t in enumerate(texts) if _WORD.search(t)]
        sources = _pick(rng, eligible, _sizes(n, len(eligible)))
        target.write_text(json.dumps(texts + [edit_text(texts[i], rng) for i in sources], ensure_ascii=False),
                          encoding="utf-8")
    else:
        images = read_npz(task.data_path(split))["images"]
        eligible = [i for i in range(n) if images[i].min() != images[i].max()]
        sources = _pick(rng, eligible, _sizes(n, len(eligible)))
        moves = [SHIFTS[int(k)] for k in rng.integers(len(SHIFTS), size=len(sources))]
        shifted = [shift_image(images[i], dy, dx) for i, (dy, dx) in zip(sources, moves, strict=True)]
        np.save(target, np.concatenate([images, np.stack(shifted)]) if shifted else images, allow_pickle=False)
    if not sources:
        return None
    rest = sorted(set(range(n)) - set(sources))
    repeats = _pick(rng, rest, min(len(sources), len(rest)))
    rows = [int(r) for r in rng.permutation([n + j for j in range(len(sources))] + repeats)]
    plan = ProbePlan(timed=n, twin_of=sources, rows=rows)
    (folder / PROBE_FILE).write_text(json.dumps({"timed": n, "rows": rows}), encoding="utf-8")
    return plan


def _pick(rng: np.random.Generator, pool: list[int], k: int) -> list[int]:
    return sorted(int(i) for i in rng.choice(pool, size=k, replace=False)) if k > 0 else []
