"""The queue as teams run it: `grader batch --queue` and `grader worker` processes on a real redis-server
and the Docker sandbox, through what a queue goes through: a duplicate, a candidate's crash, a worker
SIGKILLed or stopped mid-grading, Redis restarted mid-batch, a worker whose engine cannot run gradings."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import docker
import pytest

from grader.queue.jobs import RETRIES
from grader.queue.worker import REQUEUE_BOUND_S
from tests.helpers import QUICK_LATENCY, make_submission, tasks_copy
from tests.queue.conftest import GRADER

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow]

#: Training that takes long enough to be interrupted: a worker is killed or stopped while it runs.
SLOW_TRAIN = "import time\ntime.sleep(12)\n" + """
import json, os
json.dump({"label": "no"}, open(os.path.join(os.environ["GRADER_ARTIFACTS_DIR"], "model.json"), "w"))
"""
TRAIN_TIMEOUT_S = 60


@pytest.fixture()
def env(tmp_path) -> dict[str, str]:
    tasks = tasks_copy(tmp_path / "tasks", latency=QUICK_LATENCY, reproducibility={"runs": 1},
                       train_timeout_s=TRAIN_TIMEOUT_S)
    return {**os.environ, "COLUMNS": "160", "GRADER_TASKS_DIR": str(tasks)}


def run(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*GRADER, *args], capture_output=True, text=True, timeout=timeout, env=env)


def queue_status(url: str, env: dict[str, str]) -> dict:
    done = run("queue", "status", "--queue", url, "--json", env=env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def wait_for(what: str, check, timeout: float, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(every)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def busy(url: str, env: dict[str, str], name: str):
    return lambda: next((w for w in queue_status(url, env)["workers"] if w["name"] == name and w["state"] == "busy"),
                        None)


def report(out: Path, name: str) -> dict:
    return json.loads((out / name / "report.json").read_text())


def only_reports(out: Path, names: set[str]) -> None:
    """Exactly one report folder per submission, and nothing half-written beside them."""
    assert {p.name for p in out.iterdir() if p.is_dir()} == names
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def running_containers(since: float) -> dict[str, str]:
    """The grader's containers running now that were created after ``since``: id -> session."""
    client = docker.from_env(timeout=30)
    try:
        return {c["Id"]: c["Labels"].get("grader.session", "") for c in
                client.api.containers(filters={"label": "grader.sandbox=1", "status": "running"})
                if c["Created"] >= int(since)}
    finally:
        client.close()


def prune(env: dict[str, str]) -> None:
    """The dead workers' stopped containers (a dead session's leftovers), as an operator would remove them."""
    run("sandbox", "prune", env=env, timeout=300)


def test_a_cohort_through_the_queue_grades_a_duplicate_once_and_a_crash_is_a_result(
        tmp_path, env, redis_server, processes):
    cohort = tmp_path / "cohort"
    alice = make_submission(cohort / "alice")
    shutil.copytree(alice, cohort / "alice-twin")
    make_submission(cohort / "carol", train="raise SystemExit('boom: training crashed')\n")
    out, url, db = tmp_path / "out", redis_server.url, tmp_path / "mlflow.db"

    enqueued = run("batch", str(cohort), "--out", str(out), "--queue", url, "--no-wait", env=env)
    assert enqueued.returncode == 0, enqueued.stdout + enqueued.stderr
    assert "2 job(s) enqueued, 0 already there" in " ".join(enqueued.stderr.split())
    state = queue_status(url, env)
    assert (state["queued"], state["running"], state["workers"]) == (2, 0, [])

    worker = run("worker", "--queue", url, "--burst", "--concurrency", "2", "--name", "pool",
                 "--mlflow-uri", f"sqlite:///{db}", env=env)
    assert worker.returncode == 0, worker.stdout + worker.stderr
    collected = run("batch", str(cohort), "--out", str(out), "--queue", url, env=env)
    assert collected.returncode == 1, collected.stdout + collected.stderr  # graded, not passed
    only_reports(out, {"alice", "alice-twin", "carol"})
    cohort_json = json.loads((out / "cohort.json").read_text())
    assert [s["name"] for s in cohort_json["submissions"]] == ["alice", "alice-twin", "carol"]
    assert cohort_json["queue"] == url and cohort_json["workers"] in (1, 2)
    first, twin, crash = (report(out, n) for n in ("alice", "alice-twin", "carol"))
    assert first["environment"]["queue"]["job_id"] == twin["environment"]["queue"]["job_id"]  # graded once
    assert first["submission"]["path"] == str(cohort / "alice")  # where it came from, not the job's copy
    assert crash["status"] == "graded" and crash["failures"][0]["kind"] == "crash"
    assert crash["environment"]["queue"]["attempt"] == 1  # the candidate's failure is never retried
    assert {first["environment"]["queue"]["worker"], crash["environment"]["queue"]["worker"]} <= {"pool-1", "pool-2"}

    import mlflow

    runs = mlflow.MlflowClient(f"sqlite:///{db}").search_runs(
        [e.experiment_id for e in mlflow.MlflowClient(f"sqlite:///{db}").search_experiments()])
    assert len(runs) == 2 and {r.data.tags["grader.attempt"] for r in runs} == {"1"}
    assert len({r.data.tags["grader.batch"] for r in runs}) == 1


def test_a_sigkilled_workers_job_is_graded_again_by_another_as_attempt_2(tmp_path, env, redis_server, processes):
    dave = make_submission(tmp_path / "cohort" / "dave", train=SLOW_TRAIN)
    out, url = tmp_path / "out", redis_server.url
    began = time.time()
    doomed = processes.start("worker", "--queue", url, "--name", "doomed", "--no-mlflow", env=env,
                             log=tmp_path / "doomed.log")
    waiting = processes.start("batch", str(dave), "--out", str(out), "--queue", url, env=env,
                              log=tmp_path / "batch.log")
    wait_for("the doomed worker grades dave", busy(url, env, "doomed"), timeout=120)
    containers = wait_for("dave's training runs", lambda: running_containers(began), timeout=120)
    time.sleep(2)
    doomed.send_signal(signal.SIGKILL)  # only the worker: its work horse must not outlive it
    doomed.wait(timeout=30)
    killed_at = time.monotonic()
    processes.start("worker", "--queue", url, "--name", "rescuer", "--no-mlflow", env=env, log=tmp_path / "rescuer.log")
    wait_for("the rescuer takes the job again", busy(url, env, "rescuer"), timeout=REQUEUE_BOUND_S + 30)
    requeued_after = time.monotonic() - killed_at
    assert waiting.wait(timeout=300) == 1, (tmp_path / "batch.log").read_text()
    only_reports(out, {"dave"})
    queue = report(out, "dave")["environment"]["queue"]
    assert (queue["attempt"], queue["attempts_allowed"], queue["worker"]) == (2, RETRIES + 1, "rescuer")
    assert requeued_after < REQUEUE_BOUND_S + 30
    # the dead worker's containers stop by their own deadline (its training's timeout), nobody waiting on them
    wait_for("the dead worker's containers stop", lambda: not (set(containers) & set(running_containers(began))),
             timeout=TRAIN_TIMEOUT_S + 30, every=2)
    prune(env)


def test_sigterm_lets_a_worker_finish_its_grading_then_exit(tmp_path, env, redis_server, processes):
    erin = make_submission(tmp_path / "cohort" / "erin", train=SLOW_TRAIN)
    out, url = tmp_path / "out", redis_server.url
    worker = processes.start("worker", "--queue", url, "--name", "stopping", "--no-mlflow", env=env,
                             log=tmp_path / "worker.log")
    waiting = processes.start("batch", str(erin), "--out", str(out), "--queue", url, env=env,
                              log=tmp_path / "batch.log")
    wait_for("the worker grades erin", busy(url, env, "stopping"), timeout=120)
    time.sleep(2)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=300) == 0, (tmp_path / "worker.log").read_text()
    assert waiting.wait(timeout=120) == 1, (tmp_path / "batch.log").read_text()
    queue = report(out, "erin")["environment"]["queue"]
    assert (queue["attempt"], queue["worker"]) == (1, "stopping")  # finished by the worker that had it
    assert report(out, "erin")["status"] == "graded"


def test_redis_restarted_mid_batch_loses_nothing(tmp_path, env, redis_server, processes):
    frank = make_submission(tmp_path / "cohort" / "frank", train=SLOW_TRAIN)
    out, url = tmp_path / "out", redis_server.url
    processes.start("worker", "--queue", url, "--name", "steady", "--no-mlflow", env=env, log=tmp_path / "worker.log")
    waiting = processes.start("batch", str(frank), "--out", str(out), "--queue", url, env=env,
                              log=tmp_path / "batch.log")
    wait_for("the worker grades frank", busy(url, env, "steady"), timeout=120)
    redis_server.stop()
    time.sleep(3)
    redis_server.start()
    assert waiting.wait(timeout=300) == 1, (tmp_path / "batch.log").read_text()
    only_reports(out, {"frank"})
    assert report(out, "frank")["status"] == "graded"
    assert report(out, "frank")["environment"]["queue"]["attempt"] == 1


def test_an_infrastructure_failure_is_retried_then_reported_with_its_reason(tmp_path, env, redis_server):
    gina = make_submission(tmp_path / "cohort" / "gina")
    out, url = tmp_path / "out", redis_server.url
    assert run("batch", str(gina), "--out", str(out), "--queue", url, "--no-wait", env=env).returncode == 0
    broken = {**env, "GRADER_RUNTIME_IMAGE": "grader-runtime:not-built-here"}  # this worker cannot grade
    worker = run("worker", "--queue", url, "--burst", "--name", "broken", "--no-mlflow", env=broken)
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert worker.stdout.count("grading gina") == RETRIES + 1
    collected = run("batch", str(gina), "--out", str(out), "--queue", url, env=env)
    assert collected.returncode == 4, collected.stdout + collected.stderr
    graded = report(out, "gina")
    assert graded["status"] == "error" and graded["environment"]["queue"]["attempt"] == RETRIES + 1
    assert "grader-runtime:not-built-here" in graded["failures"][0]["message"]

    # the engine fixed, the same command grades it again (an error report is never kept), as a local batch does
    again = run("batch", str(gina), "--out", str(out), "--queue", url, "--no-wait", env=env)
    assert "1 job(s) enqueued" in " ".join(again.stderr.split()), again.stderr
    assert run("worker", "--queue", url, "--burst", "--no-mlflow", env=env).returncode == 0
    assert run("batch", str(gina), "--out", str(out), "--queue", url, env=env).returncode == 1
    assert report(out, "gina")["status"] == "graded" and report(out, "gina")["environment"]["queue"]["attempt"] == 1
