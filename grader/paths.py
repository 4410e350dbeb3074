"""Where the grader's own files live: bundled tasks and rubrics, the user's cache and data."""

from __future__ import annotations

import os
from pathlib import Path

#: The file that makes a folder a task: ``<tasks>/<suite>/<name>/task.yaml``.
TASK_FILE = "task.yaml"
#: The checkout (or installed tree) the package sits in.
CHECKOUT = Path(__file__).resolve().parents[1]


def tasks_dir() -> Path:
    """Where bundled tasks live: ``$GRADER_TASKS_DIR`` or the ``tasks/`` folder of this checkout."""
    env = os.environ.get("GRADER_TASKS_DIR")
    return Path(env) if env else CHECKOUT / "tasks"


def rubrics_dir() -> Path:
    """``$GRADER_RUBRICS_DIR`` or the ``rubrics/`` folder of this checkout."""
    env = os.environ.get("GRADER_RUBRICS_DIR")
    return Path(env) if env else CHECKOUT / "rubrics"


def cache_dir() -> Path:
    """What is kept between runs (the runtime image's rootfs and wheels, the task list):
    ``$GRADER_CACHE_DIR``, else ``$XDG_CACHE_HOME/grader``, else ``~/.cache/grader``."""
    if os.environ.get("GRADER_CACHE_DIR"):
        return Path(os.environ["GRADER_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "grader"


def data_dir() -> Path:
    """What the grader keeps for the user across working folders (the default MLflow store):
    ``$GRADER_DATA_DIR``, else ``$XDG_DATA_HOME/grader``, else ``~/.local/share/grader``."""
    if os.environ.get("GRADER_DATA_DIR"):
        return Path(os.environ["GRADER_DATA_DIR"])
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "grader"
