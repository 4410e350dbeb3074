"""``grader check`` end to end in the Docker sandbox: the reference clears its gates (exit 0) with an estimate
marked as one; no file of a self-check speaks of the hidden test split, or of a score as a grade would."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import EXAMPLES

pytestmark = pytest.mark.docker


def test_the_reference_clears_its_gates_and_every_file_speaks_of_the_validation_split(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(EXAMPLES / "reference"), "--out", str(out)],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SELF-CHECK: RUNS" in done.stdout and "would fail" not in done.stdout
    tail = done.stdout[done.stdout.rindex("╯"):]
    assert "Heading for " in tail and "(public validation split, an estimate, not a grade)" in tail
    saved = json.loads((out / "report.json").read_text())
    assert "score" not in saved and saved["estimate"]["basis"] == "public validation split, an estimate"
    assert all(g["met"] for g in saved["estimate"]["gates"])
    for name in ("report.json", "report.md", "report.html"):
        text = (out / name).read_text(encoding="utf-8").lower()
        assert "hidden test" not in text and "hidden-test" not in text, name
    explained = " ".join(saved["reproducibility"]["explanation"])
    assert "a self-check trains once; `grader grade` trains 2 time(s)" in explained
    assert "the task trains once" not in explained
