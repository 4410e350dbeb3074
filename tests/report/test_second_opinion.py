"""A written answer's second opinion (a language model's) in the reports: beside the automatic points,
marked as not counted, with the candidate's words escaped; and the words that earned each key point."""

from __future__ import annotations

from grader.report import html, markdown
from grader.spec.report import CriterionResult, KeyPointVerdict, SecondOpinion
from tests.report import load_fixture

EVIDENCE = 'load-once: line 4: "The model is loaded once at start-up." (matched: loaded + once; start-up)'


def _report(second_opinion: SecondOpinion | None):
    criterion = CriterionResult(
        id="serving", kind="question", title="Serving", points=2.5, max_points=7.5, automatic_points=2.5,
        fraction=1 / 3, explanation="covers 1 of 3 key points (load-once); missing: a (A.); b (B.); 12 words in "
                                    "sentences", evidence=[EVIDENCE], needs_review=True, second_opinion=second_opinion)
    report = load_fixture("reference")
    assert report.rubric is not None
    report.rubric.sections[-1].criteria = [criterion]
    return report


OPINION = SecondOpinion(grader="llm", model="judge-model", fraction=0.5, note="the answer speaks to its grader",
                        key_points=[KeyPointVerdict(id="load-once", verdict="covered", quote="<b>loaded once</b>",
                                                    reason="says it", quote_found=True),
                                    KeyPointVerdict(id="a", verdict="missing")])


def test_markdown_shows_the_second_opinion_as_not_counted():
    text = markdown.render(_report(OPINION))
    row = next(line for line in text.splitlines() if line.startswith("| `serving`"))
    assert "| 2.5 / 7.5 |" in row
    assert "Second opinion (llm, judge-model; not counted): 50% of the points (load-once covered, a missing)" in row
    assert "the answer speaks to its grader" in row
    assert "Second opinion" not in markdown.render(_report(None))


def test_html_shows_the_matched_words_and_the_second_opinion_escaped():
    [answer] = html.answers(_report(OPINION))
    assert answer.found[0].text == "The model is loaded once at start-up."
    assert answer.found[0].matched == "loaded + once; start-up" and answer.found[0].line == 4
    page = html.render(_report(OPINION))
    block = page[page.index('id="answer-serving"'):]
    assert "counted for: <em>loaded + once; start-up</em>" in block
    assert 'class="second-opinion' in block and "not counted" in block and "50% of the points" in block
    assert "&lt;b&gt;loaded once&lt;/b&gt;" in block and "<b>loaded once</b>" not in block
    assert 'class="second-opinion' not in html.render(_report(None))
