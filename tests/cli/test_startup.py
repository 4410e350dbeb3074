"""What the light commands import: never scikit-learn, pandas, matplotlib, MLflow, docker or numpy.

Each command runs in a fresh interpreter (this test process has them all loaded) through
``grader.cli.main``, which then reports what was imported. Speed itself is measured by
``benchmarks/startup.py``, not asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sklearn", "pandas", "matplotlib", "mlflow", "docker", "numpy", "scipy")

RUNNER = """
import contextlib, io, json, sys
{preamble}
from grader.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:], standalone_mode=False)
print(json.dumps({{"code": code, "heavy": sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r})),
                  "cli": sorted(m for m in sys.modules if m.startswith("grader.cli."))}}))
"""


def imported_by(*args: str, preamble: str = "") -> dict:
    code = RUNNER.format(preamble=preamble, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["task", "list"], ["schema", "report"]], ids=" ".join)
def test_light_commands_import_nothing_heavy(args):
    found = imported_by(*args)
    assert found["code"] in (0, None) and found["heavy"] == [], found


def test_the_check_sees_a_heavy_import():
    assert imported_by("--version", preamble="import numpy")["heavy"] == ["numpy"]


def test_help_imports_no_command_module():
    """`grader --help` lists the commands from the root group's table; a command imports its own group only."""
    assert imported_by("--help")["cli"] == ["grader.cli.errors", "grader.cli.lazy"]
    assert imported_by("task", "list")["cli"] == ["grader.cli.console", "grader.cli.errors", "grader.cli.lazy",
                                                  "grader.cli.task"]


def test_admin_commands_import_nothing_heavy(tmp_path):
    """`grader admin` opens the service's database without the grading machinery `grader serve` starts."""
    found = imported_by("admin", "list", "--data", str(tmp_path / "service"))
    assert found["code"] in (0, None) and found["heavy"] == [], found
