"""Builders for test submissions: a tiny valid one, and variants that misbehave on purpose; and
what tests that interrupt a grader need."""

from __future__ import annotations

import contextlib
import shutil
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path

import yaml

from grader.spec.task import tasks_dir

TASK_ID = "tabular/credit-default"
TASK_DIR = tasks_dir() / TASK_ID
EXAMPLES = TASK_DIR / "examples"

MINI_TRAIN = """
import json, os
import pandas as pd
data, art = os.environ["GRADER_DATA_DIR"], os.environ["GRADER_ARTIFACTS_DIR"]
task = json.load(open(os.path.join(data, "task.json")))
labels = pd.read_csv(os.path.join(data, "train.csv"))[task["label_column"]]
json.dump({"label": str(labels.mode()[0])}, open(os.path.join(art, "model.json"), "w"))
"""

MINI_MODEL = """
import json, os

class Model:
    def __init__(self, label):
        self.label = label

    def predict(self, inputs):
        return [self.label] * len(inputs)

def load(artifacts_dir):
    with open(os.path.join(artifacts_dir, "model.json")) as fh:
        return Model(json.load(fh)["label"])
"""


#: The written questions of the tabular task's rubric: a section each, so the contract has nothing to warn about.
QUESTIONS = ("serving-latency", "drift-monitoring", "retraining-rollback", "explaining-errors")


def make_submission(root: Path, *, train: str = MINI_TRAIN, model: str = MINI_MODEL,
                    manifest: str | None = None, extra: dict[str, str] | None = None) -> Path:
    """A contract-following submission whose train.py / model.py can be swapped for misbehaving ones."""
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "submission.yaml": manifest or f"task: {TASK_ID}\ntrain: python train.py\npredict: model:load\n",
        "requirements.txt": "pandas==3.0.6\n",
        "ANSWERS.md": "".join(f"## {q}\nA test answer.\n\n" for q in QUESTIONS),
        "train.py": textwrap.dedent(train),
        "model.py": textwrap.dedent(model),
        **(extra or {}),
    }
    for name, text in files.items():
        (root / name).write_text(text)
    return root


#: Latency settings for tests that are not about latency: a short measurement, same protocol.
QUICK_LATENCY = {"warmup_queries": 2, "min_queries": 20, "min_duration_s": 0.1, "floor_min_queries": 20,
                 "floor_min_duration_s": 0.05, "batch_sizes": [32], "batch_min_batches": 1,
                 "batch_min_duration_s": 0.0}


def tasks_copy(dest: Path, *, latency: dict | None = None, reproducibility: dict | None = None,
               rubric: dict | None = None, **limits: object) -> Path:
    """A tasks folder holding a copy of the credit task with other limits or settings, for fast tests.

    ``limits`` update the task's limits; the other sections, when given, update theirs.
    """
    folder = dest / TASK_ID
    shutil.copytree(TASK_DIR, folder, ignore=shutil.ignore_patterns("examples"))
    spec = yaml.safe_load((folder / "task.yaml").read_text())
    spec["limits"].update(limits)
    for key, value in (("latency", latency), ("reproducibility", reproducibility), ("rubric", rubric)):
        if value is not None:
            spec[key] = {**spec.get(key, {}), **value}
    (folder / "task.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return dest


def docker_leftovers(session: str) -> list[str]:
    """Containers, volumes and images of one docker sandbox session still on the engine.

    Scoped to the session on purpose: other test runs (a developer's and CI's) may share the
    engine, and a run killed earlier may have left its own behind; neither is this test's doing.
    """
    import docker

    labels = ["grader.sandbox=1", f"grader.session={session}"]
    client = docker.from_env(timeout=30)
    try:
        found = [f"container {c['Names'][0].lstrip('/')} ({c['State']})"
                 for c in client.api.containers(all=True, filters={"label": labels})]
        found += [f"volume {v['Name']}" for v in client.api.volumes(filters={"label": labels}).get("Volumes") or []]
        found += [f"image {i['Id'][:19]}" for i in client.api.images(all=True, filters={"label": labels})]
    finally:
        client.close()
    return found


def default_sigint() -> None:
    """``preexec_fn`` of a child a test sends SIGINT: its default disposition back, so Python in the
    child raises KeyboardInterrupt even when the test session inherited SIGINT ignored (a shell's
    background job), which every child would otherwise inherit too."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt in this process for the duration, even when the session started
    with it ignored (Python then installs no handler at all)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def redis_server_binary() -> str | None:
    """The redis-server the queue tests start: ``GRADER_REDIS_SERVER``, else the one on PATH."""
    import os

    return os.environ.get("GRADER_REDIS_SERVER") or shutil.which("redis-server")


def postgres_bin_dir() -> Path | None:
    """The PostgreSQL server binaries the postgres tests start a throwaway cluster with: ``GRADER_POSTGRES_BIN``,
    else the newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb`` (Debian's layout; those binaries
    are not on PATH there)."""
    import os

    given = os.environ.get("GRADER_POSTGRES_BIN")
    if given:
        return Path(given) if (Path(given) / "initdb").is_file() else None
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else None
