"""Written answers: found however they are formatted, graded on key points in sentences, not on keywords."""

from __future__ import annotations

import textwrap

import pytest

from grader.rubric import answers as md
from grader.rubric.engine import grade
from grader.rubric.question import QuestionSpec, grade_answer, term_pattern
from grader.rubric.spec import get_rubric
from tests.helpers import EXAMPLES
from tests.rubric.conftest import rubric, section

QUESTION = {
    "id": "rollout", "kind": "question", "title": "Rollout", "min_words": 30,
    "question": "How would you roll out a new model?",
    "key_points": [
        {"id": "shadow", "description": "Runs it in shadow mode first.", "terms": ["shadow"]},
        {"id": "canary", "description": "Sends a small share of traffic to it.",
         "terms": ["canary", "share of traffic"]},
        {"id": "rollback", "description": "Can roll back at once.", "terms": ["roll back", "rollback"]},
        {"id": "metrics", "description": "Compares recall.", "patterns": [r"\brecall\b"], "weight": 2},
    ],
}
SPEC = QuestionSpec.model_validate(QUESTION)
#: The same question without a length share, for tests of what counts.
ANY_LENGTH = QuestionSpec.model_validate({**QUESTION, "min_words": 0})


def _grade(text: str, spec: QuestionSpec = SPEC):
    found = md.find(md.parse(textwrap.dedent(text)), "rollout")
    assert found is not None
    return grade_answer(spec, found)


GOOD = """
    ## rollout

    First the new model would run in shadow mode next to the live one for two weeks, so we can
    compare its recall with the live model on the same applications without acting on it.
    Then it would take a canary slice of traffic, and only after a week without alarms all of it.
    If anything looks wrong, we roll back by pointing the service at the previous version again.
"""


def test_a_real_answer_covers_its_key_points_with_line_numbers():
    outcome = _grade(GOOD)
    assert outcome.fraction == 1.0 and outcome.needs_review
    assert "covers 4 of 4 key points" in outcome.explanation
    assert outcome.evidence[0].startswith('shadow (Runs it in shadow mode first.): line 4: '
                                          '"First the new model would run in shadow mode')


@pytest.mark.parametrize("heading", ["## rollout", "## Rollout", "##  `rollout`", "## 3. rollout",
                                     "## rollout: how to ship it", "### ROLLOUT", "## **rollout**"])
def test_headings_are_found_whatever_their_formatting(heading):
    assert _grade(GOOD.replace("## rollout", heading)).fraction == 1.0


def test_formatting_inside_the_answer_does_not_matter():
    formatted = """
        ## rollout
        - First the new model would run in **shadow mode** next to the live one, so we can compare its
          `recall` with the live model's on the same applications.
        - Then a *canary* slice of traffic takes it, and only after a week without alarms all of it goes over.
        - If anything looks wrong we [roll back](https://example.com) by pointing the service at the old version.
    """
    assert _grade(formatted).fraction == 1.0


@pytest.mark.parametrize("stuffing", [
    "## rollout\nshadow, canary, rollback, recall, share of traffic, roll back, shadow mode, canary release\n",
    "## rollout\n- shadow\n- canary\n- rollback\n- recall\n",
    "## rollout\nWe use shadow canary rollback recall roll back share of traffic shadow canary rollback recall.\n",
    "## rollout\n| shadow | canary | rollback | recall |\n|---|---|---|---|\n",
])
def test_keyword_stuffing_scores_nothing_and_is_called_out(stuffing):
    outcome = _grade(stuffing)
    assert outcome.fraction == 0.0
    assert "not counted" in outcome.explanation


def test_one_sentence_may_say_several_key_points():
    text = ("## rollout\nI would run it in shadow mode for a week, then give a canary slice to it, judged on recall, "
            "and roll back if anything looks wrong.\n")
    outcome = _grade(text, ANY_LENGTH)
    assert "covers 4 of 4" in outcome.explanation and outcome.fraction == 1.0
    assert 'matched: shadow' in outcome.evidence[0]


def test_terms_of_several_points_in_a_list_only_name_them():
    named = _grade("## rollout\nOur release process includes shadow deployments, canary releases, recall tracking "
                   "and fast rollback for every model we build.\n", ANY_LENGTH)
    assert named.fraction == pytest.approx(0.25)  # every point named: a quarter of its weight
    assert "covers 0 of 4" in named.explanation and "named in a list of terms" in named.explanation
    said = _grade("## rollout\nWe would run it in shadow mode for two weeks so its recall can be compared with the "
                  "live model, then move a canary slice of traffic to it.\n", ANY_LENGTH)
    assert said.fraction == 0.8


def test_a_denied_key_point_earns_nothing_and_costs_half_its_weight():
    outcome = _grade("## rollout\nI would not bother with shadow mode for a model like this one, and a canary "
                     "release is unnecessary here; it simply takes all the traffic at once when it is ready.\n",
                     ANY_LENGTH)
    assert outcome.fraction == 0.0
    assert "says the opposite" in outcome.explanation and "'not'" in outcome.explanation
    assert "'unnecessary'" in outcome.explanation
    mixed = _grade("## rollout\nThe model would first run in shadow mode, not only to compare its recall with the "
                   "live one but also to check latency, and there is no need for a canary release after that.\n",
                   ANY_LENGTH)
    assert "covers 2 of 4 key points (shadow, metrics)" in mixed.explanation  # "not only" is not a negation
    assert mixed.fraction == pytest.approx((1 + 2 - 0.5) / 5)


def test_restating_the_question_and_asking_it_back_earn_nothing():
    spec = QuestionSpec.model_validate({**QUESTION, "question": "How would you roll back a canary release?"})
    found = md.find(md.parse("## rollout\nHow would I roll back a canary release? I would roll back the canary "
                             "release by rolling it back when a roll back of the canary release is needed.\n"),
                    "rollout")
    outcome = grade_answer(spec, found)  # type: ignore[arg-type]
    assert outcome.fraction == 0.0
    assert "only repeat the question's words" in outcome.explanation or "asked back" in outcome.explanation


def test_cues_say_a_point_in_other_words():
    spec = QuestionSpec.model_validate({
        **QUESTION, "min_words": 0, "lexicon": {"live": ["live", "current", "production", "champion"]},
        "key_points": [{"id": "gate", "description": "Compares the new model with the live one.",
                        "cues": ["compare|beat|outperform + @live", "/\\bA\\s*\\|\\s*B\\b/"]}]})
    said = md.find(md.parse("## rollout\nThe new one must beat the current model on last month's data before "
                            "anything else happens to it.\n"), "rollout")
    far = md.find(md.parse("## rollout\nThe new one must beat the old baseline on the data of last month, and the "
                           "people who run the platform team would then decide about production.\n"), "rollout")
    assert grade_answer(spec, said).fraction == 1.0  # type: ignore[arg-type]
    assert "matched: beat + current" in grade_answer(spec, said).evidence[0]  # type: ignore[arg-type]
    assert grade_answer(spec, far).fraction == 0.0  # type: ignore[arg-type]  # "beat" and "production" too far apart
    assert spec.cues("gate")[1].groups[0][0].search("an A | B test")  # a '|' inside /regex/ is the regex's


def test_evidence_quotes_the_sentence_and_the_words_that_earned_it():
    outcome = _grade(GOOD)
    assert outcome.evidence[0].endswith('(matched: shadow)')
    assert outcome.evidence[1].startswith('canary (Sends a small share of traffic to it.): line 6: '
                                          '"Then it would take a canary slice of traffic')


def test_short_answers_earn_a_share_of_the_points():
    outcome = _grade("## rollout\nThe model would first run in shadow mode for a while.\n")
    assert "covers 1 of 4" in outcome.explanation and "shorter than the 30 words" in outcome.explanation
    assert outcome.fraction == pytest.approx(0.2 * 11 / 30, abs=1e-3)  # 1 point of weight 1 in 5; 11 of 30 words


def test_missing_and_empty_answers(ctx):
    result = grade(rubric(section("q", 100, QUESTION)), ctx)
    assert result.sections[0].criteria[0].points == 0 and "ANSWERS.md is missing" in \
        result.sections[0].criteria[0].explanation
    (ctx.submission / "ANSWERS.md").write_text("## other\nSomething else entirely.\n\n## rollout\n\n")
    c = grade(rubric(section("q", 100, QUESTION)), ctx).sections[0].criteria[0]
    assert c.points == 0 and "'## rollout' section of ANSWERS.md is empty" in c.explanation and c.needs_review


def test_terms_match_word_forms_and_separators():
    assert term_pattern("retrain").search("we retrained it")
    assert term_pattern("start-up").search("at startup") and term_pattern("start-up").search("at start up")
    assert term_pattern("ms").search("12 ms") and not term_pattern("ms").search("msg")
    assert not term_pattern("psi").search("psychology")


def test_the_examples_answers_rank_as_they_should():
    questions = get_rubric("ml-engineer").questions()
    scores = {}
    for name in ("reference", "baseline"):
        parsed = md.parse((EXAMPLES / name / "ANSWERS.md").read_text())
        scores[name] = [grade_answer(q, md.find(parsed, q.id)).fraction for q in questions]  # type: ignore[arg-type]
    assert min(scores["reference"]) >= 0.8 and max(scores["baseline"]) <= 0.5


@pytest.mark.parametrize("task", ["tabular/credit-default", "nlp/food-reviews", "cv/fashion-mnist"])
def test_every_reference_answer_earns_full_points(task):
    from grader.paths import tasks_dir

    parsed = md.parse((tasks_dir() / task / "examples" / "reference" / "ANSWERS.md").read_text())
    for q in get_rubric("ml-engineer").questions():
        outcome = grade_answer(q, md.find(parsed, q.id))  # type: ignore[arg-type]
        assert outcome.fraction >= 0.95, (q.id, outcome.explanation)


def test_the_evidence_names_each_key_point_with_its_description():
    """Interviewers read what the point is, not only its id."""
    outcome = _grade(GOOD)
    for line, kp in zip(outcome.evidence, SPEC.key_points, strict=False):
        assert line.startswith(f"{kp.id} ({kp.description}): line "), line


LONG = ("First the new model would run in shadow mode next to the live one, " + "for a long while, " * 30
        + "and after that, with a canary, it takes more traffic.")


def test_a_sentence_up_to_the_quote_limit_is_quoted_whole():
    from grader.rubric.question import QUOTE

    sentence = ("First the new model would run in shadow mode next to the live one for two weeks, so we can compare "
                "its recall with the live model on the same applications without acting on it, and only then decide.")
    assert 150 < len(sentence) <= QUOTE
    outcome = _grade(f"## rollout\n{sentence}\n")
    assert f'"{sentence}"' in outcome.evidence[0] and "…" not in outcome.evidence[0]


def test_a_long_sentence_is_cut_at_a_boundary_after_the_matched_words_with_an_ellipsis():
    from grader.rubric.question import QUOTE

    assert len(LONG) > QUOTE
    outcome = _grade(f"## rollout\n{LONG}\n")
    shadow = next(e for e in outcome.evidence if e.startswith("shadow "))
    quote = shadow.split(': "', 1)[1].rsplit('" (matched:', 1)[0]
    assert quote.endswith(" …") and LONG.startswith(quote[:-2])
    assert LONG[len(quote) - 2] in " ,"  # cut between words, never inside one
    canary = next(e for e in outcome.evidence if e.startswith("canary "))
    assert "with a canary" in canary  # the words that earned the point are never cut away


def test_the_self_check_never_shows_key_points(tmp_path):
    """`grader check` tells a candidate which answers are missing, never what the key points are."""
    from grader.grading.selfcheck import notes
    from grader.rubric.base import Context
    from grader.spec.report import Report, TaskRef
    from grader.spec.task import get_task

    spec = get_rubric("ml-engineer")
    (tmp_path / "ANSWERS.md").write_text("## serving-latency\nIt is fast enough for us, we measured it.\n")
    ctx = Context(report=Report(status="graded", task=TaskRef(id="tabular/credit-default", version=1)),
                  task=get_task("tabular/credit-default"), submission=tmp_path)
    said = "\n".join(notes(spec, ctx))
    assert "has no answer under '## drift-monitoring'" in said
    for question in spec.questions():
        for kp in question.key_points:
            assert kp.description not in said and f"{kp.id} (" not in said, kp.id
