"""MLflow logging against real stores: the embedded SQLite default, and a real ``mlflow server``
started on loopback by the test and read back through MLflow's REST API."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from mlflow import MlflowClient

from grader.errors import GraderError
from grader.grading.pipeline import Grader
from grader.integrations.mlflow import Tracking, download_reports, log_grading, metrics, params, prepare_store, tags
from grader.spec.report import Latency, LatencyStats, Report, TaskRef
from tests.helpers import QUICK_LATENCY, make_submission, tasks_copy

GRADER = [sys.executable, "-m", "grader"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def small_report(**kw) -> Report:
    return Report(status="graded", passed=True, score=81.5, task=TaskRef(id="tabular/credit-default", version=1),
                  metrics={"recall": 0.7, "precision": 0.6, "roc_auc": None},
                  per_class={"bad": {"recall": 0.7}, "very good!": {"recall": 0.9}},
                  latency=Latency(measured=True, p50_ms=1.5, p95_ms=2.0, cold_start_ms=float("nan"),
                                  floor=LatencyStats(count=10, p50_ms=0.4, p90_ms=0.5, p95_ms=0.5, p99_ms=0.6,
                                                     max_ms=0.7, mean_ms=0.45, min_ms=0.3)),
                  environment={"grader_version": "0.1.0", "seed": 7, "limits": {"cpus": 1.0, "memory_mb": 512}},
                  **kw)


# -- what is logged (pure functions) ---------------------------------------------------------------

def test_every_figure_is_flattened_and_missing_ones_are_left_out():
    found = metrics(small_report())
    assert found["metrics.recall"] == 0.7 and found["latency.p50_ms"] == 1.5
    assert found["latency.floor.p50_ms"] == 0.4 and found["score"] == 81.5 and found["passed"] == 1.0
    assert "metrics.roc_auc" not in found and "latency.cold_start_ms" not in found  # None and NaN
    assert found["per_class.bad.recall"] == 0.7
    odd = [k for k in found if k.startswith("per_class.very_good_")]
    assert len(odd) == 1 and found[odd[0]] == 0.9  # made safe, and still unique


def test_intervals_are_logged_beside_their_metric():
    from grader.spec.report import MetricInterval

    report = small_report(metrics_ci={"recall": MetricInterval(low=0.64, high=0.75, level=0.95, method="m",
                                                               resamples=10)})
    found = metrics(report)
    assert found["metrics.recall.ci_low"] == 0.64 and found["metrics.recall.ci_high"] == 0.75


def test_params_and_tags_say_what_was_graded_and_how_it_ended():
    report = small_report()
    report.submission.candidate = "ada"
    assert params(report)["limits.memory_mb"] == "512" and params(report)["seed"] == "7"
    assert tags(report) == {"status": "graded", "passed": "true", "candidate": "ada", "evaluated_on": "test",
                            "exit_code": "0", "grader_version": "0.1.0", "grader.failure_kinds": "none"}


# -- embedded store --------------------------------------------------------------------------------

def test_an_unreachable_server_is_a_warning_not_a_lost_grading(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    report = small_report()
    uri = f"http://user:secret@127.0.0.1:{free_port()}"
    assert log_grading(report, tmp_path, Tracking(uri)) is None
    assert len(report.warnings) == 1 and "MLflow logging to http://user:***@127.0.0.1" in report.warnings[0]
    assert "secret" not in report.warnings[0] and report.environment.mlflow is None


def _log_one(uri: str, index: int) -> str | None:
    report = small_report()
    report.submission.candidate = f"c{index}"
    return log_grading(report, None, Tracking(uri))


def test_parallel_gradings_into_a_new_sqlite_store_lose_no_run(tmp_path):
    uri = f"sqlite:///{tmp_path}/parallel/mlflow.db"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        run_ids = pool.starmap(_log_one, [(uri, i) for i in range(4)])
    assert None not in run_ids and len(set(run_ids)) == 4
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tabular/credit-default")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags["candidate"] for r in runs) == ["c0", "c1", "c2", "c3"]


def test_the_default_store_is_mlflow_db_in_the_data_dir_not_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))
    assert Tracking().resolved_uri == f"sqlite:///{tmp_path}/data/mlflow.db"
    assert prepare_store(Tracking()) == f"sqlite:///{tmp_path}/data/mlflow.db"
    assert (tmp_path / "data" / "mlflow.db").is_file() and not (tmp_path / "mlflow.db").exists()


# -- a real grading, logged --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory, docker_box) -> tuple[Report, Path]:
    root = tmp_path_factory.mktemp("graded")
    tasks = tasks_copy(root / "tasks", latency=QUICK_LATENCY, reproducibility={"runs": 1})
    out = root / "out"
    report = Grader(docker_box, tasks_root=tasks).grade(make_submission(root / "s"), out_dir=out, candidate="ada")
    assert report.status == "graded", report.failures
    return report, out


@pytest.mark.docker
def test_a_grading_in_the_embedded_store(graded, tmp_path):
    report, out = graded
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    run_id = log_grading(report.model_copy(deep=True), out, Tracking(uri))
    assert run_id is not None
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert client.get_experiment(run.info.experiment_id).name == report.task.id
    assert run.info.status == "FINISHED" and run.data.tags["candidate"] == "ada"
    assert run.data.params["submission_sha256"] == report.submission.sha256
    assert run.data.params["runtime_image"] == report.environment.sandbox.image
    assert run.data.metrics["metrics.recall"] == pytest.approx(report.metrics["recall"])
    assert run.data.metrics["rubric.total"] == pytest.approx(report.rubric.total)
    assert run.data.metrics["latency.p95_ms"] == pytest.approx(report.latency.p95_ms)
    logged = {a.path for a in client.list_artifacts(run_id)}
    assert {"report.json", "predictions.csv", "logs"} <= logged


@pytest.mark.docker
def test_the_reports_of_an_experiment_come_back_for_comparison(graded, tmp_path):
    report, out = graded
    tracking = Tracking(f"sqlite:///{tmp_path}/mlflow.db")
    for name in ("ada", "bob"):
        copy = report.model_copy(deep=True)
        copy.submission.candidate = name
        assert log_grading(copy, out, tracking) is not None
    assert log_grading(report.model_copy(deep=True), None, tracking) is not None  # no files: skipped
    paths = download_reports(tracking, report.task.id, tmp_path / "dl")
    assert len(paths) == 2 and all(p.name == "report.json" and p.is_file() for p in paths)
    assert all((p.parent / "predictions.csv").is_file() for p in paths)  # for the paired comparison
    with pytest.raises(GraderError, match="no MLflow experiment named 'nlp/nope'"):
        download_reports(tracking, "nlp/nope", tmp_path / "dl")
    table = subprocess.run([*GRADER, "compare", "--mlflow", report.task.id, "--mlflow-uri", tracking.uri, "--json"],
                           capture_output=True, text=True, timeout=300)
    assert table.returncode == 0, table.stderr
    rows = json.loads(table.stdout)["rows"]
    assert len(rows) == 2
    # The same predictions twice: the second row is within sampling noise of the first on every metric.
    assert rows[1]["versus_best"] and all(not d["distinguishable"] and d["delta"] == 0
                                          for d in rows[1]["versus_best"].values())


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = open(root / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                             "--backend-store-uri", f"sqlite:///{root}/server.db",
                             "--artifacts-destination", str(root / "artifacts"), "--workers", "1"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"mlflow server did not start: {(root / 'server.log').read_text()[-2000:]}")
        time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def rest(url: str, path: str, **query: str) -> dict:
    with urllib.request.urlopen(f"{url}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(query)}", timeout=30) as r:
        return json.loads(r.read())


@pytest.mark.docker
@pytest.mark.slow
def test_a_grading_on_a_tracking_server_read_back_over_rest(graded, mlflow_server):
    report, out = graded
    copy = report.model_copy(deep=True)
    run_id = log_grading(copy, out, Tracking(mlflow_server))
    assert run_id is not None, copy.warnings
    assert copy.environment.mlflow.run_id == run_id
    experiment = rest(mlflow_server, "experiments/get-by-name", experiment_name=report.task.id)["experiment"]
    run = rest(mlflow_server, "runs/get", run_id=run_id)["run"]
    assert run["info"]["experiment_id"] == experiment["experiment_id"] and run["info"]["status"] == "FINISHED"
    values = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    assert values["metrics.precision"] == pytest.approx(report.metrics["precision"])
    assert values["score"] == pytest.approx(report.score)
    assert {p["key"]: p["value"] for p in run["data"]["params"]}["task_id"] == report.task.id
    assert {t["key"]: t["value"] for t in run["data"]["tags"]}["status"] == "graded"
    files = {f["path"] for f in rest(mlflow_server, "artifacts/list", run_id=run_id)["files"]}
    assert {"report.json", "predictions.csv", "logs"} <= files


# -- the command line --------------------------------------------------------------------------------

def test_no_mlflow_logs_nothing_and_invalid_gradings_are_logged_too(tmp_path):
    sub = make_submission(tmp_path / "s")
    (sub / "submission.yaml").unlink()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/a.db"}
    off = subprocess.run([*GRADER, "grade", str(sub), "--out", str(tmp_path / "o1"), "--no-mlflow"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert off.returncode == 3 and not (tmp_path / "a.db").exists()
    on = subprocess.run([*GRADER, "grade", str(sub), "--out", str(tmp_path / "o2"), "--candidate", "bob"],
                        capture_output=True, text=True, env=env, timeout=300)
    assert on.returncode == 3, on.stderr
    report = json.loads((tmp_path / "o2" / "report.json").read_text())
    run = MlflowClient(f"sqlite:///{tmp_path}/a.db").get_run(report["environment"]["mlflow"]["run_id"])
    assert run.data.tags["status"] == "invalid" and run.data.tags["candidate"] == "bob"
