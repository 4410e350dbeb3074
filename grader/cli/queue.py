"""``grader queue status``: the queue's workers, what waits and runs, and why jobs failed."""

from __future__ import annotations

import click

from grader.cli.worker import QUEUE_OPTION


@click.group("queue")
def queue() -> None:
    """Inspect the grading queue that `grader worker` and `grader batch --queue` share."""


@queue.command("status")
@QUEUE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(url: str, as_json: bool) -> None:
    """Workers (idle or busy, on which job, since when), queued / running / failed / finished jobs, and
    each failed job with its reason."""
    from rich.markup import escape
    from rich.table import Table

    from grader.cli.console import out
    from grader.queue.client import status as queue_status
    from grader.queue.connection import connect

    redis = connect(url, reconnect_s=5)
    try:
        state = queue_status(redis, url)
    finally:
        redis.close()
    if as_json:
        click.echo(state.model_dump_json(indent=2))
        return
    out.print(f"queue [bold]{escape(state.queue)}[/]: {state.queued} queued, {state.running} running, "
              f"{state.failed} failed, {state.finished} finished (kept for collection)")
    if state.workers:
        table = Table("worker", "host", "pid", "state", "submission", "since", title_justify="left")
        for w in state.workers:
            table.add_row(escape(w.name), escape(w.host or "?"), str(w.pid or "?"), w.state,
                          escape(w.submission or ""), w.since or "")
        out.print(table)
    else:
        out.print("no workers: start one with `grader worker --queue URL` on a machine with a Docker engine")
    for f in state.failures:
        out.print(f"[red]failed[/] {escape(f.submission or f.job)} ({f.job}): {escape(f.reason)}")
