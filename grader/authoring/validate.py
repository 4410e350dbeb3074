"""``grader task validate``: prove a task sound before candidates see it, one clear finding per check.

Checks, in order (later ones need the earlier ones): the spec and its rubric load; the text candidates
read is written (no scaffold TODO left); the data files exist and match their checksums; each split
has the columns or arrays the suite needs, with values of the right kind; every split's labels are
among the classes, every class is in every split, and the positive class too; no item is in two splits
(a leak of the hidden test split); the example submissions follow the contract; and, graded in the
sandbox, the reference passes and the baseline does not. Every finding names the file, the task.yaml
field and the fix; a problem of the data is a finding, never a traceback.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.authoring.scaffold import PLACEHOLDER_FIX, PLACEHOLDER_SHA, describe_placeholders, placeholders
from grader.data import splits
from grader.data.checksums import check_files
from grader.errors import GraderError
from grader.report.format import points
from grader.sandbox.base import Sandbox
from grader.spec.task import TaskSpec, load_task

SPLITS: tuple[splits.Split, ...] = ("train", "valid", "test")


@dataclass
class Finding:
    check: str
    ok: bool
    message: str


def validate(path: Path, *, sandbox: Sandbox | None = None, progress=None) -> list[Finding]:
    """Every finding about the task in ``path`` (a folder or its task.yaml); grading needs ``sandbox``."""
    path = Path(path)
    folder = path.parent if path.name == "task.yaml" else path
    try:
        task = load_task(folder)
    except GraderError as exc:
        return [Finding("spec", False, str(exc))]
    out = [Finding("spec", True, f"{task.id} (version {task.version}) and its rubric {task.rubric.name} load")]
    questions = task.rubric_spec().questions()
    out.append(Finding("questions", bool(questions), f"{len(questions)} written questions: "
                       + ", ".join(q.id for q in questions) if questions else "the rubric has no written questions"))
    out.append(_text(task))
    files = _files(task)
    out += files
    if not all(f.ok for f in files):
        out.append(Finding("data", False, "the data checks were skipped: fix the files first"))
    else:
        layout = _formats(task)
        out.append(layout)
        if layout.ok:
            out += _guarded("classes", lambda: _classes(task))
            out += _guarded("leakage", lambda: [_leaks(task)])
        else:
            out.append(Finding("classes", False, "the class and leakage checks were skipped: fix the format first"))
    out += _examples(task)
    if sandbox is not None and all(f.ok for f in out):
        out += _graded(task, folder.parent.parent, sandbox, progress)
    elif sandbox is not None:
        out.append(Finding("grading", False, "the examples were not graded: fix the problems above first"))
    return out


def _guarded(check: str, run: Callable[[], list[Finding]]) -> list[Finding]:
    """A check's findings, or its error as one: a split the format check missed must not end validation."""
    try:
        return run()
    except GraderError as exc:
        return [Finding(check, False, str(exc))]


def _text(task: TaskSpec) -> Finding:
    found = placeholders(task)
    if found:
        return Finding("candidate text", False, f"{describe_placeholders(found)}: {PLACEHOLDER_FIX}")
    return Finding("candidate text", True, "title, description, data source and licence, README.md and "
                   "data/LICENSE.md are written")


def _files(task: TaskSpec) -> list[Finding]:
    found = []
    script = task.data.script
    for check in check_files(task):
        name, path = f"data {check.split}", check.path
        if check.actual is None:
            found.append(Finding(name, False, f"{path} is missing (data.{check.split}.path in task.yaml): run the "
                                 f"task's {script}, or fix the path"))
            continue
        if not check.ok and check.expected == PLACEHOLDER_SHA:
            found.append(Finding(name, False, f"{path} exists, but task.yaml still pins the scaffold's placeholder "
                                 f"{check.field} ({PLACEHOLDER_SHA[:8]}...): set {check.field} in task.yaml to "
                                 f"{check.actual}, the file's sha256"))
            continue
        if not check.ok:
            found.append(Finding(name, False, f"{check.mismatch()}: {check.fix(script)}"))
            continue
        try:
            rows = splits.rows(task, check.split)
        except GraderError as exc:
            found.append(Finding(name, False, str(exc)))
            continue
        expected = getattr(task.data, check.split).rows
        if expected is not None and rows != expected:
            found.append(Finding(name, False, f"{path} has {rows} rows, but data.{check.split}.rows in task.yaml "
                                 f"says {expected}: set it to {rows} if the file is right, or re-run {script}"))
            continue
        found.append(Finding(name, True, f"{path}: {rows} rows, checksum matches"))
    return found


def _formats(task: TaskSpec) -> Finding:
    problems = [p for split in SPLITS for p in splits.problems(task, split)]
    return Finding("format", not problems, "; ".join(problems) or f"every split has the {task.suite} layout")


def _label_hint(unknown: list[str], classes: list[str], script: str) -> str:
    """Why labels that are not classes are so, when it is the usual slip: numbers written for names."""
    if not all(splits.is_number(u) for u in unknown):
        return ""
    if any(u.endswith(".0") and u.removesuffix(".0") in classes for u in unknown):
        return (f" (the labels are written as floats, e.g. {next(u for u in unknown if u.endswith('.0'))!r}: "
                f"write them as the classes are spelt, e.g. with .astype(int) before to_csv in {script})")
    if not all(splits.is_number(c) for c in classes):
        return (f" (the labels are numbers, the classes names: write each label as its class name in {script}, "
                "or list the classes as the labels are written)")
    return ""


def _classes(task: TaskSpec) -> list[Finding]:
    problems, positive = [], []
    script = task.data.script
    column = "the 'labels' array" if task.suite == "cv" else f"column {task.label_column!r} (label_column)"
    for split in SPLITS:
        path = getattr(task.data, split).path
        seen = set(splits.labels(task, split).tolist())
        unknown = sorted(seen - set(task.classes))
        absent = [c for c in task.classes if c not in seen]
        if unknown:
            problems.append(f"{path}: labels {unknown[:5]} in {column} are not among classes {task.classes} in "
                            f"task.yaml{_label_hint(unknown, task.classes, script)}: add them to classes, or fix "
                            f"the labels in {script}")
        if absent:
            problems.append(f"{path} has no item of class {absent[:5]} (classes in task.yaml): split stratified on "
                            f"the label in {script} so that every split has every class, or remove the class from "
                            "classes")
        if task.positive_class is not None and task.positive_class not in seen:
            positive.append(f"{split} ({path})")
    out = [Finding("classes", not problems, "; ".join(problems) or "every split has every class, and nothing else")]
    if task.positive_class is not None:
        out.append(Finding("positive class", not positive, f"the positive class {task.positive_class!r} "
                           f"(positive_class in task.yaml) is missing from {', '.join(positive)}: set "
                           f"positive_class to the class that matters, as the labels spell it, or fix {script}"
                           if positive else f"{task.positive_class!r} is in every split"))
    return out


def _leaks(task: TaskSpec) -> Finding:
    keys = {split: splits.item_keys(task, split) for split in SPLITS}
    problems = []
    for a, b in itertools.combinations(SPLITS, 2):
        shared = set(keys[a]) & set(keys[b])
        if shared:
            first = min(keys[b].index(k) for k in shared)
            problems.append(f"{len(shared)} item(s) of {b} are also in {a} (first: {b} row {first + 1})")
    what = {"tabular": "row of features", "nlp": "text", "cv": "image"}[task.suite]
    return Finding("leakage", not problems, "; ".join(problems) + " - each split must hold different items"
                   if problems else f"no {what} is in two splits")


def _examples(task: TaskSpec) -> list[Finding]:
    from grader.submission.validate import Question
    from grader.submission.validate import validate as contract

    questions = [Question(q.id, q.title) for q in task.rubric_spec().questions()]
    out = []
    for name in ("reference", "baseline"):
        folder = task.root / "examples" / name
        if not folder.is_dir():
            out.append(Finding(f"example {name}", False, f"examples/{name} is missing"))
            continue
        found = contract(folder, expected_task=task.id, known_tasks={task.id}, questions=questions)
        said = "; ".join(found.problems) or "follows the contract"
        if found.warnings:
            said += " (warnings: " + "; ".join(found.warnings) + ")"
        out.append(Finding(f"example {name}", found.ok, said))
    return out


def _graded(task: TaskSpec, tasks_root: Path, sandbox: Sandbox, progress) -> list[Finding]:
    from grader.grading.pipeline import Grader

    out = []
    for name, should_pass in (("reference", True), ("baseline", False)):
        if progress:
            progress(f"grading examples/{name} of {task.id}")
        report = Grader(sandbox, tasks_root=tasks_root).grade(task.root / "examples" / name)
        if report.status != "graded":
            why = "; ".join(f.message for f in report.failures[:3])
            out.append(Finding(f"graded {name}", False, f"could not be graded ({report.status}): {why}"))
            continue
        verdict = f"{'passes' if report.passed else 'does not pass'} with {points(report.score)}/100"
        reasons = report.rubric.not_passed_because if report.rubric else []
        if name == "reference" and report.passed:  # a failing reference is the finding; its figures are not the bar
            out.append(expectations(task, report.metrics))
        if report.passed == should_pass:
            out.append(Finding(f"graded {name}", True, verdict))
        elif should_pass:
            out.append(Finding(f"graded {name}", False, f"the reference must pass but {verdict}: "
                               + "; ".join(reasons + [f.message for f in report.failures[:3]])))
        else:
            out.append(Finding(f"graded {name}", False, f"the baseline must not pass but {verdict}: the task's "
                               "thresholds (rubric.criteria in task.yaml) are too easy"))
    return out


#: How far the graded reference may be from task.yaml's ``expected.reference`` before validation says so.
EXPECTED_TOLERANCE = 0.01


def expectations(task: TaskSpec, measured: dict[str, float | None]) -> Finding:
    """The reference's figures against ``expected.reference``: integrity flags judge results by them, so they
    must be what the reference reaches now (the finding gives the line to paste when they are not)."""
    got = {k: round(v, 3) for k, v in measured.items() if v is not None}
    line = "reference: {" + ", ".join(f"{k}: {v:.3f}" for k, v in got.items()) + "}"
    if task.expected is None:
        return Finding("expected", False, f"task.yaml has no `expected` figures: add `expected:` with `{line}` "
                       "(and `strong:` for what a strong solution reaches)")
    off = [f"{k} {v:.3f} (task.yaml {task.expected.reference[k]:.3f})" for k, v in got.items()
           if k in task.expected.reference and abs(v - task.expected.reference[k]) > EXPECTED_TOLERANCE]
    missing = [k for k in got if k not in task.expected.reference]
    if off or missing:
        return Finding("expected", False, "the reference now reaches " + "; ".join(off + [f"{k} (not in task.yaml)"
                       for k in missing]) + f": set expected.{line}")
    return Finding("expected", True, f"the reference reaches the expected figures (within {EXPECTED_TOLERANCE})")
