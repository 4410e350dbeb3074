"""The task list answered at once: each task's summary (id, suite, version, title, metrics, or why it
does not load) kept in a small cache beside the user's other caches.

Validating a task means pydantic, the rubric and the criterion kinds: about half a second before the
first row, for a command people type to see what exists. A summary is reused only while everything it
was computed from is unchanged: the task.yaml bytes, every rubric file, and the grader's own code
(the size and mtime of each of its modules). Anything else, or an unreadable cache,
validates afresh; a cache that cannot be written is skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.paths import TASK_FILE, cache_dir, rubrics_dir, tasks_dir

CACHE_NAME = "task-list.json"
PACKAGE = Path(__file__).resolve().parents[1]

__all__ = ["TASK_FILE", "TaskSummary", "cache_dir", "rubrics_dir", "summaries", "tasks_dir"]


@dataclass(frozen=True)
class TaskSummary:
    """One row of ``grader task list``; ``error`` is set, and the rest empty, for a task that does not load."""

    id: str
    suite: str = ""
    version: str = ""
    title: str = ""
    metrics: tuple[str, ...] = ()
    error: str | None = None


def _code_stamp() -> str:
    """Changes whenever the grader's code may validate differently: any of its modules."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        st = path.stat()
        digest.update(f"{path.relative_to(PACKAGE)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _rubrics_stamp(rubrics: Path) -> str:
    digest = hashlib.sha256(str(rubrics).encode())
    for path in sorted(rubrics.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _key(task_file: Path, stamp: str) -> str:
    return hashlib.sha256(stamp.encode() + str(task_file).encode() + b"\0" + task_file.read_bytes()).hexdigest()


def _summarise(folder: Path, task_id: str) -> TaskSummary:
    from grader.errors import GraderError
    from grader.spec.task import load_task

    try:
        task = load_task(folder)
    except GraderError as exc:
        return TaskSummary(id=task_id, error=exc.message.splitlines()[0])
    return TaskSummary(id=task.id, suite=task.suite, version=str(task.version), title=task.title,
                       metrics=tuple(task.metrics))


def _cached(entry: object) -> TaskSummary | None:
    if not isinstance(entry, dict):
        return None
    try:
        return TaskSummary(**{**entry, "metrics": tuple(entry["metrics"])})
    except (TypeError, KeyError):
        return None


def _read_cache(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, entries: dict[str, dict[str, object]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entries, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only home only costs the next listing its speed


def summaries(tasks: Path | None = None, rubrics: Path | None = None) -> list[TaskSummary]:
    """A summary of every task under ``tasks`` (``<suite>/<name>/task.yaml``), in id order."""
    tasks, rubrics = tasks or tasks_dir(), rubrics or rubrics_dir()
    files = sorted(tasks.glob(f"*/*/{TASK_FILE}"))
    stamp = _code_stamp() + _rubrics_stamp(rubrics)
    cache = cache_dir() / CACHE_NAME
    known = _read_cache(cache)
    fresh: dict[str, dict[str, object]] = {}
    found = []
    for file in files:
        task_id = "/".join(file.parent.parts[-2:])
        key = _key(file, stamp)
        summary = _cached(known.get(key)) or _summarise(file.parent, task_id)
        fresh[key] = asdict(summary)
        found.append(summary)
    if fresh != known:
        _write_cache(cache, fresh)
    return found
