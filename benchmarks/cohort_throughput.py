"""Submissions per minute for a mixed cohort graded three ways, side by side in one run.

How far two gradings at once (``grader batch --workers 2``) and the queue (two ``grader worker`` processes on
Redis) get from one at a time.

The cohort, ``--copies K`` times (default 2: 6 submissions): the credit task's reference (passes), its baseline
(not passed: low recall) and a failing one this script writes (the baseline whose train.py raises SystemExit: a
crash in training, graded as a result). Each copy has a NOTES.md naming its number, so no two submissions share
a content hash and none is deduplicated or resumed. By default the task is a copy of the credit task with one
training per grading (``reproducibility.runs: 1``, through ``GRADER_TASKS_DIR``); ``--full`` grades with the real
task settings. Every scenario is the CLI in a child process (``sys.executable -m grader``) into a fresh --out:

- ``local-1``: ``grader batch SUBS --out OUT --workers 1 --no-mlflow --force``;
- ``local-N``: the same with ``--workers N`` (``--workers``, default 2);
- ``queue-N``: a redis-server this script starts on loopback (free port, temp dir, no persistence; stopped at
  the end, also on an error or Ctrl-C); ``grader batch SUBS --out OUT --queue URL --no-wait --force`` enqueues,
  then N ``grader worker --queue URL --burst --no-mlflow`` start, then ``grader batch SUBS --out OUT --queue URL``
  waits and collects. Its wall time runs from the enqueue to the collected cohort, worker start-up included.
  The workers run on this machine: the figure is the queue's cost against a local batch of the same width,
  not what more machines add (each adds its own cores).

Wall time is the child's (its start-up and the cohort files included). The ratio is each scenario's
submissions per minute over local-1's; the target is at least 0.8 x workers, up to this machine's cores.
Exits 1 when a scenario's cohort.json does not list every submission, or a batch exits with a code other than
0 or 1 (2: usage, 4: a grader or infrastructure error), after printing the table.

Measured four times on a 2-core machine shared with another engineer's test run, 2026-12-02, one training per
grading; every batch exited 1 (the baselines and the failing ones do not pass), every --no-wait enqueue 0.
Wall s, submissions per minute (ratio to local-1):

    run (load average)     subs   local-1          local-2                 queue-2
    1 (3-4)                   6   64.1 s  5.61     46.7 s  7.70 (1.37)     72.3 s  4.98 (0.89)
    2 (3-4)                   6   63.9 s  5.64     44.1 s  8.16 (1.45)     63.9 s  5.64 (1.00)
    3 (4, --copies 4)        12  117.7 s  6.12     87.6 s  8.22 (1.34)    108.2 s  6.66 (1.09)
    4 (2)                     6   45.1 s  7.98     35.7 s 10.08 (1.26)     46.4 s  7.75 (0.97)
    5 (1.4-2.3, workers       6   52.2 s  6.89     38.3 s  9.40 (1.36)     43.8 s  8.22 (1.19)
      import the grading
      modules before forking)

Neither reaches the 1.6 target here. Two gradings at once each took 35-46 % longer than one alone (the sums
of the reports' duration_s: the cores were shared, and the timed latency phases take turns under the
machine-wide lock), and the queue's two workers on this same machine pay on top: a job took about 2.8 s more
than its grading (RQ's job time against the report's duration_s, 196 s against 162 s over 12 jobs: the work
horse's fork, its imports of the grading modules (0.9 s in a fresh process; run 5 has the workers import them
once, before forking), packing the report, RQ's bookkeeping), the workers' start (about 3 s: they start after
the enqueue) and the collection. The enqueue took 1.5-2.1 s.

Run: `python -m benchmarks.cohort_throughput [--copies 2] [--workers 2] [--only local|queue] [--full] [--keep DIR]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from benchmarks._timeline import load_average
from grader.grading.workers import host_cores
from grader.spec.task import tasks_dir

TASK = "tabular/credit-default"
EXAMPLES = tasks_dir() / TASK / "examples"
GRADER = [sys.executable, "-m", "grader"]
#: How long one batch (or the wait for burst workers) may take before the benchmark gives up on it.
BATCH_TIMEOUT_S = 3600.0
FAIL_IN_TRAINING = '    raise SystemExit("cohort_throughput: this submission fails in training on purpose")\n'


@dataclass
class Outcome:
    name: str
    workers: int
    submissions: int
    wall_s: float
    exits: list[int]
    outcomes: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def per_min(self) -> float:
        return self.submissions / self.wall_s * 60


# -- the cohort and the task ---------------------------------------------------------------------

def write_cohort(folder: Path, copies: int) -> list[str]:
    """``copies`` x (reference, baseline, failing) under ``folder``; their names (as `grader batch` names them)."""
    names = []
    for k in range(1, copies + 1):
        for kind, source in (("reference", "reference"), ("baseline", "baseline"), ("failing", "baseline")):
            sub = folder / f"{kind}-{k}"
            shutil.copytree(EXAMPLES / source, sub, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            (sub / "NOTES.md").write_text(f"Benchmark copy {k} of the {kind} submission.\n", encoding="utf-8")
            if kind == "failing":
                train = (sub / "train.py").read_text(encoding="utf-8")
                failing = train.replace("def main() -> int:\n", "def main() -> int:\n" + FAIL_IN_TRAINING, 1)
                assert failing != train, "the baseline's train.py has no main() to make fail"
                (sub / "train.py").write_text(failing, encoding="utf-8")
            names.append(sub.name)
    return names


def quick_tasks(dest: Path) -> Path:
    """A tasks folder with a copy of the credit task that trains once per grading (its other settings kept)."""
    folder = dest / TASK
    shutil.copytree(tasks_dir() / TASK, folder, ignore=shutil.ignore_patterns("examples"))
    spec = yaml.safe_load((folder / "task.yaml").read_text(encoding="utf-8"))
    spec["reproducibility"] = {**spec.get("reproducibility", {}), "runs": 1}
    (folder / "task.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return dest


# -- child processes -----------------------------------------------------------------------------

def cli(args: list[str], env: dict[str, str], log: Path) -> int:
    """``grader ARGS`` to its end, output into ``log``; its exit code. On Ctrl-C (which the child gets too,
    being in this process group) it is given time to stop cleanly (no containers left), then killed."""
    with open(log, "ab") as out:
        out.write(f"$ grader {' '.join(args)}\n".encode())
        out.flush()
        child = subprocess.Popen([*GRADER, *args], env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            return child.wait(timeout=BATCH_TIMEOUT_S)
        except BaseException as exc:
            if child.poll() is None:
                if not isinstance(exc, KeyboardInterrupt):  # a Ctrl-C reached the child already
                    child.send_signal(signal.SIGINT)
                try:
                    child.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            raise


def stop(process: subprocess.Popen, *, warm_s: float = 5.0) -> None:
    """A worker (or redis-server) stopped: SIGTERM, a second one (a worker's cold shutdown: its job goes back
    and its work horse is killed), then SIGKILL of its process group."""
    for wait in (warm_s, 20.0):
        if process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def children(pid: int) -> list[int]:
    """The processes ``pid`` forked (a worker's work horse), while it lives."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def prune_horses(pids: list[int]) -> None:
    """The sandboxes of work horses a cold shutdown killed (their containers would only stop at their deadline):
    the sessions those processes owned, removed. Nobody else's."""
    from grader.sandbox.docker.cleanup import PID_LABEL, SANDBOX_LABEL, SESSION_LABEL, prune
    from grader.sandbox.docker.client import connect

    client = connect()
    try:
        sessions = {c["Labels"].get(SESSION_LABEL) for pid in pids for c in client.api.containers(
            all=True, filters={"label": [f"{SANDBOX_LABEL}=1", f"{PID_LABEL}={pid}"]})}
        for session in sorted(sessions - {None}):
            prune(client, session)
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    """A private redis-server on loopback, without persistence (nothing here outlives the run)."""
    binary = os.environ.get("GRADER_REDIS_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with open(folder / "redis.log", "ab") as log:
        server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(folder)],
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"redis-server exited ({server.returncode}): {(folder / 'redis.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return server, f"redis://127.0.0.1:{port}/0"
        except OSError:
            pass
        time.sleep(0.05)
    stop(server)
    raise SystemExit(f"redis-server did not answer on 127.0.0.1:{port}")


# -- the scenarios -------------------------------------------------------------------------------

def check(result: Outcome, out: Path, names: list[str]) -> Outcome:
    """What the scenario's cohort.json says, and whatever makes its figure meaningless."""
    cohort_file = out / "cohort.json"
    if not cohort_file.is_file():
        result.problems.append(f"{result.name}: no {cohort_file}")
        return result
    listed = {s["name"]: s["outcome"] for s in json.loads(cohort_file.read_text())["submissions"]}
    if missing := sorted(set(names) - set(listed)):
        result.problems.append(f"{result.name}: cohort.json does not list {', '.join(missing)}")
    for outcome in listed.values():
        result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
    if bad := [code for code in result.exits if code not in (0, 1)]:
        errors = sorted(name for name, outcome in listed.items() if outcome == "error")
        result.problems.append(f"{result.name}: a batch exited {bad[0]}"
                               + (f" (error reports: {', '.join(errors)})" if errors else ""))
    return result


def local(name: str, workers: int, subs: list[Path], names: list[str], work: Path, env: dict[str, str]) -> Outcome:
    out, log = work / name / "out", work / name / "batch.log"
    log.parent.mkdir(parents=True)
    started = time.perf_counter()
    code = cli(["batch", *map(str, subs), "--out", str(out), "--workers", str(workers), "--no-mlflow", "--force"],
               env, log)
    wall = time.perf_counter() - started
    return check(Outcome(name, workers, len(names), wall, [code]), out, names)


def queued(name: str, workers: int, subs: list[Path], names: list[str], work: Path, env: dict[str, str]) -> Outcome:
    folder = work / name
    out, log = folder / "out", folder / "batch.log"
    folder.mkdir(parents=True)
    server, url = start_redis(folder / "redis")
    started_workers: list[subprocess.Popen] = []
    logs = []
    try:
        started = time.perf_counter()
        enqueued = cli(["batch", *map(str, subs), "--out", str(out), "--queue", url, "--no-wait", "--force"], env, log)
        enqueue_s = time.perf_counter() - started
        for i in range(1, workers + 1):
            logs.append(open(folder / f"worker-{i}.log", "wb"))  # noqa: SIM115 - closed below
            started_workers.append(subprocess.Popen(
                [*GRADER, "worker", "--queue", url, "--burst", "--no-mlflow", "--name", f"bench-{i}"], env=env,
                cwd=folder, stdout=logs[-1], stderr=subprocess.STDOUT, start_new_session=True))
        # Not --force here: on a job that already finished, --force grades it again instead of collecting it.
        collected = cli(["batch", *map(str, subs), "--out", str(out), "--queue", url], env, log)
        wall = time.perf_counter() - started
        for worker in started_workers:  # burst workers leave once the queue is empty
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        result = check(Outcome(name, workers, len(names), wall, [enqueued, collected]), out, names)
        result.problems += [f"{name}: worker bench-{i} exited {w.returncode}"
                            for i, w in enumerate(started_workers, 1) if w.returncode not in (0, None)]
        print(f"{name}: enqueue took {enqueue_s:.1f} s of the {wall:.1f} s", flush=True)
        return result
    finally:
        horses = [pid for worker in started_workers if worker.poll() is None for pid in children(worker.pid)]
        for worker in started_workers:
            stop(worker)
        if horses:
            prune_horses(horses)
        for handle in logs:
            handle.close()
        stop(server, warm_s=10)


def table(results: list[Outcome], cores: int) -> None:
    base = next((r for r in results if r.name == "local-1"), None)
    print(f"\n{'scenario':<10} {'workers':>7} {'subs':>5} {'wall s':>8} {'subs/min':>9} {'ratio':>6} "
          f"{'target':>7}  {'exit':<5} outcomes")
    for r in results:
        ratio = f"{r.per_min / base.per_min:>6.2f}" if base is not None else f"{'n/a':>6}"
        target = "(base)" if r.workers == 1 else f">={0.8 * min(r.workers, cores):.2f}"
        outcomes = ", ".join(f"{n} {o.replace('_', ' ')}" for o, n in sorted(r.outcomes.items()))
        print(f"{r.name:<10} {r.workers:>7} {r.submissions:>5} {r.wall_s:>8.1f} {r.per_min:>9.2f} {ratio} "
              f"{target:>7}  {'/'.join(map(str, r.exits)):<5} {outcomes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2, help="copies of (reference, baseline, failing)")
    parser.add_argument("--workers", type=int, default=2, help="gradings at once of local-N and queue-N")
    parser.add_argument("--only", choices=["local", "queue"], help="only the local batches, or only the queue")
    parser.add_argument("--full", action="store_true", help="the task's real settings (two trainings per grading)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR (kept: reports, logs) instead of a "
                                                                 "temp folder")
    args = parser.parse_args()
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: give a new or empty folder (each run writes its cohort and reports there)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally blocks stop redis and the workers
    cores = host_cores()
    print(f"{load_average()}; {cores} usable", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-cohort-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        names = write_cohort(work / "cohort", args.copies)
        subs = [work / "cohort" / n for n in names]
        env = {**os.environ, "COLUMNS": "160"}
        if not args.full:
            env["GRADER_TASKS_DIR"] = str(quick_tasks(work / "tasks"))
        plan = []
        if args.only != "queue":
            plan += [("local-1", 1, local), (f"local-{args.workers}", args.workers, local)]
        if args.only != "local":
            plan += [(f"queue-{args.workers}", args.workers, queued)]
        results = []
        for name, workers, run in plan:
            print(f"{name}: {len(names)} submissions, {workers} at a time ...", flush=True)
            try:
                results.append(run(name, workers, subs, names, work, env))
            except KeyboardInterrupt:
                sys.exit(f"{name}: interrupted (its batch, workers and redis-server are stopped)")
            print(f"{name}: {results[-1].wall_s:.1f} s, exit {'/'.join(map(str, results[-1].exits))}", flush=True)
        table(results, cores)
        print(load_average())
        problems = [p for r in results for p in r.problems]
        if problems:
            for r in results:
                if r.problems and (log := work / r.name / "batch.log").is_file():
                    tail = log.read_text(errors="replace").splitlines()[-25:]
                    print(f"\n{r.name}: the end of {log.name}:\n  " + "\n  ".join(tail), file=sys.stderr)
            print("\nFAILED:\n  " + "\n  ".join(problems) + f"\n(logs: {work}/<scenario>/*.log; --keep DIR keeps them)",
                  file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
