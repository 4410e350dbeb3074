"""``grader serve``: the grading service (docs/service.md). Candidates hand in through the browser or the API,
interviewers review the cohort; gradings run on local workers or, with ``--queue``, on ``grader worker``."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import click

DATA_OPTION = click.option("--data", "data", type=click.Path(path_type=Path, file_okay=False),
                           envvar="GRADER_SERVICE_DATA", show_envvar=True,
                           help="Where the service keeps uploads, reports and (by default) its SQLite database "
                                "[default: <data dir>/service, e.g. ~/.local/share/grader/service].")
#: Seconds after which a grading whose server stopped reporting (killed, its machine gone) is taken back and
#: queued again; read by ``grader serve`` only (default :data:`grader.service.config.STALE_AFTER_S`).
STALE_AFTER_ENV = "GRADER_SERVICE_STALE_AFTER_S"

DB_OPTION = click.option("--db", envvar="GRADER_SERVICE_DB", show_envvar=True,
                         help="The database: sqlite:////path/grader.db or postgresql://user:password@host/name "
                              "[default: <--data>/grader.db].")


class _Redact(logging.Filter):
    """Invitation links carry a token: the access log shows the path without it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(re.sub(r"/invite/[^ ?]+", "/invite/<token>", a) if isinstance(a, str) else a
                                for a in record.args)
        return True


def stale_after_s() -> float | None:
    """``GRADER_SERVICE_STALE_AFTER_S`` as seconds; None when it is not set."""
    from grader.errors import UsageError

    value = os.environ.get(STALE_AFTER_ENV, "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise UsageError(f"{STALE_AFTER_ENV}={value!r} is not a number of seconds",
                         f"give e.g. {STALE_AFTER_ENV}=30, or unset it for the default") from None


def config_of(data: Path | None, db: str | None, **more: object):  # type: ignore[no-untyped-def]
    from grader.service.config import ServiceConfig, default_data

    return ServiceConfig(data=(data or default_data()).resolve(), db=db, **more)  # type: ignore[arg-type]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; put a reverse proxy with TLS in front for anything but loopback.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@DATA_OPTION
@DB_OPTION
@click.option("--queue", "queue_url", envvar="GRADER_QUEUE", show_envvar=True,
              help="Send gradings to `grader worker` through this Redis (redis://HOST:PORT/DB) instead of "
                   "grading on this machine.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Gradings at once on this machine (without --queue).")
@click.option("--sandbox", type=click.Choice(["docker", "local"]), default="docker", show_default=True,
              help="The sandbox backend of local gradings; `local` runs candidates' code without Docker's isolation.")
@click.option("--mlflow-uri", envvar="MLFLOW_TRACKING_URI", show_envvar=True,
              help="Where local gradings are logged [default: the user's store, <data dir>/mlflow.db].")
@click.option("--no-mlflow", is_flag=True, help="Do not log local gradings to MLflow.")
@click.option("--grading-timeout", type=click.FloatRange(min=1), metavar="SECONDS",
              help="Move a grading still running after this long to `error` (never counted against the candidate) "
                   "[default: from its task's phase timeouts, plus 10 minutes].")
@click.option("--proxy-headers/--no-proxy-headers", default=False, show_default=True,
              help="Trust X-Forwarded-Proto/For from --forwarded-allow-ips (behind a reverse proxy).")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True)
def serve(host: str, port: int, data: Path | None, db: str | None, queue_url: str | None, workers: int, sandbox: str,
          mlflow_uri: str | None, no_mlflow: bool, grading_timeout: float | None,
          proxy_headers: bool, forwarded_allow_ips: str) -> None:
    """Serve the grading service: pages for candidates and interviewers, and the JSON API (/docs).

    Ctrl-C or SIGTERM stops it; a grading running then is queued again and graded from the start by the
    next start, never lost and never counted against the candidate. A server killed outright loses nothing
    either: the next one started on the same machine takes its gradings back at once, and any server on the
    same database does once they have not been heard of for GRADER_SERVICE_STALE_AFTER_S seconds (default 30,
    at least 10).
    """
    import uvicorn

    from grader.cli.console import err
    from grader.errors import UsageError
    from grader.service.app import create_app

    if sandbox == "local":
        err.print("[bold red on yellow] WARNING [/] [bold]--sandbox local runs candidates' code directly on this "
                  "machine with resource limits only. It does NOT isolate untrusted code.[/]")
    if queue_url is not None:
        from grader.queue.connection import check_url

        check_url(queue_url)
        if workers != 1 or sandbox != "docker":
            raise UsageError("with --queue, the workers grade: --workers and --sandbox are theirs",
                             "start `grader worker --queue URL --concurrency N` on the grading machines")
    stale = stale_after_s()
    config = config_of(data, db, queue=queue_url, workers=workers, sandbox=sandbox,
                       mlflow_uri=mlflow_uri, mlflow=not no_mlflow, grading_timeout_s=grading_timeout,
                       **({} if stale is None else {"stale_after_s": stale}))
    from grader.service.store import open_store

    open_store(config).engine.dispose()  # a wrong --db or an unreachable server is said here, not in uvicorn's log
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("uvicorn.access").addFilter(_Redact())
    click.echo(f"grader serve: http://{host}:{port}/ (API docs at /docs); data in {config.data}", err=True)
    uvicorn.run(create_app(config), host=host, port=port, proxy_headers=proxy_headers,
                forwarded_allow_ips=forwarded_allow_ips, log_level="info", timeout_graceful_shutdown=20)
