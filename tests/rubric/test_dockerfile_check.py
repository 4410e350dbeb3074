"""The Dockerfile criterion asks the sandbox interface for a build; it knows no backend (no engine needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.rubric.dockerfile import check
from grader.sandbox.base import IMAGE_BUILD, BuildResult, Limits, RunResult, RunSpec, Sandbox


class Builds(Sandbox):
    """A sandbox that can build images and answers with a fixed result, recording what it was asked."""

    name = "fake-builder"
    capabilities = frozenset({IMAGE_BUILD})

    def __init__(self, result: BuildResult) -> None:
        self.result = result
        self.asked: list[tuple[Path, Path, Limits]] = []

    def run(self, spec: RunSpec) -> RunResult:
        raise AssertionError("the Dockerfile criterion runs nothing")

    def build_image(self, context_dir: Path, dockerfile: Path, limits: Limits) -> BuildResult:
        self.asked.append((context_dir, dockerfile, limits))
        return self.result


class RunsOnly(Builds):
    name = "fake-runner"
    capabilities = frozenset()


@pytest.fixture
def dockerfile(tmp_path: Path) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python:3.11\nCMD [\"python\"]\n")
    return path


def test_the_build_is_asked_of_the_interface_with_the_limits_and_the_time_limit(dockerfile: Path) -> None:
    box = Builds(BuildResult(ok=True, starts=True, steps=2, log=["line 1: FROM ..."]))
    outcome = check(dockerfile, box, limits=Limits(memory_mb=512, pids=64), timeout_s=42)
    assert outcome.fraction == 1.0 and outcome.evidence == ["line 1: FROM ..."]
    ((context, path, limits),) = box.asked
    assert (context, path) == (dockerfile.parent, dockerfile)
    assert (limits.memory_mb, limits.pids, limits.timeout_s) == (512, 64, 42)


def test_a_failed_build_gives_its_reason(dockerfile: Path) -> None:
    outcome = check(dockerfile, Builds(BuildResult(ok=False, error="line 2: `exit 3` exited with code 3")))
    assert outcome.fraction == 0.25 and "exited with code 3" in outcome.explanation


def test_a_backend_without_the_capability_is_never_asked(dockerfile: Path) -> None:
    box = RunsOnly(BuildResult(ok=True))
    outcome = check(dockerfile, box)
    assert outcome.fraction is None and outcome.needs_review and box.asked == []


def test_backends_that_cannot_build_refuse_with_a_hint(dockerfile: Path) -> None:
    from grader.errors import SandboxError

    class Plain(Sandbox):
        name = "plain"

        def run(self, spec: RunSpec) -> RunResult:
            raise NotImplementedError

    with pytest.raises(SandboxError) as err:
        Plain().build_image(dockerfile.parent, dockerfile, Limits())
    assert "image_build" in (err.value.hint or "")
