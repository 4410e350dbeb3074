"""cohort.html and cohort.md from real report folders: one task compared, the others rows saying why."""

from __future__ import annotations

import json
import shutil

from grader.compare.cohort import write_cohort
from grader.spec.cohort import Cohort, CohortEntry
from grader.spec.similarity import PairSimilarity, SimilarityReport
from tests.report import fixture_path, load_fixture


def test_cohort_files_compare_the_reports_and_show_the_flags(tmp_path):
    entries = []
    for name in ("reference", "crash", "invalid", "error"):
        (tmp_path / name).mkdir()
        shutil.copy(fixture_path(name), tmp_path / name / "report.json")
        report = load_fixture(name)
        entries.append(CohortEntry(name=name, path=f"subs/{name}", status=report.status,
                                   outcome=report.verdict.outcome, passed=report.passed, score=report.score,
                                   report=f"{name}/report.json"))
    # An invalid submission whose task was never read: a row saying why, not the end of the comparison.
    other = load_fixture("invalid")
    other.task.id = "unknown"
    (tmp_path / "nomanifest").mkdir()
    (tmp_path / "nomanifest" / "report.json").write_text(other.model_dump_json())
    entries.append(CohortEntry(name="nomanifest", path="subs/nomanifest", status="invalid", outcome="invalid",
                               passed=False, score=0.0, report="nomanifest/report.json"))
    sim = SimilarityReport(threshold=0.7, noise_threshold=25, boilerplate=[], pairs=[
        PairSimilarity(a="subs/reference", b="subs/crash", score=0.93, a_share=0.93, b_share=0.9, flagged=True),
        PairSimilarity(a="subs/reference", b="subs/error", score=0.1, a_share=0.1, b_share=0.1, flagged=False)])
    cohort = Cohort(batch_id="b1", grader_version="0.1.0", started_at="now", workers=2, submissions=entries,
                    similarity=sim)
    written = write_cohort(cohort, tmp_path)
    assert [p.name for p in written] == ["cohort.json", "cohort.html", "cohort.md"]
    assert Cohort.model_validate_json((tmp_path / "cohort.json").read_text()) == cohort
    page = (tmp_path / "cohort.html").read_text()
    assert "Candidates for tabular/credit-default" in page and "Code similarity" in page
    assert "0.93" in page and "subs/crash" in page and page.count("<tr") >= 1 + 5 + 2
    md = (tmp_path / "cohort.md").read_text()
    assert "5 submission(s): 1 error, 2 invalid, 1 not passed, 1 passed." in md
    assert "| reference | passed |" in md and "[reference/report.json](reference/report.json)" in md
    assert "1 of 2 pair(s) flagged" in md and "subs/reference ~ subs/crash: 0.93" in md
    row = next(line for line in md.splitlines() if line.startswith("| nomanifest | unreadable:"))
    assert "invalid: submission.yaml is missing" in row
    assert json.loads((tmp_path / "cohort.json").read_text())["submissions"][0]["report"] == "reference/report.json"
