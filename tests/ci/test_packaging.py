"""The package builds from pyproject.toml as pip builds it (an isolated build environment from the
machine's own package index), without the build backend's deprecation banners on every install."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.ci.metadata import REPO


@pytest.mark.slow
def test_wheel_builds_without_deprecation_warnings(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(REPO)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(tmp_path.glob("grader-*.whl"))
    output = done.stdout + done.stderr
    assert "deprecated" not in output.lower(), output
