"""``grader task new``: a task folder to fill in, that ``grader task validate`` then checks.

Everything it writes loads (the spec is valid with placeholder checksums), so validation can say
precisely what is still missing: the data, their checksums, a reference that passes, and the text
candidates read. That text is written here with the :data:`PLACEHOLDER` mark, and :func:`placeholders`
finds what still holds it: the one definition ``grader task validate`` and ``grader task export`` share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader.authoring.template import write_submission
from grader.errors import SpecError, UsageError
from grader.spec.task import TASK_FILE, Suite, TaskSpec, load_task

PLACEHOLDER_SHA = "0" * 64
EXTENSIONS = {"tabular": "csv", "nlp": "csv", "cv": "npz"}
#: The mark of text the scaffold leaves for the author: candidate-facing text holding it is not written yet.
PLACEHOLDER = "TODO"
_MARK = re.compile(rf"\b{PLACEHOLDER}\b")
#: The task.yaml fields candidates read (in task.json, the README, the kit) that the scaffold leaves as TODO.
TEXT_FIELDS = ("title", "description", "data.source", "data.licence")
#: The files candidates are handed (``grader task export``), relative to the task folder.
TEXT_FILES = ("README.md", "data/LICENSE.md")


@dataclass(frozen=True)
class Placeholder:
    """One place candidate-facing text is not written yet: a task.yaml field, a line of a file, or a file
    that is missing."""

    file: str
    where: str

    def __str__(self) -> str:
        return f"{self.file} {self.where}"


def placeholders(task: TaskSpec) -> list[Placeholder]:
    """Every candidate-facing field and file of ``task`` that still holds the scaffold's TODO text."""
    found = []
    for field in TEXT_FIELDS:
        value: object = task
        for part in field.split("."):
            value = getattr(value, part)
        if _MARK.search(str(value)):
            found.append(Placeholder(TASK_FILE, field))
    for name in TEXT_FILES:
        path = task.root / name
        if not path.is_file():
            found.append(Placeholder(name, "is missing"))
            continue
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        found += [Placeholder(name, f"line {i}") for i, line in enumerate(lines, 1) if _MARK.search(line)]
    return found


def describe_placeholders(found: list[Placeholder]) -> str:
    return f"the scaffold's {PLACEHOLDER} text is still in " + ", ".join(map(str, found))


PLACEHOLDER_FIX = ("write the text candidates read in each place named (title, description, data source and "
                   "licence in task.yaml, the task statement in README.md, the data's source and licence in "
                   "data/LICENSE.md; docs/adding-a-task.md, step 3), then run `grader task validate`")


def require_written(task: TaskSpec) -> None:
    """Refuse a task whose candidate-facing text is still the scaffold's (``grader task export``)."""
    found = placeholders(task)
    if found:
        raise SpecError(f"task {task.id} is not ready for candidates: {describe_placeholders(found)}",
                        PLACEHOLDER_FIX)


def _task_yaml(task_id: str, suite: Suite) -> str:
    ext = EXTENSIONS[suite]
    data = "\n".join(f"  {split}:\n    path: data/{split}.{ext}\n    sha256: \"{PLACEHOLDER_SHA}\""
                     for split in ("train", "valid", "test"))
    by_suite = {
        "tabular": "label_column: label  # TODO: the label's column in your CSV files\n"
                   "feature_columns: [feature_1, feature_2]  # TODO: every feature column, in order\n"
                   "classes: [negative, positive]  # TODO\npositive_class: positive\n",
        "nlp": "label_column: label  # TODO: the label's column; the text is in column 'text'\n"
               "classes: [negative, positive]  # TODO\npositive_class: positive\n",
        "cv": "image_shape: [28, 28]  # TODO\nclasses: [class_a, class_b, class_c]  # TODO: in label order\n"
              "positive_class: null  # multiclass: macro precision and recall\n",
    }[suite]
    return f"""version: 1
id: {task_id}
title: TODO - one line that says what to predict
suite: {suite}
description: >-
  TODO: what the data is, what to predict, which class matters and why.
data:
  source: "TODO: where the data comes from (package, data set, URL of record)"
  licence: "TODO: its licence; see data/LICENSE.md"
  script: make_splits.py
{data}
{by_suite}metrics: [precision, recall, f1, accuracy]
limits:
  cpus: 1
  memory_mb: 1536
  pids: 128
  artifacts_mb: 64
  train_timeout_s: 300
  predict_timeout_s: 120
seed: 20261122
# TODO: write down what the reference and the baseline measured, then set the thresholds.
rubric:
  name: ml-engineer
  criteria:
    recall: {{zero: 0.3, full: 0.8, gate: 0.5}}
    precision: {{zero: 0.3, full: 0.8, gate: 0.5}}
"""


MAKE_SPLITS = '''"""Make the train / valid / test splits of {task_id}, once, deterministically. TODO.

Steps to fill in (see tasks/tabular/credit-default/make_splits.py for a complete one):
1. load the raw data from where it is available offline (an installed package, a Debian package);
2. drop duplicates, so that no item ends up in two splits (a leak of the hidden test split);
3. split it stratified on the label with a fixed seed;
4. write data/train, data/valid and data/test ({ext}) and print each file's rows and sha256 for
   task.yaml and data/LICENSE.md (grader.data.files.write_npz and
   grader.data.checksums.sha256_file help).
"""

raise SystemExit("make_splits.py is a stub: fill in the steps in its docstring")
'''


def scaffold(task_id: str, suite: Suite, root: Path, runtime_lock: Path) -> Path:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*", task_id):
        raise UsageError(f"task id {task_id!r} is not '<suite>/<name>' in lowercase letters, digits and dashes",
                         f"an id like {suite}/my-task")
    if task_id.split("/")[0] != suite:
        raise UsageError(f"task id {task_id!r} must start with its suite, '{suite}/'",
                         f"use --suite {task_id.split('/')[0]} or an id like {suite}/{task_id.split('/')[1]}")
    folder = root / task_id
    if folder.exists():
        raise UsageError(f"{folder} already exists", "pick another id, or remove the folder")
    (folder / "data").mkdir(parents=True)
    (folder / TASK_FILE).write_text(_task_yaml(task_id, suite), encoding="utf-8")
    (folder / "make_splits.py").write_text(MAKE_SPLITS.format(task_id=task_id, ext=EXTENSIONS[suite]),
                                           encoding="utf-8")
    (folder / "data" / "LICENSE.md").write_text("# Data: licence, source and how the splits were made\n\n"
                                                f"{PLACEHOLDER}: where the data comes from, its licence text, and "
                                                "each file's rows and sha256\n",
                                                encoding="utf-8")
    task = load_task(folder)
    questions = "\n".join(f"- `## {q.id}`: {q.question}" for q in task.rubric_spec().questions())
    (folder / "README.md").write_text(
        f"# {task_id}\n\n{PLACEHOLDER}: the task statement candidates read: the data, what counts, the limits, "
        f"what to submit (see tasks/tabular/credit-default/README.md).\n\n## Written questions (`ANSWERS.md`)\n\n"
        f"{questions}\n", encoding="utf-8")
    for name, intro in (("reference", "reference solution (TODO: replace with a solid model)"),
                        ("baseline", "majority-class baseline")):
        write_submission(task, folder / "examples" / name, runtime_lock=runtime_lock, intro=intro)
    return folder
