"""Writing a report's files: every writer of ``report.json`` goes through here, so reviews kept
beside the report are applied whenever it is (re)written."""

from __future__ import annotations

from pathlib import Path

from grader.report.model import Report

REPORT_FILE = "report.json"


def write_reports(report: Report, out_dir: Path) -> None:
    from grader import review

    out_dir.mkdir(parents=True, exist_ok=True)
    review.apply(report, out_dir)
    tmp = out_dir / f".{REPORT_FILE}.tmp"
    tmp.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(out_dir / REPORT_FILE)
