"""``grader worker``: grade jobs from the queue with this machine's Docker engine (docs/scaling.md)."""

from __future__ import annotations

import click

QUEUE_OPTION = click.option("--queue", "url", envvar="GRADER_QUEUE", show_envvar=True, required=True,
                            help="The queue's Redis: redis://HOST:PORT/DB (redis://:PASSWORD@HOST:PORT/DB).")


@click.command("worker")
@QUEUE_OPTION
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Gradings at once on this machine (one worker process each).")
@click.option("--burst", is_flag=True, help="Exit once the queue is empty instead of waiting for more jobs.")
@click.option("--name", help="This worker's name in `grader queue status` [default: HOST.PID].")
@click.option("--mlflow-uri", envvar="MLFLOW_TRACKING_URI", show_envvar=True,
              help="Where to log the gradings: every worker of a queue should share one tracking server "
                   "[default: this machine's user store, sqlite:///<data dir>/mlflow.db, e.g. "
                   "~/.local/share/grader/mlflow.db].")
@click.option("--no-mlflow", is_flag=True, help="Do not log the gradings to MLflow.")
def worker(url: str, concurrency: int, burst: bool, name: str | None, mlflow_uri: str | None,
           no_mlflow: bool) -> None:
    """Take grading jobs from the queue and grade them in this machine's Docker sandbox.

    Run one per machine (or several: --concurrency). SIGTERM or Ctrl-C finishes the current grading, then
    exits; a second one hands it back to the queue. A worker that dies has its job graded again by
    another worker within about half a minute.
    """
    from grader.queue.connection import check_url
    from grader.queue.worker import run
    from grader.sandbox.docker.client import connect

    check_url(url)
    connect(timeout=10).close()  # no engine, no worker: it would turn every job it takes into an error
    run(url, concurrency=concurrency, burst=burst, name=name, mlflow_uri=mlflow_uri, mlflow=not no_mlflow)
