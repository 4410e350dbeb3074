"""Sandbox fixtures: a ``sandbox`` per backend, and the leftovers check every backend must pass.

``sandbox`` is parametrised over ``local`` and ``docker`` (the latter marked ``docker``). After
each test it asserts that the backend left nothing behind, with a backend-specific check from
:data:`LEFTOVER_CHECKS` (add one when adding a backend):

* local: no process whose command line carries this session's token (every conformance command
  does, see ``py``), no process of a sandbox uid working in this instance's run folders, no
  supervisor of ours, no run folder.
* docker: no container or volume labelled ``grader.sandbox=1`` and ``grader.session=<id>`` of
  this instance (the docker backend labels everything it makes with both; the id is its
  ``session`` attribute / ``describe()["session"]``).

A backend that cannot enforce something lists it in ``describe()["unenforced"]`` (``network``,
``mount_size``, ``read_only``, ``pids``); ``require`` skips the matching tests, with the reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grader.sandbox import Sandbox, get_backend
from tests.helpers import docker_leftovers

TOKEN = f"grader-conformance-{uuid.uuid4().hex[:12]}"


def _local_leftovers(box: Sandbox) -> list[str]:
    from grader.sandbox.local.backend import SUPERVISOR, UID_BASE, UID_SPAN

    found = []
    me = os.getpid()
    base = getattr(box, "base_dir", None)
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = Path(f"/proc/{name}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uid = int(fields.get("Uid", "-1").split()[0])
        ppid = int(fields.get("PPid", "0").strip())
        state = fields.get("State", "").strip()
        if state.startswith("Z"):  # not running; a leftover parent would be found on its own
            continue
        ours = TOKEN in cmdline or (SUPERVISOR in cmdline and ppid == me)
        if not ours and base and UID_BASE <= uid < UID_BASE + UID_SPAN:
            # A sandbox uid: ours when its environment points into this box's run folders (other
            # test sessions may be running sandboxes at the same time).
            try:
                ours = base.encode() in Path(f"/proc/{name}/environ").read_bytes()
            except OSError:
                ours = False  # gone, or not ours to read
        if ours:
            found.append(f"process {name} uid={uid} state={state}: {cmdline[:120]}")
    if base and os.path.isdir(base):
        found += [f"run folder {base}/{entry}" for entry in os.listdir(base)]
    return found


def _docker_leftovers(box: Sandbox) -> list[str]:
    # Only this instance's session: other test sessions may share the engine at the same time.
    return docker_leftovers(getattr(box, "session", None) or box.describe()["session"])


LEFTOVER_CHECKS: dict[str, Callable[[Sandbox], list[str]]] = {
    "local": _local_leftovers,
    "docker": _docker_leftovers,
}


def _make(name: str, tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    if name == "local":
        from grader.sandbox.local.backend import LocalSandboxWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LocalSandboxWarning)
            # A world-searchable folder (pytest's own are 0700): without a mount namespace the
            # sandbox uid must be able to walk to its run folder.
            base = Path(tempfile.mkdtemp(prefix="grader-local-conformance-"))
            base.chmod(0o755)
            return get_backend("local", base_dir=base)
    import grader.sandbox.docker.backend  # noqa: F401 - registers "docker"; fails until it exists

    return get_backend("docker")


@pytest.fixture(params=[pytest.param("local", id="local"),
                        pytest.param("docker", id="docker", marks=pytest.mark.docker)])
def sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    import grader.sandbox.local.backend  # noqa: F401 - registers "local"

    box = _make(request.param, tmp_path_factory)
    try:
        yield box
        left = LEFTOVER_CHECKS[request.param](box)
        assert not left, f"the {request.param} backend left things behind: {left}"
    finally:
        box.close()
        if request.param == "local":
            shutil.rmtree(box.base_dir, ignore_errors=True)  # type: ignore[attr-defined]


@pytest.fixture
def leftovers(sandbox: Sandbox) -> Callable[[], list[str]]:
    """What the backend left behind right now (processes, containers, folders...)."""
    return lambda: LEFTOVER_CHECKS[sandbox.name](sandbox)


@pytest.fixture
def require(sandbox: Sandbox) -> Callable[[str], None]:
    """``require("network")``: skip when the backend says it cannot enforce that here."""

    def check(what: str) -> None:
        unenforced = sandbox.describe().get("unenforced") or []
        if what in unenforced:  # type: ignore[operator]
            pytest.skip(f"the {sandbox.name} backend cannot enforce {what} here (describe()['unenforced'])")

    return check


@pytest.fixture
def py() -> Callable[[str], list[str]]:
    """argv running Python ``code`` with ``python3`` (standard library only), tagged with the session token."""
    return lambda code: ["python3", "-c", f"{code}\n# {TOKEN}\n"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"docker tests cannot be skipped on CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def client():
    """A client of the engine the docker tests use (skipped without one, except on CI)."""
    import docker

    try:
        c = docker.from_env()
        c.ping()
    except docker.errors.DockerException as exc:
        _unavailable(f"no Docker engine: {exc}")
    yield c
    c.close()


@pytest.fixture(scope="module")
def image(client) -> str:
    """The runtime image's tag (skipped when it is missing, except on CI)."""
    import docker

    from grader.sandbox.docker.backend import default_image

    tag = default_image()
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        _unavailable(f"runtime image {tag} missing: run `grader sandbox build` or set GRADER_RUNTIME_IMAGE")
    return tag


@pytest.fixture
def leftover_checks() -> dict[str, Callable[[Sandbox], list[str]]]:
    """The per-backend leftovers checks, for tests that build their own backend instance."""
    return LEFTOVER_CHECKS
