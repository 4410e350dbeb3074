"""The ``grader`` command line. Exit codes follow the contract: 0 passed, 1 not passed,
2 usage error, 3 invalid submission, 4 grader or infrastructure error.

One module per command group, imported only when one of its commands runs: ``grader --help``
lists them from the table below, so answering it imports nothing but click. Each command imports
what it needs inside its body, and lets a :class:`~grader.errors.GraderError` propagate to the
root group, which turns it into its message, hint and exit code (:mod:`grader.cli.errors`).
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from grader.cli.errors import fail
from grader.cli.lazy import LazyCommand, LazyGroup
from grader.errors import GraderError

COMMANDS = {
    "admin": LazyCommand("grader.cli.admin:admin", "Create assessments, invite candidates, add interviewers (serve)."),
    "answers": LazyCommand("grader.cli.answers:answers", "Grade written answers alone, without running any code."),
    "batch": LazyCommand("grader.cli.batch:batch", "Grade many submissions, N at a time, into cohort files."),
    "check": LazyCommand("grader.cli.grade:check", "Self-check a submission on public data before handing it in."),
    "compare": LazyCommand("grader.cli.compare:compare", "Compare candidates of one task side by side."),
    "grade": LazyCommand("grader.cli.grade:grade", "Grade a submission (folder, .zip or .tar.gz), write the reports."),
    "queue": LazyCommand("grader.cli.queue:queue", "Inspect the grading queue of `grader worker`."),
    "review": LazyCommand("grader.cli.review:review", "Score one criterion of a graded report as an interviewer."),
    "rubrics": LazyCommand("grader.cli.rubric:rubrics", "List and inspect rubrics."),
    "sandbox": LazyCommand("grader.cli.sandbox:sandbox", "Build, inspect and clean up the sandbox runtime."),
    "similarity": LazyCommand("grader.cli.similarity:similarity", "Compare a cohort's code pair by pair."),
    "serve": LazyCommand("grader.cli.serve:serve", "Serve the grading service: upload, watch, review (web + API)."),
    "schema": LazyCommand("grader.cli.schema:schema", "Print the JSON Schema of a task, rubric, report or submission."),
    "task": LazyCommand("grader.cli.task:tasks", "List, inspect, create, validate and export tasks."),
    "tasks": LazyCommand("grader.cli.task:tasks", "The same as `grader task`."),
    "worker": LazyCommand("grader.cli.worker:worker", "Grade jobs from a queue (Redis) with this machine's engine."),
}


class _Root(LazyGroup):
    """The root group: a GraderError that a command lets through ends here, as its message, hint and code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GraderError as exc:
            fail(exc)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version`` from :mod:`grader.version` (which also answers in an uninstalled checkout), read
    only when asked: the installed metadata costs as much to read as click to import."""
    if value and not ctx.resilient_parsing:
        from grader.version import __version__

        click.echo(f"{ctx.find_root().info_name}, version {__version__}")
        ctx.exit()


@click.group("grader", cls=_Root, commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
def main() -> None:
    """Grade machine-learning take-home submissions in a hardened sandbox."""


def run() -> NoReturn:
    """The console script: :func:`main`, then leave without tearing the interpreter down.

    Tearing down the modules a grading imported (scikit-learn, pandas, MLflow, matplotlib) takes
    about 2 s on these machines, after the last report is written. The exit handlers still run and
    the streams are flushed; only when a non-daemon thread is still alive (it may be finishing
    work) does the interpreter end the usual way. Tests call :func:`main` (click's runner), never this.
    """
    try:
        main()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    import threading

    if isinstance(code, int | None) and all(t is threading.main_thread() or t.daemon for t in threading.enumerate()):
        import atexit
        import os

        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more to say to it
            pass
        os._exit(code or 0)
    sys.exit(code)
