"""``grader compare`` tells real differences from sampling noise: real models of the credit task, trained
here on its public split, their predictions scored on the task's hidden labels and kept in report folders
as ``grader grade`` leaves them; the paired bootstrap against each metric's best row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console

from grader.cli import main
from grader.compare import noise
from grader.compare.table import compare, load_rows
from grader.compare.terminal import render
from grader.data import splits
from grader.report.write import PREDICTIONS_FILE
from grader.spec.task import TaskSpec, get_task
from tests.cohort import NUMERIC, fit, graded


@pytest.fixture(scope="module")
def task() -> TaskSpec:
    return get_task("tabular/credit-default")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory, task) -> dict[str, Path]:
    """strong (every number), close (strong with a few answers changed either way), weak (two numbers)."""
    root = tmp_path_factory.mktemp("cohort")
    strong, strong_proba = fit(task, NUMERIC)
    weak, weak_proba = fit(task, ["Age", "Time"])
    truth = splits.labels(task, "test")
    close = strong.copy()
    swap = np.concatenate([np.flatnonzero(close == truth)[:3], np.flatnonzero(close != truth)[:2]])
    close[swap] = np.where(close[swap] == "bad", "good", "bad")
    return {"strong": graded(root / "strong", task, "strong", strong, strong_proba),
            "close": graded(root / "close", task, "close", close, None),
            "weak": graded(root / "weak", task, "weak", weak, weak_proba)}


def test_rows_are_marked_within_noise_or_behind_the_best(cohort):
    table = compare(load_rows(cohort.values()), sort="roc_auc")
    rows = {row.candidate: i for i, row in enumerate(table.rows)}
    assert table.rows[0].candidate == "strong" and "roc_auc" not in table.differences[0]  # the best AUC
    weak = table.differences[rows["weak"]]
    assert weak["roc_auc"].distinguishable and weak["roc_auc"].high is not None and weak["roc_auc"].high < 0
    assert noise.mark(table, rows["weak"], "roc_auc") == noise.BEHIND
    close = table.differences[rows["close"]]
    assert close["accuracy"].distinguishable is False and noise.mark(table, rows["close"], "accuracy") == "≈"
    assert "roc_auc" not in close  # no probabilities in that folder: no paired AUC
    assert table.noise_notes == []


def test_json_and_terminal_show_the_differences(cohort):
    table = compare(load_rows(cohort.values()), sort="accuracy")
    rows = {r["candidate"]: r for r in table.to_json()["rows"]}
    assert rows["weak"]["versus_best"]["accuracy"]["distinguishable"] is True
    assert set(rows["close"]["versus_best"]["accuracy"]) >= {"delta", "low", "high", "resamples"}
    console = Console(width=400, record=True, color_system=None)
    render(table, console)
    text = console.export_text()
    assert "≈: within sampling noise of the column's best" in text and noise.BEHIND in text


def test_rows_that_cannot_be_paired_say_why(cohort, tmp_path, task):
    lost = tmp_path / "lost"
    lost.mkdir()
    (lost / "report.json").write_bytes((cohort["weak"] / "report.json").read_bytes())  # no predictions.csv
    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "report.json").write_bytes((cohort["weak"] / "report.json").read_bytes())
    text = (cohort["strong"] / PREDICTIONS_FILE).read_text(encoding="utf-8")
    (edited / PREDICTIONS_FILE).write_text(text, encoding="utf-8")  # another candidate's predictions
    table = compare(load_rows([cohort["strong"], lost, edited]))
    notes = "\n".join(table.noise_notes)
    assert "predictions.csv not found" in notes and "predictions.csv does not give the report's" in notes
    assert not any(table.differences)


def test_cli_json_carries_the_paired_differences(cohort):
    result = CliRunner().invoke(main, ["compare", *map(str, cohort.values()), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert any(row["versus_best"] for row in data["rows"]) and data["noise_notes"] == []
