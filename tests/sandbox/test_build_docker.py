"""A candidate's Dockerfile whose pip step fails for a reason the candidate can fix, built on a real engine:
the build's own output names that reason, not only the missing network."""

from __future__ import annotations

import pytest

from grader.sandbox.base import Limits
from grader.sandbox.docker.image import locked_versions

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("nothing_left")]

DOCKERFILE = "FROM python:3.11-slim\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n"


@pytest.mark.parametrize("requirements, expected", [
    ("pandas=={pandas}\nsklearn=={sklearn}\n", "the package is called scikit-learn"),
    ("scikit-learn>=99\n", "scikit-learn>=99 is not met by the runtime's scikit-learn=={sklearn}"),
    ("scikit-learn=1.8.0\n", "pip cannot read the requirement 'scikit-learn=1.8.0'"),
], ids=["another-name", "range", "unreadable"])
def test_the_pip_failure_names_its_cause(docker_box, tmp_path, requirements, expected):
    versions = locked_versions()
    pins = {"pandas": versions["pandas"], "sklearn": versions["scikit-learn"]}
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "requirements.txt").write_text(requirements.format(**pins))
    result = docker_box.build_image(tmp_path, tmp_path / "Dockerfile", Limits(memory_mb=512, pids=64, timeout_s=300))
    assert not result.ok
    assert expected.format(**pins) in (result.error or ""), result
