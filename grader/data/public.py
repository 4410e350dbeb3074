"""The ``/data`` folder candidates train on (contract section 2): ``task.json`` and the public train
and valid splits, never the test split. Built here only, so the training sandbox, the starter kit
of ``grader task export`` and the benchmarks' direct runs give candidates the same files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from grader.spec.task import TaskSpec

TASK_INFO = "task.json"
PUBLIC_SPLITS: tuple[Literal["train", "valid"], ...] = ("train", "valid")


def public_folder(task: TaskSpec, dest: Path) -> Path:
    """Write ``task.json`` and the public splits (under their own file names) into ``dest``; returns it."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / TASK_INFO).write_text(json.dumps(task.public_info, indent=2) + "\n", encoding="utf-8")
    for split in PUBLIC_SPLITS:
        shutil.copyfile(task.data_path(split), dest / Path(getattr(task.data, split).path).name)
    return dest
