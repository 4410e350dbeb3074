"""Regenerate the report fixtures under ``tests/report/fixtures/`` from real gradings.

Every fixture is the ``report.json`` of a real run of the ``grader`` command in the Docker sandbox,
so the renderers are tested on what gradings really produce, not on hand-written reports.

Run from the repository root, with a Docker engine and the runtime image (about 6 minutes):

    eval "$(bash scripts/setup.sh)"
    python -m tests.report.make_fixtures              # every fixture
    python -m tests.report.make_fixtures crash error  # only these

then refresh the golden files and look at their diff before committing:

    GRADER_UPDATE_GOLDEN=1 python -m pytest -q tests/report

Only what cannot be reproduced is normalised: the temporary folder the made-up submissions live
in, and the warnings of renderers that did not exist yet when the fixtures were graded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.report.write import RENDERERS
from tests.helpers import EXAMPLES, make_submission

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CV_EXAMPLES = REPO / "tasks" / "cv" / "fashion-mnist" / "examples"

#: A training that writes candidate-controlled text meant to break a table or inject HTML.
CRASHING_TRAIN = """
import sys
print("loading data | step 1 <b>bold?</b>", file=sys.stderr)
raise RuntimeError("boom in training | <script>alert(1)</script>")
"""


@dataclass
class Fixture:
    """One grading: the command's arguments (``{sub}`` is the submission), its exit code, and an
    optional step to run on its report folder afterwards (``grader review``)."""

    args: list[str]
    exit_code: int
    submission: Callable[[Path], Path] | None = None
    env: dict[str, str] = field(default_factory=dict)
    then: Callable[[Path], None] | None = None


def _crashing(tmp: Path) -> Path:
    return make_submission(tmp / "submissions" / "crash-in-train", train=CRASHING_TRAIN)


def _unpinned(tmp: Path) -> Path:
    sub = make_submission(tmp / "submissions" / "unpinned")
    (sub / "requirements.txt").write_text("pandas\nscikit-learn>=1.0\n")
    (sub / "submission.yaml").unlink()
    return sub


def _review(out: Path) -> None:
    """Two interviewers' reviews on top of the automatic score, one of them lowering it."""
    env = {**os.environ, "GRADER_REVIEWER": "Ada Reviewer"}
    for criterion, points, note in (
        ("serving-latency", 3.0, "Names p99 but never says how | where it was measured;\nsee <answer> line 5."),
        ("explaining-errors", 5.0, "Good error analysis, one concrete example."),
    ):
        _run(["review", str(out), "--criterion", criterion, "--points", str(points), "--note", note], 0, env)


#: ``grade`` runs without MLflow: the fixtures are about the report files only.
GRADE = ["grade", "--no-mlflow"]

FIXTURE_RUNS: dict[str, Fixture] = {
    "reference": Fixture([*GRADE, str(EXAMPLES / "reference")], 0),
    "baseline": Fixture([*GRADE, str(EXAMPLES / "baseline")], 1),
    "crash": Fixture([*GRADE, "{sub}", "--runs", "1"], 1, submission=_crashing),
    "invalid": Fixture([*GRADE, "{sub}", "--task", "tabular/credit-default"], 3, submission=_unpinned),
    "error": Fixture([*GRADE, str(EXAMPLES / "baseline")], 4,
                     env={"DOCKER_HOST": "unix:///nonexistent/grader-fixture.sock"}),
    "multiclass": Fixture([*GRADE, str(CV_EXAMPLES / "baseline")], 1),
    "reviewed": Fixture([*GRADE, str(EXAMPLES / "reference"), "--candidate", "Grace | <Hopper>"], 0, then=_review),
    "selfcheck": Fixture(["check", str(EXAMPLES / "reference")], 0),
}


def _run(args: list[str], expected: int, env: dict[str, str] | None = None) -> None:
    result = subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO, env=env or dict(os.environ),
                            capture_output=True, text=True, timeout=1800)
    if result.returncode != expected:
        raise SystemExit(f"`grader {' '.join(args)}` exited {result.returncode}, expected {expected}:\n"
                         f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def normalise(report: dict, tmp: Path) -> dict:
    """Make the report independent of this machine's temporary folder and of missing renderers."""
    sub = report.get("submission") or {}
    path = sub.get("path")
    if path:
        p = Path(path)
        if p.is_absolute():
            sub["path"] = str(p.relative_to(tmp)) if p.is_relative_to(tmp) else (
                str(p.relative_to(REPO)) if p.is_relative_to(REPO) else p.name)
    report["warnings"] = [w for w in report.get("warnings", [])
                          if not any(w.startswith(f"{name} could not be written") for name in RENDERERS)]
    return report


def make(name: str, tmp: Path) -> Path:
    fx = FIXTURE_RUNS[name]
    out = tmp / "out" / name
    args = [a.replace("{sub}", str(fx.submission(tmp))) if fx.submission else a for a in fx.args]
    _run([*args, "--out", str(out)], fx.exit_code, {**os.environ, **fx.env})
    if fx.then is not None:
        fx.then(out)
    report = normalise(json.loads((out / "report.json").read_text(encoding="utf-8")), tmp)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    target = FIXTURES / f"{name}.json"
    target.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def main(names: list[str]) -> None:
    unknown = sorted(set(names) - set(FIXTURE_RUNS))
    if unknown:
        raise SystemExit(f"unknown fixture(s) {unknown}; known: {', '.join(FIXTURE_RUNS)}")
    tmp = Path(tempfile.mkdtemp(prefix="grader-fixtures-"))
    try:
        for name in names or list(FIXTURE_RUNS):
            print(f"{name}: {make(name, tmp)}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
