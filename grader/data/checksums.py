"""A task's data files against the sha256 its task.yaml pins: the one check, run before every grading
and by ``grader task validate``. A score on data other than the task's would be meaningless."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from grader.errors import SpecError

if TYPE_CHECKING:
    from grader.spec.task import TaskSpec

SPLITS: tuple[Literal["train", "valid", "test"], ...] = ("train", "valid", "test")


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass(frozen=True)
class FileCheck:
    """One split's file: where task.yaml says it is, the sha256 it pins, and the file's (None: missing)."""

    split: Literal["train", "valid", "test"]
    path: str
    expected: str
    actual: str | None

    @property
    def missing(self) -> bool:
        return self.actual is None

    @property
    def ok(self) -> bool:
        return self.actual == self.expected

    @property
    def field(self) -> str:
        return f"data.{self.split}.sha256"

    def mismatch(self) -> str:
        """Both hashes in full, labelled, so the author can tell which side changed (and copy the new one)."""
        return (f"{self.path} does not match its sha256 in task.yaml: task.yaml pins {self.field} = {self.expected}, "
                f"the file has {self.actual}")

    def fix(self, script: str) -> str:
        return (f"if the file changed by accident, restore it (re-run the task's {script}); if the change was "
                f"intended, set {self.field} in task.yaml to {self.actual}, the value shown")


def check_files(task: TaskSpec) -> list[FileCheck]:
    """Every split's file against its pinned sha256."""
    found = []
    for split in SPLITS:
        spec = getattr(task.data, split)
        path = task.data_path(split)
        found.append(FileCheck(split, spec.path, spec.sha256, sha256_file(path) if path.is_file() else None))
    return found


def verify_data(task: TaskSpec) -> None:
    """Refuse to grade on data that is not what the task pins; raises :class:`SpecError`."""
    for check in check_files(task):
        if check.missing:
            raise SpecError(f"task {task.id}: data file {check.path} is missing (data.{check.split}.path in "
                            f"{task.root / 'task.yaml'})", f"restore the task folder, or re-run the task's "
                            f"{task.data.script}")
        if not check.ok:
            raise SpecError(f"task {task.id}: {check.mismatch()}", check.fix(task.data.script))
