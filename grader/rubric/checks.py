"""``check`` criteria: named checks of the submission and of how it ran.

Each check is a function registered by name; a rubric's criterion names it (``check: tests_present``)
and may pass it ``options``. Checks read the submission's files and the report; ``dockerfile_builds``
builds the candidate's Dockerfile offline, step by step, in hardened containers.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from grader.errors import UnknownNameError
from grader.registry import Registry
from grader.rubric.base import Context, CriterionKind, CriterionSpec, Outcome, kinds
from grader.sandbox.base import Limits


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    run: Callable[[Context, dict[str, Any]], Outcome]
    #: False: looks only at the submission and the task, so it can run while the sandbox runs go on.
    reads_report: bool = True


checks: Registry[Check] = Registry("check")


def check(name: str, description: str, *, reads_report: bool = True) -> Callable[
        [Callable[[Context, dict[str, Any]], Outcome]], Callable[[Context, dict[str, Any]], Outcome]]:
    def decorator(fn: Callable[[Context, dict[str, Any]], Outcome]) -> Callable[[Context, dict[str, Any]], Outcome]:
        checks.register(name)(Check(name, description, fn, reads_report))
        return fn

    return decorator


class CheckSpec(CriterionSpec):
    kind: Literal["check"]
    check: str
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("check")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            checks.get(value)
        except UnknownNameError as exc:
            raise ValueError(str(exc)) from None
        return value


@kinds.register("check")
class CheckKind(CriterionKind):
    name = "check"
    spec = CheckSpec

    def grade(self, spec: CriterionSpec, ctx: Context) -> Outcome:
        assert isinstance(spec, CheckSpec)
        return checks.get(spec.check).run(ctx, spec.options)

    def reads_report(self, spec: CriterionSpec) -> bool:
        assert isinstance(spec, CheckSpec)
        return checks.get(spec.check).reads_report


def _files(root: Path | None) -> list[Path]:
    if root is None or not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


@check("no_failures", "Training and prediction ran without a failure (crash, timeout, OOM, bad output).")
def no_failures(ctx: Context, options: dict[str, Any]) -> Outcome:
    failures = ctx.report.failures
    if not failures:
        return Outcome(1.0, "every training and prediction run finished without a failure")
    kinds_seen = ", ".join(sorted({f"{f.phase} {f.kind}" for f in failures}))
    return Outcome(0.0, f"{len(failures)} failure(s): {kinds_seen}", evidence=[f.message for f in failures[:5]])


@check("requirements_match_runtime", "Every pin in requirements.txt is the version the runtime image has.")
def requirements_match_runtime(ctx: Context, options: dict[str, Any]) -> Outcome:
    env = ctx.report.reproducibility.environment
    if env is None:
        return Outcome(None, "not checked: the submission did not get as far as running")
    if not env.mismatches:
        return Outcome(1.0, f"every pin is satisfied by {env.checked_against}")
    return Outcome(0.0, f"{len(env.mismatches)} pin(s) differ from {env.checked_against}: the code ran with other "
                        "versions than it asks for", evidence=[f"{m.name}=={m.pinned} (runtime: {m.runtime or 'none'})"
                                                              for m in env.mismatches])


@check("artifacts_used", "Training saved the model to /artifacts and prediction used it, not files shipped "
                         "with the code.")
def artifacts_used(ctx: Context, options: dict[str, Any]) -> Outcome:
    rep = ctx.report.reproducibility
    if rep.artifacts_empty is None:  # set once a training finished, whatever its prediction did
        return Outcome(0.0, "no training run finished, so nothing was trained here")
    if rep.reads_artifacts is None:  # set once a prediction finished
        saved = "training left /artifacts empty" if rep.artifacts_empty else "training saved files to /artifacts"
        return Outcome(0.0, f"{saved}, but prediction failed, so whether prediction uses the model trained here "
                            "could not be checked")
    parts = [rep.artifacts_empty is False, rep.reads_artifacts is True, not rep.reads_submission_files]
    what = ["training saved files to /artifacts" if parts[0] else "training left /artifacts empty",
            "prediction read them" if parts[1] else "prediction never opened a file in /artifacts",
            "and read no model files shipped with the code" if parts[2]
            else f"but read files shipped with the code ({', '.join(rep.reads_submission_files[:5])})"]
    return Outcome(sum(parts) / len(parts), ", ".join(what))


DOC_NAMES = re.compile(r"^readme(\.(md|rst|txt))?$", re.I)


@check("documentation", "A README explains the solution (options: min_words, default 50); module docstrings "
                        "alone earn half.")
def documentation(ctx: Context, options: dict[str, Any]) -> Outcome:
    min_words = int(options.get("min_words", 50))
    files = _files(ctx.submission)
    for path in files:
        if DOC_NAMES.match(path.name):
            words = len(path.read_text(encoding="utf-8", errors="replace").split())
            name = path.relative_to(ctx.submission).as_posix()  # type: ignore[arg-type]
            if words >= min_words:
                return Outcome(1.0, f"{name} explains the solution ({words} words)")
            return Outcome(0.5, f"{name} has only {words} words (a full README takes {min_words})")
    documented = []
    for path in files:
        if path.suffix == ".py":
            try:
                tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
            except SyntaxError:
                continue
            if ast.get_docstring(tree):
                documented.append(path.name)
    if documented:
        return Outcome(0.5, f"no README, but module docstrings in {', '.join(documented[:5])}")
    return Outcome(0.0, "no README and no module docstrings: nothing explains the solution")


TEST_FILE = re.compile(r"(^test_.*|.*_test)\.py$")


@check("tests_present", "The submission has tests (test_*.py or *_test.py with at least one test function).")
def tests_present(ctx: Context, options: dict[str, Any]) -> Outcome:
    found = []
    for path in _files(ctx.submission):
        if TEST_FILE.match(path.name):
            text = path.read_text(encoding="utf-8", errors="replace")
            count = len(re.findall(r"^\s*(?:async\s+)?def test\w*\s*\(", text, re.M))
            if count:
                found.append(f"{path.relative_to(ctx.submission).as_posix()}: {count} test(s)")  # type: ignore[arg-type]
    if found:
        return Outcome(1.0, f"{len(found)} test file(s)", evidence=found)
    return Outcome(0.0, "no tests: no test_*.py or *_test.py file with a test function")


@check("dockerfile_builds", "A Dockerfile for deployment is present and builds offline on the runtime image "
                            "(every FROM becomes the runtime image; each step runs in a hardened container).",
       reads_report=False)
def dockerfile_builds(ctx: Context, options: dict[str, Any]) -> Outcome:
    from grader.rubric import dockerfile

    path = ctx.submission / "Dockerfile" if ctx.submission else None
    if path is None or not path.is_file():
        return Outcome(0.0, "no Dockerfile: how the model would be deployed is not shown")
    return dockerfile.check(path, ctx.sandbox, limits=Limits(memory_mb=ctx.task.limits.memory_mb,
                                                              pids=ctx.task.limits.pids, cpus=ctx.task.limits.cpus),
                            timeout_s=float(options.get("timeout_s", 300)))
