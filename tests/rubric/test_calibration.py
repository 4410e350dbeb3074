"""Written answers ranked as an interviewer ranks them: the calibration set's targets (issue 11).

The figures themselves are printed by ``benchmarks/answers_calibration.py``; this holds the targets:
a rank correlation of at least 0.8 with the interviewer's points, real answers scoring at least
three times padded or buzzword ones, and negated, off-topic or restated answers at most 0.3.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.rubric.calibration import EMPTY, QUALITIES, figures, grade_all, load, questions


@pytest.fixture(scope="module")
def graded():
    return grade_all(load())


def test_the_set_has_thirty_answers_of_every_quality_per_question():
    items = load()
    for question in questions():
        mine = [i for i in items if i.question == question]
        assert len(mine) >= 30, question
        assert set(QUALITIES) - {"wrong"} <= {i.quality for i in mine} | {"wrong"}, question
        assert all(0 <= i.points <= i.max_points for i in mine)
    assert max(Counter((i.question, i.id) for i in items).values()) == 1


def test_the_grader_ranks_answers_as_an_interviewer_does(graded):
    overall = figures(graded)
    assert overall.spearman >= 0.8
    for question in questions():
        assert figures([g for g in graded if g.item.question == question]).spearman >= 0.75, question
    holdout = [g for g in graded if g.item.holdout]
    assert holdout and figures(holdout).spearman >= 0.8  # answers written after the grader was tuned


def test_real_answers_score_three_times_hollow_ones(graded):
    assert figures(graded).ratio_real_to_hollow() >= 3


def test_negated_off_topic_and_restated_answers_earn_almost_nothing(graded):
    worst = max((g for g in graded if g.item.quality in EMPTY), key=lambda g: g.score)
    assert worst.score <= 0.3, (worst.item.question, worst.item.id)
