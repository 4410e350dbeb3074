"""What a candidate reads and downloads: the task statement, the written questions, and the starter kit as a
zip (``grader task export``, made once per task version and kept under ``<data>/kits``)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.spec.task import TaskSpec, get_task


@dataclass(frozen=True)
class TaskText:
    title: str
    statement: str
    questions: list[tuple[str, str]]


def task_text(task_id: str) -> TaskText:
    task = get_task(task_id)
    readme = task.root / "README.md"
    statement = readme.read_text(encoding="utf-8") if readme.is_file() else task.description
    return TaskText(task.title, statement, [(q.id, q.question) for q in task.rubric_spec().questions()])


def kit_zip(task_id: str, kits_dir: Path) -> Path:
    """The starter kit of ``task_id`` as a zip, made on first use and swapped in by one rename."""
    from grader.authoring.export import export
    from grader.sandbox.docker.image import LOCK_FILE

    task: TaskSpec = get_task(task_id)
    digest = hashlib.sha256()
    for name in ("task.yaml", "README.md", "data/LICENSE.md"):  # what the kit is made from, besides the data
        path = task.root / name
        digest.update(path.read_bytes() if path.is_file() else b"")
    digest.update(LOCK_FILE.read_bytes())
    target = kits_dir / f"{task.id.replace('/', '--')}-{digest.hexdigest()[:12]}.zip"
    if target.is_file():
        return target
    kits_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grader-kit-", dir=kits_dir) as tmp:
        folder = Path(tmp) / "kit"
        export(task, folder, LOCK_FILE)
        made = shutil.make_archive(str(Path(tmp) / "kit"), "zip", root_dir=folder)
        os.replace(made, target)
    return target
