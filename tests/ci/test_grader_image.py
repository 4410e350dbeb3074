"""The grader's own image (top-level Dockerfile, built by scripts/build-grader-image.sh): built with
no network in the build, lean, non-root, and grading through the host's Docker socket."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.ci.metadata import REPO
from tests.helpers import docker_leftovers

SCRIPT = REPO / "scripts" / "build-grader-image.sh"
TAG = "grader:test"
EXAMPLES = "/opt/grader/tasks/tabular/credit-default/examples"
#: Generous: the image is ~1 GB (pyarrow, scipy, mlflow...); wheels or build tools left in would show.
SIZE_BUDGET = 1_500_000_000


def test_build_context_is_the_same_both_ways():
    """`docker build .` (.dockerignore's allowlist) and the script's context hold the same paths,
    and the Dockerfile copies nothing else (but the optional wheels/ and dist/ of the script)."""
    paths = set(_context_paths())
    allowed = {line[1:] for line in (REPO / ".dockerignore").read_text().splitlines() if line.startswith("!")}
    assert allowed == paths
    copied = set()
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            copied.update(line.split()[1:-1])
    assert copied - {"wheel[s]", "dis[t]"} <= paths, sorted(copied - paths)


# -- docker ----------------------------------------------------------------------------------------


def _say(request: pytest.FixtureRequest, line: str) -> None:
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\n[grader image] {line}")


def _context_paths() -> list[str]:
    listed = re.search(r"^context_paths=\((.*)\)$", SCRIPT.read_text(), re.M)
    assert listed, "scripts/build-grader-image.sh has no context_paths=(...)"
    return listed[1].split()


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of what the image is built from, so edits to the checkout while the tests run cannot
    change the image between two builds."""
    root = tmp_path_factory.mktemp("grader-image") / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(SCRIPT, root / "scripts" / SCRIPT.name)
    for name in _context_paths():
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, root / name)
    return root


def _build(snapshot: Path, *args: str) -> tuple[str, str, float]:
    """Run the build script of ``snapshot``: (the image's grader:<hash> tag, its log, seconds)."""
    started = time.monotonic()
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(snapshot / "scripts" / SCRIPT.name), *args], capture_output=True, text=True,
                          env=env, timeout=3600)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, f"build-grader-image.sh failed:\n{proc.stderr[-5000:]}"
    return proc.stdout.strip().splitlines()[-1], proc.stderr, seconds


@pytest.fixture(scope="module")
def grader_image(request: pytest.FixtureRequest, snapshot: Path) -> dict[str, Any]:
    """The grader image, built by the script (or reused when one of the same content exists)."""
    import docker

    tag, log, seconds = _build(snapshot, "--tag", TAG)
    client = docker.from_env(timeout=60)
    try:
        attrs = client.api.inspect_image(tag)
    finally:
        client.close()
    how = "reused" if "reusing" in log else "built"
    _say(request, f"{tag} {how} in {seconds:.0f} s; size {attrs['Size'] / 1e6:.0f} MB")
    return {"tag": tag, "attrs": attrs, "log": log, "seconds": seconds}


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    assert shutil.which("docker"), "the docker CLI is needed (the README's command uses it)"
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.docker
@pytest.mark.slow
def test_image_is_lean_and_not_root(grader_image):
    attrs = grader_image["attrs"]
    assert attrs["Config"]["User"] == "grader"
    assert attrs["Config"]["Labels"]["grader.image-hash"] == grader_image["tag"].split(":", 1)[1]
    assert attrs["Size"] < SIZE_BUDGET, f"{attrs['Size'] / 1e6:.0f} MB"
    probe = ("id -u; ls /opt/grader; for tool in gcc cc make; do command -v $tool || true; done; "
             "find /opt /tmp /var/tmp /home -name '*.whl'; ls -d /deps /tmp/grader-src 2>/dev/null; grader --version")
    proc = _docker("run", "--rm", "--entrypoint", "sh", grader_image["tag"], "-c", probe)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    assert lines[0] != "0", "the grader runs as root"
    assert proc.stdout.split("\n")[1:5] == ["rubrics", "sandbox", "schemas", "tasks"], proc.stdout
    leftovers = [word for word in lines if word.endswith((".whl", "/gcc", "/cc", "/make", "/deps", "/grader-src"))]
    assert leftovers == [], "wheels, sources or build tools in the image"


@pytest.mark.docker
@pytest.mark.slow
def test_rebuild_reuses_the_image(grader_image, snapshot):
    tag, log, seconds = _build(snapshot, "--tag", TAG)
    assert tag == grader_image["tag"] and "reusing" in log, log[-2000:]
    assert seconds < 120


def _engine_socket() -> Path:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        pytest.skip(f"DOCKER_HOST={host} is no unix socket, which the grader image needs mounted")
    return Path(host.removeprefix("unix://"))


def _grade_in_image(tag: str, socket: Path, out: Path, example: str,
                    user: tuple[str, ...] = ()) -> tuple[int, dict[str, Any], str]:
    """The README's command: grade a bundled example with the host's socket mounted."""
    name = f"grader-image-test-{uuid.uuid4().hex[:8]}"
    try:
        proc = _docker("run", "--rm", "--name", name, *user, "--group-add", str(socket.stat().st_gid),
                       "-v", f"{socket}:/var/run/docker.sock", "-v", f"{out}:/out",
                       tag, "grade", f"{EXAMPLES}/{example}", "--out", f"/out/{example}", timeout=900)
    finally:
        _docker("rm", "--force", name)
    report = json.loads((out / example / "report.json").read_text())
    return proc.returncode, report, proc.stdout + proc.stderr


@pytest.mark.docker
@pytest.mark.slow
def test_image_grades_through_the_host_socket(grader_image, tmp_path):
    """The reference passes (exit 0), the baseline does not (exit 1); neither leaves a sandbox behind.

    The reference runs as the image's own user, the baseline as `--user` with a uid the image has
    never heard of (what `--user "$(id -u):$(id -g)"` gives most callers)."""
    from grader.sandbox.docker.image import ensure_image

    ensure_image()  # the runtime image the grader in the container looks for on the same engine
    socket = _engine_socket()
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)  # the image's user (uid 1000) writes the reports
    code, report, log = _grade_in_image(grader_image["tag"], socket, out, "reference")
    assert (code, report["status"], report["passed"]) == (0, "graded", True), log[-3000:]
    assert {"report.md", "report.html", "junit.xml"} <= {p.name for p in (out / "reference").iterdir()}
    code_b, report_b, log_b = _grade_in_image(grader_image["tag"], socket, out, "baseline", ("--user", "4321:4321"))
    assert (code_b, report_b["status"], report_b["passed"]) == (1, "graded", False), log_b[-3000:]
    assert (out / "baseline" / "report.json").stat().st_uid == 4321
    assert "Traceback" not in log + log_b and "Matplotlib created a temporary" not in log_b
    # Scoped to the two gradings' sandbox sessions: other runs share the engine.
    for graded in (report, report_b):
        session = graded["environment"]["sandbox"]["session"]
        assert docker_leftovers(session) == []
