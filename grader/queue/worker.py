"""``grader worker``: an RQ worker that grades jobs with this machine's Docker engine.

RQ forks a work horse per job and renews the job's lease while the horse runs, so a grading of many
minutes is neither cut off nor run twice. RQ's own lease is the monitoring interval plus a fixed minute;
here it is :data:`LEASE_S`, renewed every :data:`HEARTBEAT_S`, so the job of a worker that died is back in
the queue within about ``LEASE_S + MAINTENANCE_S`` (whoever looks first: any worker's maintenance, or the
`grader batch` waiting for it). SIGTERM (or Ctrl-C) is RQ's warm shutdown: the current grading finishes,
then the worker exits; a second one is the cold shutdown, which hands the job back to the queue.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from rq import Queue, Worker
from rq.serializers import JSONSerializer
from rq.worker_pool import WorkerPool

from grader.queue.connection import QUEUE_NAME, connect, redacted
from grader.queue.jobs import MLFLOW_ENV

#: How often a busy worker renews its job's lease, and how long the lease lasts.
HEARTBEAT_S = 5
LEASE_S = 15
#: How often an idle worker looks for jobs whose lease lapsed (and RQ's other upkeep).
MAINTENANCE_S = 10
#: The stated bound on how soon a dead worker's job is graded again (lease, upkeep, a poll).
REQUEUE_BOUND_S = LEASE_S + MAINTENANCE_S + 5

log = logging.getLogger(__name__)


class GradingWorker(Worker):
    """RQ's forking worker with a short lease, and heartbeats that ride out a Redis restart."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("job_monitoring_interval", HEARTBEAT_S)
        kwargs.setdefault("maintenance_interval", MAINTENANCE_S)
        kwargs.setdefault("serializer", JSONSerializer)
        super().__init__(*args, **kwargs)

    def get_heartbeat_ttl(self, job: Any, working_time: float = 0.0) -> int:
        return LEASE_S

    @property
    def dequeue_timeout(self) -> int:
        """An idle worker wakes this often to do its upkeep (RQ's default waits minutes on the queue)."""
        return MAINTENANCE_S

    def maintain_heartbeats(self, job: Any, execution: Any) -> None:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        try:
            super().maintain_heartbeats(job, execution)
        except (RedisConnectionError, RedisTimeoutError) as exc:  # the grading goes on; the next beat retries
            self.log.warning("Worker %s: Redis away, lease of job %s not renewed (%s)", self.name, job.id, exc)


class GradingPool(WorkerPool):
    """RQ's pool of worker processes, named after this pool (``NAME-1``, ``NAME-2``; a respawned one gets a
    fresh suffix, as the dead one's name stays registered until its heartbeat lapses)."""

    def __init__(self, *args: Any, prefix: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prefix = prefix
        self._spawned = 0

    def start_worker(self, count: int | None = None, burst: bool = True, _sleep: float = 0,
                     logging_level: str = "INFO") -> None:
        from rq.worker_pool import WorkerData

        self._spawned += 1
        name = f"{self.prefix}-{count}" if count is not None else f"{self.prefix}-{self._spawned}-{os.getpid()}"
        process = self.get_worker_process(name, burst=burst, _sleep=_sleep, logging_level=logging_level)
        process.start()
        self.worker_dict[name] = WorkerData(name=name, pid=process.pid, process=process)  # type: ignore[arg-type]


def default_name() -> str:
    """``host.pid``: what `grader queue status` shows, unique across machines and processes."""
    return f"{socket.gethostname()}.{os.getpid()}"


def run(url: str, *, concurrency: int = 1, burst: bool = False, name: str | None = None,
        mlflow_uri: str | None = None, mlflow: bool = True, logging_level: str = "INFO") -> None:
    """Work until stopped (or, ``burst``, until the queue is empty); ``concurrency`` worker processes."""
    os.environ[MLFLOW_ENV] = (mlflow_uri or "") if mlflow else "off"  # read by every job, in the forked horse
    # imported once here, before RQ forks a work horse per job, rather than by every horse (~1 s each)
    import grader.grading.pipeline  # noqa: F401
    import grader.integrations.mlflow  # noqa: F401
    import grader.sandbox.docker.backend  # noqa: F401
    connection = connect(url, blocking=True)
    queue = Queue(QUEUE_NAME, connection=connection, serializer=JSONSerializer)
    print(f"grader worker: {concurrency} process(es) on queue {QUEUE_NAME!r} at {redacted(url)}"
          f"{' (until it is empty)' if burst else ''}", flush=True)
    if concurrency == 1:
        worker = GradingWorker([queue], connection=connection, name=name or default_name())
        worker.work(burst=burst, logging_level=logging_level, with_scheduler=False)
        return
    pool = GradingPool([queue], connection=connection, num_workers=concurrency, worker_class=GradingWorker,
                       serializer=JSONSerializer, prefix=name or default_name())
    pool.start(burst=burst, logging_level=logging_level)
