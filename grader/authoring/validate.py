"""``grader task validate``: prove a task sound before candidates see it, one clear finding per check.

Checks, in order (later ones need the earlier ones): the spec and its rubric load; the data files
exist and match their checksums; each split has the columns or arrays the suite needs; every
split's labels are among the classes, every class is in every split, and the positive class too;
no item is in two splits (a leak of the hidden test split); the example submissions follow the
contract; and, graded in the sandbox, the reference passes and the baseline does not.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.data import splits
from grader.data.checksums import check_files
from grader.data.files import read_npz
from grader.errors import GraderError
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
    files = _files(task)
    out += files
    if not all(f.ok for f in files):
        out.append(Finding("data", False, "the data checks were skipped: fix the files first"))
    else:
        layout = _formats(task)
        out.append(layout)
        if layout.ok:
            out += [*_classes(task), _leaks(task)]
        else:
            out.append(Finding("classes", False, "the class and leakage checks were skipped: fix the format first"))
    out += _examples(task)
    if sandbox is not None and all(f.ok for f in out):
        out += _graded(task, folder.parent.parent, sandbox, progress)
    elif sandbox is not None:
        out.append(Finding("grading", False, "the examples were not graded: fix the problems above first"))
    return out


def _files(task: TaskSpec) -> list[Finding]:
    found = []
    for check in check_files(task):
        name, path = f"data {check.split}", check.path
        if check.actual is None:
            found.append(Finding(name, False, f"{path} is missing: run the task's {task.data.script}"))
            continue
        if not check.ok:
            found.append(Finding(name, False, f"{path} does not match its sha256 in task.yaml "
                                 f"(file {check.actual[:12]}, task.yaml {check.expected[:12]}): the file was changed, "
                                 "or task.yaml was not updated after re-making the splits"))
            continue
        rows = len(splits.labels(task, check.split))
        expected = getattr(task.data, check.split).rows
        if expected is not None and rows != expected:
            found.append(Finding(name, False, f"{path} has {rows} rows, task.yaml says {expected}"))
            continue
        found.append(Finding(name, True, f"{path}: {rows} rows, checksum matches"))
    return found


def _formats(task: TaskSpec) -> Finding:
    problems = []
    for split in SPLITS:
        if task.suite == "cv":
            arrays = read_npz(task.data_path(split))
            images = arrays.get("images")
            if images is None or "labels" not in arrays:
                problems.append(f"{split}: needs 'images' and 'labels' arrays, has {sorted(arrays)}")
            elif images.dtype != np.uint8 or list(images.shape[1:]) != list(task.image_shape or []):
                problems.append(f"{split}: images are {images.dtype} {tuple(images.shape[1:])}, "
                                f"expected uint8 {tuple(task.image_shape or [])}")
            elif len(images) != len(arrays["labels"]):
                problems.append(f"{split}: {len(images)} images but {len(arrays['labels'])} labels")
            continue
        columns = set(splits.read_table(task, split).columns)
        wanted = {task.label_column, *(task.feature_columns if task.suite == "tabular" else [splits.TEXT_COLUMN])}
        if columns != wanted:
            problems.append(f"{split}: columns {sorted(columns)}, expected {sorted(wanted)}")  # type: ignore[type-var]
    return Finding("format", not problems, "; ".join(problems) or f"every split has the {task.suite} layout")


def _classes(task: TaskSpec) -> list[Finding]:
    problems, positive = [], []
    for split in SPLITS:
        seen = set(splits.labels(task, split).tolist())
        unknown = sorted(seen - set(task.classes))
        absent = [c for c in task.classes if c not in seen]
        if unknown:
            problems.append(f"{split} has labels that are not classes: {unknown[:5]}")
        if absent:
            problems.append(f"{split} has no item of class {absent[:5]}")
        if task.positive_class is not None and task.positive_class not in seen:
            positive.append(split)
    out = [Finding("classes", not problems, "; ".join(problems) or "every split has every class, and nothing else")]
    if task.positive_class is not None:
        out.append(Finding("positive class", not positive, f"the positive class {task.positive_class!r} is missing "
                           f"from {', '.join(positive)}" if positive else f"{task.positive_class!r} is in every split"))
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
    from grader.submission.validate import validate as contract

    out = []
    for name in ("reference", "baseline"):
        folder = task.root / "examples" / name
        if not folder.is_dir():
            out.append(Finding(f"example {name}", False, f"examples/{name} is missing"))
            continue
        found = contract(folder, expected_task=task.id, known_tasks={task.id})
        out.append(Finding(f"example {name}", found.ok, "; ".join(found.problems) or "follows the contract"))
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
        verdict = f"{'passes' if report.passed else 'does not pass'} with {report.score:.1f}/100"
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
