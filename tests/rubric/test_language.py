"""How a sentence is read: what a negation covers, where a list of terms is, what only echoes the question."""

from __future__ import annotations

import pytest

from grader.rubric.language import Echo, Sentence, stem


def _negation(text: str, term: str) -> str | None:
    s = Sentence(text)
    at = text.index(term)
    return s.negation(at, at + len(term))


@pytest.mark.parametrize("text, term, by", [
    ("I would not retrain the model on a schedule.", "schedule", "not"),
    ("There is no need to load the model once at start-up.", "load the model once", "no need"),
    ("I wouldn't run an A/B test or a gradual rollout either.", "gradual rollout", "wouldn't"),
    ("A canary is unnecessary for a model like this.", "canary", "unnecessary"),
    ("Batching or caching would not be worth it.", "caching", "not be worth"),
    ("Feature importance is not something I computed.", "Feature importance", "not something"),
    ("Rollback isn't possible once a model is live.", "Rollback", "isn't"),
    ("Instead of rollback I would fix any problem forward.", "rollback", "instead of"),
    ("A random sample rather than low-confidence ones.", "low-confidence", "rather than"),
])
def test_negations_deny_the_terms_in_their_clause(text, term, by):
    assert _negation(text, term) == by


@pytest.mark.parametrize("text, term", [
    ("I would not retrain blindly, but investigate first and keep a canary.", "canary"),
    ("We never load it per request; the service keeps it in memory.", "keeps it in memory"),
    ("Not only the recall but also the precision is checked.", "precision"),
    ("It is no worse than the live model on recent data.", "recent data"),
    ("Switching back needs no rebuild, since the previous version stays deployed.", "previous version"),
    ("The model was not worse on any segment, and I did not stop there: shadow mode came next.", "shadow mode"),
    ("On a held-out cohort it has never seen, it must beat the champion.", "held-out"),
])
def test_what_a_negation_does_not_reach(text, term):
    assert _negation(text, term) is None


def test_lists_of_terms_are_found_and_coordinations_are_not():
    s = Sentence("Our stack leverages FastAPI, gRPC, Kubernetes, ONNX and caching to deliver speed.")
    [(a, b)] = s.lists
    assert "FastAPI, gRPC, Kubernetes, ONNX and caching" in s.text[a:b]
    assert Sentence("I'd compare input distributions with training (PSI, missing values, unseen categories).").lists
    assert not Sentence("Precision and recall by cohort and by segment are tracked monthly.").lists
    assert not Sentence("I'd load the pipeline once at startup and warm it up, then serve it from a stateless "
                        "service with a few workers behind a load balancer.").lists


def test_echo_is_what_the_question_already_says():
    echo = Echo("When and how would you retrain the model, and how would you roll back?")
    assert echo.covers("retraining") and echo.covers("rolling back") and echo.covers("rollback")
    assert not echo.covers("monthly") and not echo.covers("previous version")
    assert stem("dominates") == stem("dominated") == stem("dominate")


def test_concrete_and_filler_sentences():
    assert Sentence("I'd retrain monthly.").concrete and Sentence("PSI above 0.25 pages the owner.").concrete
    assert not Sentence("Shadow, canary and p99 SLOs are part of the process.").concrete
    assert Sentence("It is essential to follow best practices and to make sure the solution is robust.").filler
    assert not Sentence("The vectoriser takes 80 % of each call.").filler
