"""The task list's cache: it answers what a fresh validation would, and never outlives what it was made from."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader.paths import tasks_dir
from grader.spec import catalog
from grader.spec.task import discover_tasks, load_task


@pytest.fixture
def tasks(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "tasks"
    shutil.copytree(tasks_dir() / "tabular" / "credit-default", root / "tabular" / "credit-default")
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    return root


def edit(task_file: Path, **changes: object) -> None:
    spec = yaml.safe_load(task_file.read_text())
    spec.update(changes)
    task_file.write_text(yaml.safe_dump(spec))


def test_the_cached_list_is_what_validation_gives():
    fresh = []
    for task_id, path in discover_tasks().items():
        task = load_task(path)
        fresh.append((task_id, task.suite, str(task.version), task.title, tuple(task.metrics)))
    first, second = catalog.summaries(), catalog.summaries()  # computed, then read from the cache
    assert [(t.id, t.suite, t.version, t.title, t.metrics) for t in second] == fresh
    assert first == second and all(t.error is None for t in second)


def test_an_edit_of_the_task_file_is_seen(tasks):
    file = tasks / "tabular" / "credit-default" / "task.yaml"
    assert catalog.summaries(tasks)[0].title != "Renamed"
    edit(file, title="Renamed")
    assert catalog.summaries(tasks)[0].title == "Renamed"


def test_a_broken_task_is_listed_as_broken_until_it_is_fixed(tasks):
    file = tasks / "tabular" / "credit-default" / "task.yaml"
    good = file.read_text()
    edit(file, metrics=["recal"])
    broken = catalog.summaries(tasks)[0]
    assert broken.error is not None and "recal" in broken.error and broken.suite == ""
    assert catalog.summaries(tasks)[0] == broken  # from the cache, the same words
    file.write_text(good)
    assert catalog.summaries(tasks)[0].error is None


def test_a_changed_rubric_invalidates_the_cache(tasks, tmp_path, monkeypatch):
    rubrics = tmp_path / "rubrics"
    shutil.copytree(Path(catalog.rubrics_dir()), rubrics)
    monkeypatch.setenv("GRADER_RUBRICS_DIR", str(rubrics))
    assert catalog.summaries(tasks)[0].error is None
    for path in rubrics.glob("*.yaml"):
        path.write_text("id: [\n")
    assert catalog.summaries(tasks)[0].error is not None


def test_a_garbled_or_unwritable_cache_costs_only_speed(tasks, tmp_path, monkeypatch):
    cache = tmp_path / "cache" / catalog.CACHE_NAME
    cache.parent.mkdir(parents=True)
    cache.write_text("{not json")
    assert catalog.summaries(tasks)[0].error is None
    json.loads(cache.read_text())  # rewritten whole
    unwritable = tmp_path / "ro"
    unwritable.mkdir(mode=0o500)
    monkeypatch.setenv("GRADER_CACHE_DIR", str(unwritable / "sub"))
    if os.geteuid() == 0:  # root writes anywhere: use a path under a regular file instead
        monkeypatch.setenv("GRADER_CACHE_DIR", str(cache / "sub"))
    assert catalog.summaries(tasks)[0].error is None


def test_a_warm_task_list_does_not_import_pydantic(tasks):
    code = ("import sys; from grader.cli import main\n"
            "try:\n    main(['task', 'list'], standalone_mode=False)\nfinally:\n"
            "    print('PYDANTIC' if 'pydantic' in sys.modules else 'LIGHT', file=sys.stderr)")
    env = {**os.environ, "GRADER_TASKS_DIR": str(tasks), "COLUMNS": "200"}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
            for _ in range(2)]
    assert "tabular/credit-default" in runs[1].stdout
    assert runs[0].stderr.strip().endswith("PYDANTIC") and runs[1].stderr.strip().endswith("LIGHT")
