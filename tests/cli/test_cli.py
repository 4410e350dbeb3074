"""The command line as CI and users see it: exit codes, the summary, report.json, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import docker
import pytest

from tests.helpers import EXAMPLES, default_sigint, docker_leftovers, make_submission

GRADER = [sys.executable, "-m", "grader"]


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([*GRADER, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "160", **(env or {})})


def test_usage_error_exits_2(tmp_path):
    result = run("grade", str(tmp_path), "--task", "tabular/credit-defualt")
    assert result.returncode == 2 and "did you mean 'tabular/credit-default'" in result.stderr
    assert run("grade").returncode == 2


LEAVE = """
import atexit, sys, threading, time
from pathlib import Path
from grader import cli
out = Path(sys.argv[1])
atexit.register(lambda: out.with_suffix(".atexit").write_text("ran"))
if sys.argv[2] == "thread":
    threading.Thread(target=lambda: (time.sleep(0.5), out.write_text("finished"))).start()
sys.argv = ["grader", "--version"]
print("before", end="")  # unflushed: a pipe is block-buffered
cli.run()
"""


@pytest.mark.parametrize("case", ["plain", "thread"])
def test_the_console_script_flushes_runs_exit_handlers_and_waits_for_live_threads(tmp_path, case):
    """`grader` leaves without interpreter teardown, but loses no output, exit handler or thread's work."""
    out = tmp_path / "thread.txt"
    done = subprocess.run([sys.executable, "-c", LEAVE, str(out), case], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("before") and "version" in done.stdout
    assert out.with_suffix(".atexit").read_text() == "ran"
    assert (out.read_text() == "finished") if case == "thread" else not out.exists()


def test_invalid_submission_exits_3_and_writes_report(tmp_path):
    sub = make_submission(tmp_path / "s")
    (sub / "submission.yaml").unlink()
    result = run("grade", str(sub), "--out", str(tmp_path / "out"))
    assert result.returncode == 3, result.stdout + result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["status"] == "invalid" and report["failures"][0]["kind"] == "invalid_submission"
    assert "submission.yaml is missing" in result.stdout


def test_unreachable_engine_exits_4_with_report(tmp_path):
    result = run("grade", str(make_submission(tmp_path / "s")), "--out", str(tmp_path / "out"),
                 env={"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"})
    assert result.returncode == 4, result.stdout + result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["status"] == "error" and report["failures"][0]["kind"] == "sandbox_error"


def test_an_unwritable_out_folder_exits_4_before_grading(tmp_path):
    (tmp_path / "file").write_text("")
    result = run("grade", str(make_submission(tmp_path / "s")), "--out", str(tmp_path / "file" / "out"))
    assert result.returncode == 4, result.stdout + result.stderr
    assert "cannot write the reports to" in result.stderr and "--out" in result.stderr
    assert "Traceback" not in result.stderr


def test_tasks_list_and_show():
    listed = run("tasks", "list")
    assert listed.returncode == 0 and "tabular/credit-default" in listed.stdout
    shown = run("tasks", "show", "tabular/credit-default")
    assert shown.returncode == 0 and "positive: bad" in shown.stdout and "recall" in shown.stdout
    assert run("tasks", "show", "nope/nope").returncode == 2


def test_schema_command_prints_json_schema():
    result = run("schema", "report")
    assert result.returncode == 0 and json.loads(result.stdout)["title"] == "Report"


@pytest.mark.docker
@pytest.mark.slow
def test_reference_passes_and_baseline_fails(tmp_path):
    ref = run("grade", str(EXAMPLES / "reference"), "--out", str(tmp_path / "ref"), "--verbose")
    assert ref.returncode == 0, ref.stdout + ref.stderr
    assert "PASSED" in ref.stdout
    report = json.loads((tmp_path / "ref" / "report.json").read_text())
    assert report["status"] == "graded" and report["passed"] and report["metrics"]["roc_auc"] > 0.75
    assert report["environment"]["sandbox"]["image_id"].startswith("sha256:")
    # The reference is deterministic: same seed, same predictions, same bytes.
    rep = report["reproducibility"]
    assert rep["prediction_agreement"] == 1.0 and rep["artifacts_identical"] is True, rep["explanation"]
    assert rep["reads_artifacts"] is True and rep["reads_submission_files"] == []
    assert rep["environment"]["mismatches"] == []
    lat = report["latency"]
    assert lat["measured"] and lat["count"] >= 200 and lat["floor"]["p50_ms"] < lat["p50_ms"]
    assert "Latency" in ref.stdout and "Reproducibility" in ref.stdout
    # Score and verdict come from the rubric, every criterion explained.
    rubric = report["rubric"]
    assert report["score"] == rubric["total"] >= rubric["pass_mark"] and rubric["passed"]
    points = {c["id"]: c for s in rubric["sections"] for c in s["criteria"]}
    for full in ("runs-cleanly", "dockerfile", "documentation", "tests", "trained-here", "same-seed-agreement"):
        assert points[full]["points"] == points[full]["max_points"], points[full]["explanation"]
    assert all(points[q]["fraction"] >= 0.8 and points[q]["needs_review"] for q in
               ("serving-latency", "drift-monitoring", "retraining-rollback", "explaining-errors"))
    assert "Rubric ml-engineer" in ref.stdout

    base = run("grade", str(EXAMPLES / "baseline"), "--out", str(tmp_path / "base"))
    assert base.returncode == 1, base.stdout + base.stderr
    assert "NOT PASSED" in base.stdout and "recall" in base.stdout
    report = json.loads((tmp_path / "base" / "report.json").read_text())
    assert report["metrics"]["recall"] == 0.0 and not report["passed"]
    assert any(not r["met"] and r["rule"].startswith("recall") for r in report["pass_rule"])
    assert report["rubric"]["total"] < report["rubric"]["pass_mark"] and report["score"] == report["rubric"]["total"]


@pytest.mark.docker
def test_sandbox_doctor_reports_engine_image_and_hardening():
    result = run("sandbox", "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    for words in ("reachable", "present", "no-new-privileges", "network"):
        assert words in result.stdout, result.stdout


@pytest.mark.docker
def test_ctrl_c_leaves_no_container_behind(tmp_path):
    client = docker.from_env()
    train_label = {"label": ["grader.sandbox=1", "grader.phase=train"]}
    before = {c.id for c in client.containers.list(all=True, filters=train_label)}
    sub = make_submission(tmp_path / "s", train="import time\ntime.sleep(600)\n")
    proc = subprocess.Popen([*GRADER, "grade", str(sub), "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    try:
        deadline = time.monotonic() + 120
        while not (ours := [c for c in client.containers.list(filters=train_label) if c.id not in before]):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    assert code == 4
    assert docker_leftovers(ours[0].labels["grader.session"]) == []
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["status"] == "error" and "interrupted" in report["failures"][-1]["message"]
