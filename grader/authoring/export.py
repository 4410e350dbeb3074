"""``grader task export``: the starter kit candidates are handed, with nothing of the hidden split.

The kit holds the task statement, the public data exactly as the training sandbox sees it
(``task.json``, train and valid), a template submission that follows the contract, the runtime's
package versions and the written questions. Files are copied from an allow-list, never by
excluding the test split, so a new file in a task folder cannot leak into a kit by accident. A task
whose candidate-facing text is still the scaffold's TODO is refused (``scaffold.placeholders``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.authoring.scaffold import require_written
from grader.authoring.template import write_submission
from grader.data.public import public_folder
from grader.errors import UsageError
from grader.spec.task import TaskSpec


def export(task: TaskSpec, out: Path, runtime_lock: Path) -> list[Path]:
    """Write the starter kit of ``task`` into the new folder ``out``; returns its files."""
    require_written(task)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not empty", "export into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    data = public_folder(task, out / "data")
    readme = task.root / "README.md"
    if readme.is_file():
        shutil.copyfile(readme, out / "README.md")
    licence = task.root / "data" / "LICENSE.md"
    if licence.is_file():
        shutil.copyfile(licence, data / "LICENSE.md")
    shutil.copyfile(runtime_lock, out / "RUNTIME.txt")
    rubric = task.rubric_spec()
    questions = [f"# Written questions for {task.id}", "",
                 "Answer each in ANSWERS.md under a heading `## <id>`, in full sentences, about your own model.", ""]
    for q in rubric.questions():
        questions += [f"## {q.id}", "", q.question, ""]
    (out / "QUESTIONS.md").write_text("\n".join(questions), encoding="utf-8")
    write_submission(task, out / "submission", runtime_lock=runtime_lock, intro=task.id)
    return sorted(p for p in out.rglob("*") if p.is_file())
