"""``grader grade --ci``: what a CI job needs beside the exit code.

GitHub Actions reads workflow commands from stdout (``::error title=T::message``) and shows them as
annotations on the run and the pull request, and renders the Markdown appended to the file named
by ``GITHUB_STEP_SUMMARY`` on the job's page. Other CI systems read ``junit.xml``, which every
grading writes anyway.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.report.format import points
from grader.spec.report import Report

#: GitHub caps annotations per step; more are dropped silently, so say how many were left out.
MAX_ANNOTATIONS = 10
#: Lines of a failure's detail (the candidate's stderr tail) carried into its annotation.
DETAIL_LINES = 6


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, *, title: str | None = None, file: str | None = None) -> str:
    """One workflow command line, escaped as GitHub documents (``%``, newlines; ``:`` and ``,`` in properties)."""
    props = [f"{key}={_escape_property(value)}" for key, value in (("file", file), ("title", title)) if value]
    head = f"::{level}" + (" " + ",".join(props) if props else "")
    return f"{head}::{_escape_data(message)}"


def workflow_commands(report: Report, submission: Path | None = None) -> list[str]:
    """Workflow commands for ``report``: an error per failure, why it did not pass, warnings, the score."""
    found: list[str] = []
    files = {"train": "train.py", "predict": "model.py", "validate": "submission.yaml"}
    for failure in report.failures:
        name = files.get(failure.phase)
        file = str(submission / name) if submission is not None and name and submission.is_dir() else None
        message = failure.message
        if failure.detail:  # the annotation has no "detail below": carry the end of the evidence along
            message += "\n" + "\n".join(failure.detail.strip().splitlines()[-DETAIL_LINES:])
        found.append(command("error", message, title=f"grader: {failure.phase} {failure.kind}", file=file))
    verdict = report.verdict
    if verdict.outcome == "not_passed" and not verdict.self_check:  # a self-check's problems are its failures
        reasons = report.rubric.not_passed_because if report.rubric else []
        found.append(command("error", "; ".join(reasons) or "below the pass mark",
                             title=f"grader: not passed ({points(report.score)}/100)"))
    if verdict.self_check:  # a gate the validation figures miss is something to fix before handing in
        found += [command("error", reason, title="grader: self-check gate") for reason in verdict.reasons]
    found += [command("warning", text, title="grader") for text in report.warnings]
    if len(found) > MAX_ANNOTATIONS:
        left = len(found) - MAX_ANNOTATIONS + 1
        found = found[:MAX_ANNOTATIONS - 1] + [command("warning", f"{left} more findings: see report.md")]
    if verdict.self_check:
        heading = (f", heading for {points(report.estimate.score)}/100 on the {report.estimate.basis}"
                   if report.estimate is not None else "")
        found.append(command("notice", f"{report.task.id}: {verdict.phrase}{heading}", title="grader"))
    else:
        found.append(command("notice", f"{report.task.id}: {verdict.phrase}, score {points(report.score)}/100",
                             title="grader"))
    return found


def append_summary(markdown: str, path: str | None = None) -> Path | None:
    """Append ``markdown`` to ``$GITHUB_STEP_SUMMARY`` (or ``path``); None when neither is set."""
    target = path or os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(markdown.rstrip("\n") + "\n\n")
    return Path(target)
