"""action.yml, the composite GitHub Action: its metadata checked structurally, its expressions by
actionlint (as a reusable workflow: actionlint does not read action metadata), and its grading and
verdict scripts run for real with a stand-in ``grader`` on PATH."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.ci.metadata import ACTION_FILE, action_as_workflow, dump, expressions, load_action, references

ACTION = load_action()
STEPS: list[dict[str, Any]] = ACTION["runs"]["steps"]
INPUTS: dict[str, dict[str, Any]] = ACTION["inputs"]


def step(step_id: str) -> dict[str, Any]:
    found = [s for s in STEPS if s.get("id") == step_id]
    assert len(found) == 1, f"action.yml has {len(found)} steps with id {step_id!r}"
    return found[0]


def step_named(name: str) -> dict[str, Any]:
    found = [s for s in STEPS if s.get("name") == name]
    assert len(found) == 1, f"action.yml has {len(found)} steps named {name!r}"
    return found[0]


def run_steps() -> list[dict[str, Any]]:
    return [s for s in STEPS if "run" in s]


# -- metadata --------------------------------------------------------------------------------------


def test_action_is_a_described_composite_action():
    assert ACTION["runs"]["using"] == "composite"
    assert ACTION.get("name") and ACTION.get("description")
    declared = {**INPUTS, **ACTION["outputs"]}
    undescribed = [name for name, spec in declared.items() if not (spec or {}).get("description")]
    assert undescribed == [], f"inputs/outputs without a description: {undescribed}"
    assert all("value" in spec for spec in ACTION["outputs"].values()), "a composite action's output needs a value"


def test_every_run_step_names_its_shell():
    missing = [s.get("name", s["run"][:40]) for s in run_steps() if s.get("shell") != "bash"]
    assert missing == [], f"run steps without `shell: bash` (a composite action requires a shell): {missing}"


def test_inputs_referenced_are_declared_and_declared_inputs_are_used():
    used = {name for expr in expressions(ACTION) for name in references(expr, "inputs")}
    assert used - INPUTS.keys() == set(), f"undeclared inputs referenced: {sorted(used - INPUTS.keys())}"
    assert INPUTS.keys() - used == set(), f"inputs declared but never used: {sorted(INPUTS.keys() - used)}"


def test_no_expression_inside_a_run_script():
    """Script injection: an input or event field expanded into a script runs as shell code; the
    action passes every value through ``env:`` instead."""
    offenders = [s.get("name") for s in run_steps() if "${{" in s["run"]]
    assert offenders == [], f"run scripts with ${{{{ }}}} inside (pass values through env:): {offenders}"


def test_outputs_come_from_existing_steps():
    ids = {s["id"] for s in STEPS if "id" in s}
    for name, spec in ACTION["outputs"].items():
        used = references(spec["value"], "steps")
        assert used and used <= ids, f"output {name} reads steps {sorted(used)}, action steps are {sorted(ids)}"


def test_grade_step_passes_only_options_grader_grade_accepts():
    """The action and the CLI evolve separately: every --option the grade step can pass must be
    one `grader grade` knows."""
    from grader.cli import main

    command = main.commands["grade"]
    accepted = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    passed = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", step("grade")["run"]))
    assert passed, "the grade step passes no options?"
    assert passed - accepted == set(), f"options `grader grade` does not accept: {sorted(passed - accepted)}"


# -- actionlint on the action as a workflow --------------------------------------------------------


def test_actionlint_finds_nothing_in_the_action(lint):
    path = "action.yml (as a workflow)"
    findings = lint({path: dump(action_as_workflow(ACTION))})[path]
    assert findings == [], "\n".join(map(str, findings))


def test_actionlint_on_the_action_catches_mistakes(lint):
    """The conversion keeps what actionlint needs to see: a bad input or step reference fails."""
    broken = json.loads(json.dumps(ACTION))
    broken["runs"]["steps"].append({"name": "bad", "shell": "bash", "run": "true",
                                    "if": "inputs.not-an-input == 'x' && steps.no-such-step.outputs.x"})
    path = "broken action.yml"
    messages = " | ".join(f.message for f in lint({path: dump(action_as_workflow(broken))})[path])
    assert "not-an-input" in messages and "no-such-step" in messages, messages


# -- the grade and verdict scripts, run with a stand-in grader -------------------------------------

FAKE_GRADER = """#!{python}
import json, os, pathlib, sys
pathlib.Path(os.environ["FAKE_ARGS"]).write_text(json.dumps(sys.argv[1:]))
report = os.environ.get("FAKE_REPORT")
if report:
    out = pathlib.Path(sys.argv[sys.argv.index("--out") + 1])
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(report)
sys.exit(int(os.environ["FAKE_CODE"]))
"""


def run_script(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A step's script the way a runner runs `shell: bash` (bash --noprofile --norc -eo pipefail)."""
    path = cwd / "step.sh"
    path.write_text(script)
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


@pytest.fixture()
def grade_env(tmp_path: Path) -> dict[str, str]:
    """The environment of the grade step: the inputs' env, GITHUB_OUTPUT, a fake grader on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "grader"
    fake.write_text(FAKE_GRADER.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    (bin_dir / "python").symlink_to(sys.executable)
    work = tmp_path / "work"
    work.mkdir()
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path),
            "GITHUB_OUTPUT": str(tmp_path / "github_output"), "GITHUB_ACTION_PATH": str(ACTION_FILE.parent),
            "FAKE_ARGS": str(tmp_path / "args.json"), "WORK": str(work),
            "SUBMISSION": "submission", "TASK": "", "CANDIDATE": "", "OUT": "grader-out", "MLFLOW_URI": ""}


def grade(env: dict[str, str], code: int, report: dict[str, Any] | None) -> tuple[subprocess.CompletedProcess[str],
                                                                                  dict[str, str], list[str]]:
    env = {**env, "FAKE_CODE": str(code), "FAKE_REPORT": json.dumps(report) if report is not None else ""}
    proc = run_script(step("grade")["run"], env, Path(env["WORK"]))
    args_file = Path(env["FAKE_ARGS"])
    args = json.loads(args_file.read_text()) if args_file.exists() else []
    got = outputs(Path(env["GITHUB_OUTPUT"])) if Path(env["GITHUB_OUTPUT"]).exists() else {}
    return proc, got, args


def test_grade_step_reports_a_pass(grade_env):
    proc, got, args = grade(grade_env, 0, {"status": "graded", "passed": True, "score": 81.5})
    assert proc.returncode == 0, proc.stderr
    assert args == ["grade", "submission", "--ci", "--out", "grader-out", "--no-mlflow"]
    out_dir = (Path(grade_env["WORK"]) / "grader-out").resolve()
    assert got == {"exit-code": "0", "status": "graded", "passed": "true", "score": "81.5",
                   "report-dir": str(out_dir), "report-json": str(out_dir / "report.json")}


def test_grade_step_passes_inputs_as_data_not_code(grade_env):
    hostile = 'Ann "$(touch pwned)" `touch pwned2`; touch pwned3'
    env = {**grade_env, "TASK": "tabular/credit-default", "CANDIDATE": hostile, "MLFLOW_URI": "http://mlflow:5000"}
    proc, got, args = grade(env, 1, {"status": "graded", "passed": False, "score": 12})
    assert proc.returncode == 0, "the grade step records the exit code; the verdict step fails"
    assert args == ["grade", "submission", "--ci", "--out", "grader-out", "--task", "tabular/credit-default",
                    "--candidate", hostile, "--mlflow-uri", "http://mlflow:5000"]
    assert not list(Path(grade_env["WORK"]).glob("pwned*")), "an input was run as shell code"
    assert (got["exit-code"], got["passed"], got["score"]) == ("1", "false", "12")


def test_grade_step_without_a_report_says_error(grade_env):
    proc, got, _ = grade(grade_env, 4, None)
    assert proc.returncode == 0, proc.stderr
    assert (got["exit-code"], got["status"], got["passed"], got["score"]) == ("4", "error", "false", "0")


def test_grade_step_needs_a_submission(grade_env):
    proc, got, args = grade({**grade_env, "SUBMISSION": ""}, 0, None)
    assert proc.returncode == 2 and args == [] and got == {}
    assert "::error" in proc.stdout


@pytest.mark.parametrize(("code", "fail_on_not_passed", "expected"), [
    ("0", "true", 0), ("1", "true", 1), ("1", "false", 0), ("3", "true", 3), ("3", "false", 0),
    ("4", "false", 4), ("2", "false", 2), ("", "true", 4),
])
def test_verdict(tmp_path: Path, code: str, fail_on_not_passed: str, expected: int):
    env = {"PATH": os.environ["PATH"], "CODE": code, "FAIL_ON_NOT_PASSED": fail_on_not_passed}
    proc = run_script(step_named("Verdict")["run"], env, tmp_path)
    assert proc.returncode == expected, proc.stdout + proc.stderr
    assert ("::error" in proc.stdout) == (expected not in (0, 1, 3))
