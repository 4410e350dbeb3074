"""The starter kit's README is all a candidate holds: every file it names is in the kit, and what it says
about pins and the written questions is what the grader does (issue 13)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.spec.task import discover_tasks, get_task

#: Names the README may mention that are not in the kit, and why.
NOT_IN_KIT = {"report.json": "the grader writes it"}
QUOTED = re.compile(r"`([^`\n]+)`")
#: A relative path (``data/LICENSE.md``, ``examples/reference/``) or a file name with an extension.
PATHLIKE = re.compile(r"^(?:[\w.-]+/)+[\w.-]*$|^[\w-]+\.(?:md|txt|json|csv|npz|py|ya?ml|pkl|zip)$")
SENTENCE = re.compile(r"(?<=[.!?:;])\s+")


@pytest.fixture(scope="module", params=sorted(discover_tasks()))
def kit(request, tmp_path_factory) -> tuple[str, Path]:
    """The kit as `grader task export` writes it, through the real command line."""
    out = tmp_path_factory.mktemp("kit") / "kit"
    done = subprocess.run([sys.executable, "-m", "grader", "task", "export", request.param, "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return request.param, out


def _mentions(text: str, task_id: str) -> set[str]:
    classes = set(get_task(task_id).classes)
    return {m for m in QUOTED.findall(text) if PATHLIKE.match(m) and m not in classes and m != task_id}


def test_every_path_the_readme_names_is_in_the_kit(kit):
    task_id, root = kit
    text = (root / "README.md").read_text(encoding="utf-8")
    files = {p.relative_to(root).as_posix() for p in root.rglob("*")}
    missing = []
    for name in sorted(_mentions(text, task_id) - set(NOT_IN_KIT)):
        rel = name.rstrip("/")
        if rel not in files and not any(f.endswith("/" + rel) for f in files):
            missing.append(name)
    assert missing == [], f"{task_id}: the README names what its kit lacks"
    for folder in ("examples/", "tasks/", "make_splits.py", "task folder"):
        assert folder not in text or folder.rstrip("/") in files, f"{task_id}: the README mentions {folder}"


def test_the_readme_never_says_a_differing_pin_fails(kit):
    task_id, root = kit
    text = " ".join((root / "README.md").read_text(encoding="utf-8").split())
    for sentence in SENTENCE.split(text):
        if re.search(r"\bpin", sentence, re.I) and re.search(r"\bdiffer", sentence, re.I):
            assert not re.search(r"\bfails?\b|\binvalid\b|\brejected\b", sentence, re.I), sentence


def test_the_readme_gives_the_real_points_and_commands_and_ids(kit):
    task_id, root = kit
    text = " ".join((root / "README.md").read_text(encoding="utf-8").split())
    rubric = get_task(task_id).rubric_spec()
    points = {c.id: section.weight * c.weight / sum(x.weight for x in section.criteria)
              for section in rubric.sections for c in section.criteria}
    assert f"pins-match criterion ({points['pins-match']:g} of the 100 points)" in text
    assert "A pin that differs from the runtime (or names a package it lacks) does not stop the grading" in text
    assert "`grader check submission/`" in text and (root / "submission" / "submission.yaml").is_file()
    for q in rubric.questions():
        assert f"`## {q.id}`" in text, q.id
    assert "`RUNTIME.txt`" in text and (root / "RUNTIME.txt").is_file()


def test_the_kit_checker_finds_a_path_the_kit_lacks():
    """The path rule itself: the old README's sentence about examples/ would be caught."""
    old = ("`examples/reference/` is a complete submission that passes; try it with "
           "`grader grade tasks/cv/fashion-mnist/examples/reference`, see `data/LICENSE.md`.")
    assert _mentions(old, "cv/fashion-mnist") == {"examples/reference/", "data/LICENSE.md"}
