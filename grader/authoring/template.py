"""A submission that follows the contract for any task: the starting point of examples and kits."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.rubric.spec import RubricSpec
from grader.spec.task import TaskSpec
from grader.submission.requirements import read_lock

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "submission"
#: What the template imports, pinned at the runtime's versions.
TEMPLATE_PACKAGES = ("numpy", "pandas")


def answers_template(rubric: RubricSpec, intro: str) -> str:
    lines = [f"# Written answers: {intro}", "",
             "Answer each question under its own heading, in full sentences, about your model.", ""]
    for q in rubric.questions():
        lines += [f"## {q.id}", "", f"<!-- {q.question} -->", ""]
    return "\n".join(lines)


def write_submission(task: TaskSpec, dest: Path, *, runtime_lock: Path, intro: str) -> Path:
    """Write the template submission for ``task`` into the new folder ``dest``."""
    dest.mkdir(parents=True)
    for name in ("train.py", "model.py"):
        shutil.copyfile(TEMPLATE / name, dest / name)
    versions = read_lock(runtime_lock)
    (dest / "requirements.txt").write_text("".join(f"{p}=={versions[p]}\n" for p in TEMPLATE_PACKAGES),
                                           encoding="utf-8")
    (dest / "submission.yaml").write_text(f"task: {task.id}\ntrain: python train.py\npredict: model:load\n",
                                          encoding="utf-8")
    (dest / "ANSWERS.md").write_text(answers_template(task.rubric_spec(), intro), encoding="utf-8")
    return dest


def starter_sources() -> dict[str, str]:
    """The template's code, by file name: what every candidate starts from, so cohort similarity treats it
    as boilerplate rather than as code two candidates share."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(TEMPLATE.glob("*.py"))}


def starter_boilerplate() -> dict[str, str]:
    """:func:`starter_sources` named as cohort similarity lists them (``template/<file>``)."""
    return {f"template/{name}": code for name, code in starter_sources().items()}
