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


PIP_NOISE = "\n".join([
    "  Collecting pandas==2.2.3",
    "  Downloading pandas-2.2.3-cp311-cp311-manylinux_2_17_x86_64.whl (13.1 MB)",
    "     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 13.1/13.1 MB 41.2 MB/s eta 0:00:00",
    "  Requirement already satisfied: numpy>=1.23.2 in /usr/local/lib/python3.11/site-packages (2.1.3)",
    "  Requirement already satisfied: python-dateutil>=2.8.2 in /usr/local/lib/python3.11/site-packages",
    "  WARNING: Running pip as the 'root' user can result in broken permissions and conflicting behaviour",
    "  ERROR: Could not find a version that satisfies the requirement xgboost==9.9 (from versions: none)",
    "  ERROR: No matching distribution found for xgboost==9.9",
])


def test_a_failed_build_keeps_the_failing_step_and_its_error_lines_without_pips_noise(dockerfile: Path) -> None:
    log = ["line 1: FROM python:3.11-slim -> the runtime image (offline build)",
           "line 3: RUN pip install --no-cache-dir -r requirements.txt", "  Requirement already satisfied: pip",
           "line 4: RUN pip install xgboost==9.9", PIP_NOISE]
    outcome = check(dockerfile, Builds(BuildResult(ok=False, log=log, error="line 4: exited with code 1")))
    assert outcome.evidence == [
        "line 1: FROM python:3.11-slim -> the runtime image (offline build)",
        "line 3: RUN pip install --no-cache-dir -r requirements.txt",
        "line 4: RUN pip install xgboost==9.9",
        "  ERROR: Could not find a version that satisfies the requirement xgboost==9.9 (from versions: none)",
        "  ERROR: No matching distribution found for xgboost==9.9",
    ]
    said = "\n".join(outcome.evidence)
    for noise in ("Requirement already satisfied", "Collecting", "Downloading", "━", "Running pip as the 'root'"):
        assert noise not in said


def test_a_passing_build_shows_its_steps_only(dockerfile: Path) -> None:
    log = ["line 1: FROM python:3.11-slim -> the runtime image (offline build)",
           "line 2: RUN pip install -r requirements.txt", PIP_NOISE.replace("ERROR", "note"), "line 3: CMD noted"]
    outcome = check(dockerfile, Builds(BuildResult(ok=True, starts=True, steps=3, log=log)))
    assert outcome.fraction == 1.0
    assert outcome.evidence == [log[0], log[1], log[3]]
