"""Writing a report's files: every writer of ``report.json`` goes through here, and every format is
rendered from the same :class:`Report`. Writing never scores: the pipeline and ``grader review``
apply the interviewers' reviews (:mod:`grader.rubric.review`) before they write.

``report.json`` is written first and always: a renderer that fails (a bug, a full disk) becomes a
warning in the report, never a lost grading.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from grader.errors import GraderError, UsageError
from grader.spec.report import Report

REPORT_FILE = "report.json"

#: The other files written beside report.json, each by a module's ``render(report) -> str``.
#: Imported when writing, so a broken renderer cannot stop the grader from starting.
RENDERERS: dict[str, str] = {
    "report.md": "grader.report.markdown",
    "report.html": "grader.report.html",
    "junit.xml": "grader.report.junit",
}


def renderer(filename: str) -> Callable[[Report], str]:
    """The ``render`` function that makes ``filename`` (one of :data:`RENDERERS`)."""
    return importlib.import_module(RENDERERS[filename]).render


def write_reports(report: Report, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / REPORT_FILE, report.model_dump_json(indent=2) + "\n")
    failed = False
    for filename in RENDERERS:
        try:
            text = renderer(filename)(report)
        except Exception as exc:  # noqa: BLE001 - one format's bug must not cost the others
            warning = (f"{filename} could not be written ({type(exc).__name__}: {exc}); "
                       "report.json has every figure")
            if warning not in report.warnings:  # a re-write (a review) must not repeat it
                report.warnings.append(warning)
                failed = True
            continue
        write_atomic(out_dir / filename, text)
    if failed:
        write_atomic(out_dir / REPORT_FILE, report.model_dump_json(indent=2) + "\n")


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` atomically: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def read_report(folder: Path) -> Report:
    path = folder / REPORT_FILE
    if not path.is_file():
        raise UsageError(f"{path} not found", "pass the folder `grader grade --out` wrote")
    try:
        return Report.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise GraderError(f"{path} is not a report this grader can read: {exc.errors()[0]['msg']}") from None
