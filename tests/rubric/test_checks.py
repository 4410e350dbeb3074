"""The named checks that read the submission's files and the report."""

from __future__ import annotations

import pytest

from grader.rubric.checks import checks
from grader.spec.report import EnvironmentCheck, Failure, PinMismatch


def run(name, ctx, **options):
    return checks.get(name).run(ctx, options)


def test_no_failures(ctx):
    assert run("no_failures", ctx).fraction == 1.0
    ctx.report.failures.append(Failure(phase="train", kind="timeout", message="took too long"))
    outcome = run("no_failures", ctx)
    assert outcome.fraction == 0.0 and "train timeout" in outcome.explanation


def test_requirements_match_runtime(ctx):
    assert run("requirements_match_runtime", ctx).fraction is None
    ctx.report.reproducibility.environment = EnvironmentCheck(checked_against="the image")
    assert run("requirements_match_runtime", ctx).fraction == 1.0
    ctx.report.reproducibility.environment.mismatches.append(PinMismatch(name="pandas", pinned="2.2.0",
                                                                         runtime="3.0.6"))
    outcome = run("requirements_match_runtime", ctx)
    assert outcome.fraction == 0.0 and outcome.evidence == ["pandas==2.2.0 (runtime: 3.0.6)"]


@pytest.mark.parametrize("empty, reads, shipped, fraction", [
    (False, True, [], 1.0), (True, False, [], 1 / 3), (False, True, ["model.pkl"], 2 / 3)])
def test_artifacts_used(ctx, empty, reads, shipped, fraction):
    rep = ctx.report.reproducibility
    rep.artifacts_empty, rep.reads_artifacts, rep.reads_submission_files = empty, reads, shipped
    assert run("artifacts_used", ctx).fraction == pytest.approx(fraction)


def test_artifacts_used_tells_a_failed_training_from_a_failed_prediction(ctx):
    rep = ctx.report.reproducibility
    outcome = run("artifacts_used", ctx)
    assert outcome.fraction == 0.0 and outcome.explanation == "no training run finished, so nothing was trained here"
    rep.artifacts_empty = False  # training finished; prediction failed, so reads_artifacts was never measured
    outcome = run("artifacts_used", ctx)
    assert outcome.fraction == 0.0 and outcome.explanation == (
        "training saved files to /artifacts, but prediction failed, so whether prediction uses the model trained "
        "here could not be checked")
    rep.artifacts_empty = True
    assert run("artifacts_used", ctx).explanation.startswith("training left /artifacts empty, but prediction failed")


def test_documentation(ctx):
    assert run("documentation", ctx).fraction == 0.0
    (ctx.submission / "model.py").write_text('"""Loads the model."""\n')
    assert run("documentation", ctx).fraction == 0.5
    (ctx.submission / "README.md").write_text("word " * 20)
    assert run("documentation", ctx, min_words=50).fraction == 0.5
    (ctx.submission / "README.md").write_text("word " * 60)
    assert run("documentation", ctx, min_words=50).fraction == 1.0


def test_tests_present(ctx):
    (ctx.submission / "test_model.py").write_text("import model\n")  # no test function: not a test
    assert run("tests_present", ctx).fraction == 0.0
    (ctx.submission / "tests").mkdir()
    (ctx.submission / "tests" / "test_api.py").write_text("def test_health():\n    assert True\n")
    outcome = run("tests_present", ctx)
    assert outcome.fraction == 1.0 and outcome.evidence == ["tests/test_api.py: 1 test(s)"]


def test_dockerfile_absent_or_without_the_docker_backend(ctx):
    assert run("dockerfile_builds", ctx).fraction == 0.0
    (ctx.submission / "Dockerfile").write_text("RUN echo hi\n")
    assert run("dockerfile_builds", ctx).fraction == 0.25  # no FROM
    (ctx.submission / "Dockerfile").write_text("FROM python:3.11\nCMD [\"python\"]\n")
    outcome = run("dockerfile_builds", ctx)  # no sandbox in this context
    assert outcome.fraction is None and outcome.needs_review and "needs the docker backend" in outcome.explanation
