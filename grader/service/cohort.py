"""An assessment's cohort for interviewers: every candidate with their latest grading, the ``grader compare``
table of those gradings (intervals and flags where they exist), and the CSV export."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from grader.compare.html import render as render_compare
from grader.compare.similarity import similarity
from grader.compare.table import Comparison, Row, cell_text, compare
from grader.grading.batch import read_existing
from grader.service.config import ServiceConfig
from grader.service.db import Assessment, Candidate, Submission
from grader.service.store import TERMINAL, Store
from grader.spec.similarity import SimilarityReport


@dataclass
class Member:
    """One candidate of the cohort and their submissions (newest first); ``shown`` is the one compared:
    the newest graded, else the newest that ended, else the newest."""

    candidate: Candidate
    submissions: list[Submission]

    @property
    def shown(self) -> Submission | None:
        for statuses in (("graded",), TERMINAL):
            found = next((s for s in self.submissions if s.status in statuses), None)
            if found is not None:
                return found
        return self.submissions[0] if self.submissions else None


def members(store: Store, assessment: Assessment) -> list[Member]:
    rows = store.submissions(assessment_id=assessment.id)
    return [Member(c, sorted((s for s in rows if s.candidate_id == c.id), key=lambda s: s.number, reverse=True))
            for c in store.candidates(assessment.id)]


def label(member: Member, submission: Submission) -> str:
    return f"{member.candidate.name} (attempt {submission.number})"


def ended(cohort: list[Member]) -> list[tuple[Member, Submission]]:
    """Each member whose shown attempt has ended (its report, or its error, is there), with that attempt."""
    return [(m, s) for m in cohort if (s := m.shown) is not None and s.status in TERMINAL]


def comparison(config: ServiceConfig, cohort: list[Member]) -> Comparison | None:
    """The compare table of the cohort's shown gradings that have a report; None when none has."""
    rows: list[Row] = []
    for member, shown in ended(cohort):
        folder = config.report_dir(shown.id)
        report = read_existing(folder)
        if report is not None:
            rows.append(Row.from_report(report, str(folder), candidate=label(member, shown)))
    return compare(rows) if rows else None


def code_similarity(config: ServiceConfig, cohort: list[Member]) -> SimilarityReport | None:
    """The cohort's code compared pair by pair (as ``grader batch`` does): the shown attempts' uploads,
    named by candidate; None below two."""
    from grader.authoring.template import starter_boilerplate

    shown = ended(cohort)
    if len(shown) < 2:
        return None
    return similarity([config.upload_path(s) for _, s in shown], starter_boilerplate(),
                      names=[label(m, s) for m, s in shown])


def compare_page(store: Store, config: ServiceConfig, assessment: Assessment) -> str | None:
    """``grader compare``'s page of the cohort with its code similarity flags (``grader batch``'s cohort.html),
    its links relative to the service's submissions folder (served under ``/assessments/{id}/compare/``)."""
    cohort = members(store, assessment)
    table = comparison(config, cohort)
    if table is None:
        return None
    return render_compare(table, code_similarity(config, cohort), page_dir=config.submissions_dir)


CSV_FIXED = ("candidate", "submission_id", "attempt", "status", "outcome", "score", "passed", "submitted_at",
             "finished_at", "tries", "reason")


def to_csv(store: Store, config: ServiceConfig, assessment: Assessment) -> str:
    """Every submission of the cohort, a row each, with the compare table's figures for those it holds."""
    cohort = members(store, assessment)
    table = comparison(config, cohort)
    figures = {}
    columns = []
    if table is not None:
        columns = [c for c in table.columns if c.higher_is_better is not None and c.key != "score"]
        figures = {Path(row.source).parent.name: values for row, values in zip(table.rows, table.values, strict=True)}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CSV_FIXED, *(c.key for c in columns)])
    for member in cohort:
        for s in reversed(member.submissions):
            values = figures.get(s.id, {})
            writer.writerow([member.candidate.name, s.id, s.number, s.status, s.outcome or "",
                             "" if s.score is None else s.score, "" if s.passed is None else s.passed,
                             s.created_at.isoformat(timespec="seconds"),
                             s.finished_at.isoformat(timespec="seconds") if s.finished_at else "", s.tries, s.reason,
                             *(cell_text(values.get(c.key), c) if values.get(c.key) is not None else ""
                               for c in columns)])
    return out.getvalue()
