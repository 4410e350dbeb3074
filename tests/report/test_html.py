"""report.html: self-contained, escaped, deterministic, and readable in a real browser.

The fast tests render the real reports of ``tests/report/fixtures`` and parse the page with the
standard library's HTML parser, so the checks are on the elements and attributes a browser sees.
The ``browser`` tests open pages in Debian's headless ``chromium`` (``GRADER_CHROMIUM`` overrides
the path) with every network request blocked, fail on any console or page error, and keep a
full-page screenshot in ``out/test-artifacts/`` for a person to look at. Without a browser they
are skipped, except when ``CI=true``: then they fail, like the docker tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, get_args

import pytest

from grader.report import html, plots
from grader.report.format import points
from grader.rubric import answers as md
from grader.rubric import engine
from grader.rubric.question import KeyPoint, QuestionSpec, grade_answer
from grader.spec.report import CriterionResult, Failure, FailureKind, Latency, Phase, Report, Review, TaskRef
from grader.spec.task import ResourceLimits
from tests.report import load_fixture

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "out" / "test-artifacts"
#: Elements that would fetch something or run code: none may appear.
FORBIDDEN_TAGS = {"script", "link", "img", "iframe", "object", "embed", "base", "audio", "video", "source", "form",
                  "input", "meta-refresh"}
HOSTILE = '<script>window.__pwned = 1</script><img src="http://x.test/i.png" onerror="window.__pwned = 2">'


class Page(HTMLParser):
    """Every start tag with its attributes, and the text outside tags."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text_parts: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.text_parts))

    def ids(self) -> list[str]:
        return [a["id"] for _, a in self.tags if a.get("id")]


def rendered(report: Report) -> tuple[str, Page]:
    text = html.render(report)
    return text, Page(text)


# -- every real report ---------------------------------------------------------------------------


def test_every_report_is_self_contained(named_report):
    name, report = named_report
    text, page = rendered(report)
    assert text.startswith("<!DOCTYPE html>")
    found = {tag for tag, _ in page.tags}
    assert not found & FORBIDDEN_TAGS, f"{name}: {found & FORBIDDEN_TAGS}"
    for tag, attrs in page.tags:
        assert "src" not in attrs and "srcset" not in attrs, (name, tag, attrs)
        for key in ("href", "xlink:href"):
            assert (attrs.get(key) or "#").startswith("#"), (name, tag, attrs)  # in-page links only
        assert not [k for k in attrs if k.startswith("on")], (name, tag, attrs)
    assert not re.search(r"url\(\s*['\"]?(?!#)", text), "CSS may only reference in-page fragments"
    assert "@import" not in text and "@font-face" not in text
    assert len(page.ids()) == len(set(page.ids())), "ids must be unique (several inline SVGs share a page)"


def test_every_report_states_its_verdict_first(named_report):
    _, report = named_report
    text, page = rendered(report)
    label, exit_code = report.verdict.label, report.exit_code
    if report.evaluated_on == "valid" and report.status == "graded":  # `grader check` exits 0 when it runs
        label, exit_code = "Self-check", 1 if report.failures else 0
    start = text.index('id="verdict"')
    verdict = text[start:text.index("</section>", start)]
    assert label in verdict and f"exit code {exit_code}" in verdict
    if report.status == "graded" and report.evaluated_on == "test":
        assert points(report.score) in verdict
    verdict = start
    assert verdict < text.index('id="why"') < text.index('id="environment"')
    for failure in report.failures:
        assert html.failure_title(failure) in page.text
        assert re.sub(r"\s+", " ", failure.message).strip() in page.text


@pytest.mark.parametrize("status", ["graded", "invalid", "error"])
def test_a_bare_report_renders(status):
    """A report with nothing but its status (a grading stopped at the very start) still has a page."""
    report = Report(status=status, task=TaskRef(id="some/task"))
    text, page = rendered(report)
    assert report.verdict.label in page.text and "some/task" in page.text
    assert "<svg" not in text and "Rubric" not in page.text


def test_rendering_is_deterministic_across_processes():
    report = load_fixture("reference")
    first = html.render(report)
    assert first == html.render(report)
    code = ("import sys; from tests.report import load_fixture; from grader.report import html\n"
            "sys.stdout.write(html.render(load_fixture('reference')))\n"
            "sys.stderr.write(str('matplotlib.pyplot' in sys.modules))\n")
    other = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONHASHSEED": "12345"}, check=True)
    assert other.stdout == first
    assert other.stderr.strip().endswith("False"), "plots must not use pyplot's global state"


# -- what the page says --------------------------------------------------------------------------


def test_graded_report_has_its_sections_and_figures():
    report = load_fixture("reference")
    text, page = rendered(report)
    for heading in ("Why", "What passing requires", "Metrics on the hidden test split", "Latency and footprint",
                    "Reproducibility", "Written answers", "Interviewer reviews", "Environment"):
        assert heading in page.text, heading
    assert [a["id"] for tag, a in page.tags if tag == "figure"] == ["confusion-matrix", "pr-curve", "reliability",
                                                                    "latency-cdf"]
    curve = report.curves[0]
    assert f"Average precision {curve.average_precision:,.3f}" in page.text
    assert report.environment.sandbox.image in page.text
    assert f"{report.task.id} version {report.task.version}" in page.text
    for section in report.rubric.sections:
        assert section.title in page.text
        for c in section.criteria:
            assert f'id="criterion-{c.id}"' in text
    for reason in report.reproducibility.explanation:
        assert reason in page.text
    assert "Self-check, not a grade" not in page.text


def test_failed_reports_explain_in_plain_words():
    invalid = Page(html.render(load_fixture("invalid"))).text
    assert "Invalid submission" in invalid and "breaks the submission rules" in invalid
    assert "Checking the submission" in invalid and "not scored" in invalid
    error = Page(html.render(load_fixture("error"))).text
    assert "Grader error" in error and "says nothing about the candidate" in error
    assert "grade it again" in error
    crash_report = load_fixture("crash")
    crash_text, crash = rendered(crash_report)
    assert "Training: crashed" in crash.text
    detail = next(f.detail for f in crash_report.failures if f.kind == "crash")
    assert detail and "<details>" in crash_text and detail.splitlines()[-1].strip() in crash.text


def test_every_failure_phase_kind_and_limit_has_its_words():
    """The page looks these up without a fallback: a new kind, phase or limit must come with its words."""
    assert set(html.PHASES) == set(get_args(Phase)) and set(html.FAILURES) == set(get_args(FailureKind))
    assert set(html.LIMITS) == set(ResourceLimits.model_fields)
    rows = dict(html.limit_rows(ResourceLimits(memory_mb=1536, train_timeout_s=300)))
    assert rows["Memory"] == "1,536 MB" and rows["Training time"] == "300 s"


def test_macro_averaged_metrics_say_so_on_a_multiclass_task():
    assert "each class in turn" in html.metric_description("recall", multiclass=True)
    assert "each class in turn" not in html.metric_description("recall", multiclass=False)
    assert "each class in turn" not in html.metric_description("accuracy", multiclass=True)
    assert html.metric_description("made_up_metric") == ""  # an older report's metric: shown, unexplained


@pytest.mark.parametrize("name", ["invalid", "error", "crash"])
def test_no_figure_without_data(name):
    report = load_fixture(name)
    text = html.render(report)
    assert ("<svg" in text) == bool(report.confusion_matrix or report.curves or report.latency.measured)


def test_multiclass_report_has_a_curve_per_class():
    report = load_fixture("multiclass")
    text, page = rendered(report)
    assert len(report.curves) == len(report.confusion_matrix["labels"]) > 2
    assert "one class against the rest" in page.text
    per_class = text[text.index('class="data compact per-class"'):]
    per_class = per_class[:per_class.index("</table>")]
    for label in report.per_class:
        assert f"<td>{label}</td>" in per_class.replace("&#39;", "'")


def test_candidate_text_is_escaped():
    report = load_fixture("reference")
    question = next(c for s in report.rubric.sections for c in s.criteria if c.kind == "question")
    question.evidence.append(f'{question.id}-x: line 3: "{HOSTILE}"')
    question.explanation += "; " + HOSTILE
    report.failures.append(Failure(phase="predict", kind="crash", message=f"exit code 1 {HOSTILE}", detail=HOSTILE))
    report.warnings.append(HOSTILE)
    report.reproducibility.explanation.append(HOSTILE)
    text, page = rendered(report)
    assert "<script>window" not in text and "<img" not in text
    assert text.count("&lt;script&gt;window.__pwned = 1&lt;/script&gt;") >= 4
    assert not {tag for tag, _ in page.tags} & FORBIDDEN_TAGS


def test_reviews_are_shown_beside_the_automatic_points():
    report = load_fixture("reference")
    criterion = report.rubric.needs_review[0]
    engine.apply_review(report.rubric, criterion, Review(points=1.5, note="Vague on <b>p99</b>.\nSecond line.",
                                                         reviewer="Ada Reviewer", at="2026-11-20T10:00:00+00:00"))
    engine.settle_report(report)
    text, page = rendered(report)
    reviewed = next(c for s in report.rubric.sections for c in s.criteria if c.id == criterion)
    assert "Reviewed by Ada Reviewer" in page.text and "2026-11-20T10:00:00+00:00" in page.text
    assert "Vague on &lt;b&gt;p99&lt;/b&gt;." in text
    assert f"{reviewed.automatic_points:,.2f} automatic" in page.text
    assert f"Score without reviews: {report.rubric.automatic_total:,.1f}" in page.text
    assert f"with them: {report.rubric.total:,.1f}" in page.text
    assert "No interviewer has reviewed" not in page.text


def test_self_check_has_a_banner_and_no_score():
    report = load_fixture("reference").model_copy(update={"evaluated_on": "valid"})
    text, page = rendered(report)
    assert 'id="self-check-banner"' in text and "Self-check, not a grade" in page.text
    assert "public validation split" in page.text and "not a grade" in page.text
    verdict = text[text.index('id="verdict"'):text.index('id="why"')]
    assert points(report.score) not in verdict


def test_written_answers_put_the_key_points_beside_the_sentences():
    spec = QuestionSpec(
        id="serving", kind="question", title="Serving", question="How would you serve it?", min_words=5,
        key_points=[KeyPoint(id="load-once", description="Load the model once at start-up.", terms=["load once"]),
                    KeyPoint(id="batching", description="Batch requests (micro-batching).", terms=["batch"]),
                    KeyPoint(id="monitor", description="Watch p99 latency & errors <live>.", terms=["p99"])])
    answer = md.find(md.parse("## serving\nThe service should load once at start-up and keep the model "
                              "in RAM & answer in < 5 ms for every request.\n\nRequests are answered one by one "
                              "as they arrive, without any waiting.\n"), "serving")
    assert answer is not None
    outcome = grade_answer(spec, answer)
    criterion = CriterionResult(id=spec.id, kind="question", title=spec.title, points=1.0, max_points=3.0,
                                automatic_points=1.0, fraction=outcome.fraction, explanation=outcome.explanation,
                                evidence=outcome.evidence, needs_review=True)
    report = load_fixture("reference")
    report.rubric.sections[-1].criteria = [criterion]
    [shown] = html.answers(report)
    assert [k.id for k in shown.found] == ["load-once"] and shown.found[0].line == 2
    assert "keep the model in RAM & answer in < 5 ms" in shown.found[0].text
    assert [(k.id, k.text) for k in shown.missing] == [("batching", "Batch requests (micro-batching)."),
                                                        ("monitor", "Watch p99 latency & errors <live>.")]
    text, page = rendered(report)
    block = text[text.index('id="answer-serving"'):]
    block = block[:block.index('class="card answer"') if 'class="card answer"' in block else len(block)]
    assert "keep the model in RAM &amp; answer in &lt; 5 ms" in block
    assert "Watch p99 latency &amp; errors &lt;live&gt;." in block
    assert block.count('class="found"') == 1 and block.count('class="missing"') == 2


def test_plots_are_skipped_without_data():
    assert plots.confusion_matrix(None) is None and plots.confusion_matrix({"labels": [], "matrix": []}) is None
    assert plots.pr_curves([]) is None
    assert plots.latency_cdf(Latency()) is None
    assert plots.latency_cdf(Latency(measured=True, cdf_ms=[1.0])) is None
    report = load_fixture("reference")
    for svg in (plots.confusion_matrix(report.confusion_matrix), plots.pr_curves(report.curves),
                plots.latency_cdf(report.latency)):
        assert svg is not None and svg.startswith("<svg ") and svg.rstrip().endswith("</svg>")
        assert "<?xml" not in svg and "<metadata" not in svg and 'aria-label="' in svg


# -- a real browser ------------------------------------------------------------------------------


class Opened:
    """A report page open in the browser, with what it tried to fetch and every error it raised."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.url = path.resolve().as_uri()
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": 1200, "height": 900}, java_script_enabled=True)
        self.page = self.context.new_page()
        self.page.route("**/*", self._route)
        self.page.on("console", lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error"
                     else None)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.goto(self.url, wait_until="load")

    def _route(self, route: Any) -> None:
        if route.request.url == self.url:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def screenshot(self, name: str) -> Path:
        """Keep the whole page as ``out/test-artifacts/report-<name>.png``, for a person to look at."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"report-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self, name: str) -> None:
        """Screenshot (passing or failing: the picture says what went wrong) and close the page."""
        try:
            self.screenshot(name)
        finally:
            self.context.close()

    def check_clean(self) -> None:
        assert self.blocked == [], f"the page tried to fetch {self.blocked}"
        assert self.errors == [], self.errors
        assert self.page.evaluate("window.__pwned") is None
        overflow = self.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"

    def plots(self, expected: int) -> None:
        svgs = self.page.locator("svg.plot")
        assert svgs.count() == expected
        for i in range(expected):
            box = svgs.nth(i).bounding_box()
            assert box is not None and box["width"] > 150 and box["height"] > 100, box


def _open(browser: Any, report: Report, folder: Path) -> Opened:
    path = folder / "report.html"
    path.write_text(html.render(report), encoding="utf-8")
    return Opened(browser, path)


@pytest.mark.browser
@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.usefixtures("nothing_left")
def test_graded_reference_in_a_real_browser(chromium, docker_box, tmp_path):
    from grader.grading.pipeline import Grader
    from tests.helpers import EXAMPLES, QUICK_LATENCY, tasks_copy

    tasks = tasks_copy(tmp_path / "tasks", latency=QUICK_LATENCY)
    out = tmp_path / "out"
    report = Grader(docker_box, tasks_root=tasks).grade(EXAMPLES / "reference", out_dir=out)
    assert report.status == "graded" and report.curves, report.failures
    assert not [w for w in report.warnings if "report.html" in w], report.warnings
    opened = Opened(chromium, out / "report.html")
    try:
        page = opened.page
        verdict = page.locator("#verdict")
        assert verdict.is_visible()
        expected = "PASSED" if report.passed else "NOT PASSED"
        assert verdict.locator(".verdict-label").inner_text().strip() == expected  # upper-cased by CSS
        assert points(report.score) in verdict.inner_text()
        for heading in ("Why", "Metrics on the hidden test split", "Latency and footprint", "Reproducibility",
                        "Written answers", "Interviewer reviews", "Environment"):
            assert page.get_by_role("heading", level=2, name=heading, exact=True).is_visible(), heading
        assert page.get_by_role("heading", name=f"Rubric: {report.rubric.title}").is_visible()
        opened.plots(4)  # confusion matrix, precision-recall, reliability, latency
        top = page.evaluate("document.getElementById('verdict').getBoundingClientRect().top")
        assert top < 300, "the verdict must be the first thing a reader sees"
        opened.check_clean()
    finally:
        opened.close("e2e-reference")
    assert (ARTIFACTS / "report-e2e-reference.png").stat().st_size > 50_000


@pytest.mark.browser
@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.usefixtures("nothing_left")
def test_crashed_training_in_a_real_browser(chromium, docker_box, tmp_path):
    from grader.grading.pipeline import Grader
    from tests.helpers import QUICK_LATENCY, make_submission, tasks_copy

    train = f"import sys\nprint({HOSTILE!r}, file=sys.stderr)\nraise RuntimeError('boom in training')\n"
    tasks = tasks_copy(tmp_path / "tasks", latency=QUICK_LATENCY)
    out = tmp_path / "out"
    runs = {"reproducibility": {"runs": 1, "other_seed": None}}
    report = Grader(docker_box, tasks_root=tasks, task_overrides=runs).grade(
        make_submission(tmp_path / "sub", train=train), out_dir=out)
    assert [f.kind for f in report.failures] == ["crash"]
    opened = Opened(chromium, out / "report.html")
    try:
        page = opened.page
        assert page.locator("#verdict .verdict-label").inner_text().strip() == "NOT PASSED"
        failure = page.locator("#failures .failure").first
        assert "Training: crashed" in failure.inner_text()
        assert "stopped with an error" in failure.inner_text()
        log = failure.locator("pre.log")
        assert not log.is_visible()  # the stderr tail is folded away until asked for
        failure.locator("summary").click()
        assert log.is_visible()
        assert "RuntimeError: boom in training" in log.inner_text()
        assert "<script>window.__pwned = 1</script>" in log.inner_text()  # shown as text, never run
        opened.plots(0)  # no predictions: nothing to draw, and no empty figure either
        opened.check_clean()
    finally:
        opened.close("e2e-crash")


@pytest.mark.browser
def test_every_fixture_renders_in_a_real_browser(chromium, named_report, tmp_path):
    name, report = named_report
    opened = _open(chromium, report, tmp_path)
    try:
        assert opened.page.locator("#verdict").is_visible()
        assert opened.page.get_by_role("heading", level=2, name="Environment", exact=True).is_visible()
        figures = sum(x is not None for x in (plots.confusion_matrix(report.confusion_matrix),
                                              plots.pr_curves(report.curves), plots.reliability(report.calibration),
                                              plots.latency_cdf(report.latency)))
        opened.plots(figures)
        opened.check_clean()
    finally:
        opened.close(name)
