"""The candidate's Dockerfile, built offline on the runtime image in hardened steps, on a real engine."""

from __future__ import annotations

import pytest

from grader.rubric.dockerfile import check
from grader.sandbox.base import Limits
from grader.sandbox.docker.image import locked_versions

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("nothing_left")]


def build(docker_box, tmp_path, dockerfile: str, files: dict[str, str] | None = None, **kw):
    for name, text in {"Dockerfile": dockerfile, **(files or {})}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return check(tmp_path / "Dockerfile", docker_box, limits=Limits(memory_mb=512, pids=64), **kw)


def test_a_service_image_builds_offline(docker_box, tmp_path):
    outcome = build(docker_box, tmp_path, "FROM python:3.11-slim\nARG APP=/srv/app\nWORKDIR $APP\n"
                                   "COPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n"
                                   "COPY src/ ./src/\nRUN python -c \"import src.serve\"\nENV PORT=8080\n"
                                   "EXPOSE 8080\nCMD [\"python\", \"-m\", \"src.serve\"]\n",
                    {"requirements.txt": "pandas==3.0.6\n", "src/__init__.py": "", "src/serve.py": "PORT = 8080\n"})
    assert outcome.fraction == 1.0, outcome
    assert any("FROM python:3.11-slim -> the runtime image" in line for line in outcome.evidence)


def test_without_cmd_it_builds_but_does_not_say_how_to_start(docker_box, tmp_path):
    outcome = build(docker_box, tmp_path, "FROM python:3.11\nRUN echo built\n")
    assert outcome.fraction == 0.75 and "no CMD or ENTRYPOINT" in outcome.explanation


@pytest.mark.parametrize("dockerfile, message", [
    ("FROM python:3.11\nRUN pip install requests==2.32.0\n", "has no network"),
    ("FROM python:3.11\nRUN exit 3\n", "exited with code 3"),
    ("FROM python:3.11\nCOPY missing.txt /app/\n", "missing.txt is not in the submission"),
    ("FROM python:3.11\nCOPY ../../etc/passwd /app/\n", "is outside the submission"),
    ("FROM python:3.11\nADD https://example.com/model.bin /m\n", "needs the network"),
    ("FROM python:3.11\nRUN chown 1000 /etc/passwd\n", "exited with code 1"),  # root, but no CAP_CHOWN
])
def test_what_does_not_build_says_why(docker_box, tmp_path, dockerfile, message):
    outcome = build(docker_box, tmp_path, dockerfile)
    assert outcome.fraction == 0.25 and message in outcome.explanation, outcome


def test_a_fork_bomb_in_run_is_contained(docker_box, tmp_path):
    outcome = build(docker_box, tmp_path, "FROM python:3.11\nRUN python3 -c \"import os\\nwhile True: os.fork()\"\n",
                    timeout_s=20)
    assert outcome.fraction == 0.25 and ("time limit" in outcome.explanation or "exited" in outcome.explanation)


def test_a_pin_the_runtime_does_not_have_is_named_as_such(docker_box, tmp_path):
    outcome = build(docker_box, tmp_path, "FROM python:3.11\nRUN pip install --no-cache-dir pandas==9.9\n")
    assert outcome.fraction == 0.25, outcome
    assert "pandas==9.9 does not exist in the runtime's packages" in outcome.explanation
    assert f"pin pandas=={locked_versions()['pandas']}" in outcome.explanation
