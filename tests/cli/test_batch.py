"""``grader batch`` as a user runs it: a small cohort graded two at a time in the Docker sandbox, the cohort
files, MLflow runs tagged with the batch, a re-run that keeps every report, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from tests.helpers import QUICK_LATENCY, default_sigint, docker_leftovers, make_submission, tasks_copy

GRADER = [sys.executable, "-m", "grader"]


@pytest.fixture()
def quick_env(tmp_path) -> dict[str, str]:
    """The credit task with a short latency measurement and one training: fast gradings, same protocol."""
    tasks = tasks_copy(tmp_path / "tasks", latency=QUICK_LATENCY, reproducibility={"runs": 1})
    return {**os.environ, "COLUMNS": "160", "GRADER_TASKS_DIR": str(tasks)}


def batch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*GRADER, "batch", *args], capture_output=True, text=True, timeout=900, env=env)


def sessions(out: Path, names: list[str]) -> set[str]:
    found = set()
    for name in names:
        sandbox = json.loads((out / name / "report.json").read_text())["environment"]["sandbox"]
        if sandbox:
            found.add(sandbox["session"])
    return found


@pytest.mark.docker
def test_a_cohort_is_graded_two_at_a_time_and_a_rerun_keeps_every_report(tmp_path, quick_env):
    cohort = tmp_path / "cohort"
    make_submission(cohort / "alice")
    make_submission(cohort / "bob", extra={"NOTES.md": "bob's copy\n"})
    make_submission(cohort / "carol", train="raise SystemExit('boom: training crashed')\n")
    out, db = tmp_path / "out", tmp_path / "mlflow.db"
    first = batch(str(cohort), "--out", str(out), "--workers", "2", "--mlflow-uri", f"sqlite:///{db}", env=quick_env)
    assert first.returncode == 1, first.stdout + first.stderr  # graded, none passed (the mini model predicts one class)
    data = json.loads((out / "cohort.json").read_text())
    entries = {e["name"]: e for e in data["submissions"]}
    assert list(entries) == ["alice", "bob", "carol"] and data["workers"] == 2
    for name, entry in entries.items():
        report = json.loads((out / entry["report"]).read_text())
        assert entry["report"] == f"{name}/report.json" and (out / name / "report.html").is_file()
        assert report["status"] == entry["status"] == "graded" and not entry["resumed"]
        assert entry["score"] == report["score"] and entry["passed"] is report["passed"] is False
        assert report["submission"]["candidate"] == name
    crashed = json.loads((out / "carol" / "report.json").read_text())
    assert any("boom" in (f["message"] + (f.get("detail") or "")) for f in crashed["failures"]), crashed["failures"]
    assert entries["alice"]["outcome"] == entries["carol"]["outcome"] == "not_passed"
    # The similarity flags: alice and bob share all their code.
    pair = next(p for p in data["similarity"]["pairs"] if {Path(p["a"]).name, Path(p["b"]).name} == {"alice", "bob"})
    assert pair["flagged"]
    page, md = (out / "cohort.html").read_text(), (out / "cohort.md").read_text()
    assert "Candidates for tabular/credit-default" in page and "Code similarity" in page and "carol" in page
    assert "3 submission(s): 3 not passed." in md and "| carol | not passed |" in md
    assert "3 submission(s)" in first.stdout and "3 graded" in first.stdout
    assert all(docker_leftovers(s) == [] for s in sessions(out, list(entries)))
    # Every grading is an MLflow run tagged with the batch.
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{db}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                              f"tags.`grader.batch` = '{data['batch_id']}'")
    assert len(runs) == 3

    again = batch(str(cohort), "--out", str(out), "--no-mlflow", env=quick_env)
    assert again.returncode == 1, again.stdout + again.stderr
    kept = json.loads((out / "cohort.json").read_text())["submissions"]
    assert [e["resumed"] for e in kept] == [True, True, True] and "0 graded, 3 kept" in again.stdout
    assert [e["score"] for e in kept] == [entries[n]["score"] for n in ("alice", "bob", "carol")]

    before = (out / "carol" / "report.json").stat().st_mtime_ns
    forced = batch(str(cohort / "carol"), "--out", str(out), "--no-mlflow", "--force", env=quick_env)
    assert forced.returncode == 1, forced.stdout + forced.stderr
    assert "1 graded, 0 kept" in forced.stdout and (out / "carol" / "report.json").stat().st_mtime_ns > before


@pytest.mark.docker
def test_ctrl_c_stops_the_batch_leaving_finished_reports_and_no_container(tmp_path, quick_env):
    cohort = tmp_path / "cohort"
    make_submission(cohort / "a-quick")
    make_submission(cohort / "b-sleeps", train="import time\ntime.sleep(600)\n")
    make_submission(cohort / "c-quick", extra={"NOTES.md": "c\n"})
    out = tmp_path / "out"
    client = docker.from_env()
    train_label = {"label": ["grader.sandbox=1", "grader.phase=train"]}
    before = {c.id for c in client.containers.list(all=True, filters=train_label)}
    proc = subprocess.Popen([*GRADER, "batch", str(cohort), "--out", str(out), "--workers", "2", "--no-mlflow"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=quick_env,
                            preexec_fn=default_sigint)
    try:
        deadline = time.monotonic() + 300
        # Both quick ones finished (one worker), while the other is still training.
        while not all((out / n / "report.json").is_file() for n in ("a-quick", "c-quick")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.5)
        ours = [c for c in client.containers.list(filters=train_label) if c.id not in before]
        assert ours, "the sleeping submission should still be training"
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=90)
        stderr = proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()
    assert code == 4, stderr
    assert "interrupted" in stderr and not (out / "cohort.json").exists()
    for name in ("a-quick", "c-quick"):
        assert json.loads((out / name / "report.json").read_text())["status"] == "graded"
    for session in {c.labels["grader.session"] for c in ours} | sessions(out, ["a-quick", "c-quick"]):
        assert docker_leftovers(session) == []


def test_a_missing_submission_or_unknown_task_is_a_usage_error(tmp_path):
    from click.testing import CliRunner

    from grader.cli import main

    result = CliRunner().invoke(main, ["batch", str(tmp_path / "nope"), "--out", str(tmp_path / "out")])
    said = " ".join(result.output.split())  # rich wraps long lines
    assert result.exit_code == 2 and "nope: no such file or folder" in said and "hint:" in said, said
    make_submission(tmp_path / "alice")
    result = CliRunner().invoke(main, ["batch", str(tmp_path / "alice"), "--out", str(tmp_path / "out"),
                                       "--task", "tabular/credit-defualt"])
    assert result.exit_code == 2 and "credit-default" in result.output, result.output
    assert not (tmp_path / "out").exists()
