"""Running a submission directly with this host's Python, outside any grader: the benchmarks' yardstick."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from grader.data.public import public_folder
from grader.spec.task import TaskSpec


def environment(task: TaskSpec, data: Path, artifacts: Path) -> dict[str, str]:
    """What the training sandbox would set, pointing at host folders."""
    return {**os.environ, "GRADER_DATA_DIR": str(data), "GRADER_ARTIFACTS_DIR": str(artifacts),
            "GRADER_SEED": str(task.seed), "PYTHONHASHSEED": str(task.seed), "GRADER_TASK": task.id,
            "OMP_NUM_THREADS": "1"}


def train(task: TaskSpec, submission: Path, work: Path) -> Path:
    """Run the submission's train command on the task's public data; return the artifacts folder."""
    data, artifacts = work / "data", work / "artifacts"
    public_folder(task, data)
    artifacts.mkdir()
    command = (submission / "submission.yaml").read_text()
    train_line = next(line for line in command.splitlines() if line.startswith("train:"))
    argv = train_line.split(":", 1)[1].split("#", 1)[0].split()
    argv = [sys.executable if argv[0] in ("python", "python3") else argv[0], *argv[1:]]
    subprocess.run(argv, cwd=submission, env=environment(task, data, artifacts), check=True,
                   stdout=subprocess.DEVNULL)
    return artifacts


def import_model(submission: Path, name: str = "model") -> ModuleType:
    """Import the submission's predict module under a unique name, its folder first on sys.path."""
    sys.path.insert(0, str(submission))
    spec = importlib.util.spec_from_file_location(f"bench_{abs(hash(submission))}_{name}", submission / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
