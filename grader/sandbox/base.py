"""The sandbox interface every backend implements, and the values that cross it.

A backend runs one command in a fresh, isolated place with a set of mounted folders and
resource limits, and returns what happened. It knows nothing about tasks or grading: the
grading pipeline decides what goes in and reads what comes out.
"""

from __future__ import annotations

import abc
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from grader.errors import SandboxError
from grader.registry import Registry

#: Sandbox-side uid/gid the candidate's code runs as (not root, owns nothing else).
SANDBOX_UID = 10001
SANDBOX_GID = 10001
#: Sandbox-side uid/gid of a grader-owned companion process (the latency timer): another user than
#: the candidate's, so the candidate's code cannot signal it, trace it, or read its memory or files.
COMPANION_UID = 10002
COMPANION_GID = 10002
#: How much of a captured stream a result keeps (the tail: that is where errors are).
STREAM_TAIL_BYTES = 64 * 1024
#: What a failed fork or thread start prints (EAGAIN at the process limit): the one list every backend uses.
PIDS_PATTERNS = ("Resource temporarily unavailable", "can't start new thread", "fork: retry", "Cannot fork")
#: A run that reached its process limit and stays near it this long is stopped: a fork bomb would
#: otherwise hold its sandbox until the timeout.
PIDS_STOP_AFTER_S = 5.0
#: The capability of building a submission's Dockerfile (:meth:`Sandbox.build_image`).
IMAGE_BUILD = "image_build"


def fork_failed(stderr: str) -> bool:
    """Whether ``stderr`` shows a fork or thread start refused at the process limit."""
    return any(p in stderr for p in PIDS_PATTERNS)


def pids_near(limit: int) -> int:
    """The process count from which a run counts as held at ``limit``: a churning fork bomb leaves a
    few slots free between samples."""
    return limit - max(1, limit // 20)


def pids_near_limit(count: int, limit: int) -> bool:
    return count >= pids_near(limit)


class StreamTail:
    """The last ``limit`` bytes of a byte stream, and how many bytes it had in all.

    ``text()`` decodes it without a UTF-8 sequence cut in half at the start.
    """

    def __init__(self, limit: int = STREAM_TAIL_BYTES) -> None:
        self.limit, self.buf, self.total = limit, bytearray(), 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        self.buf += data
        if len(self.buf) > 2 * self.limit:
            del self.buf[: -self.limit]

    @property
    def cut(self) -> bool:
        return self.total > self.limit

    def text(self) -> str:
        kept = bytes(self.buf[-self.limit:])
        if self.cut:
            start = 0
            while start < min(len(kept), 4) and (kept[start] & 0xC0) == 0x80:  # continuation bytes
                start += 1
            kept = kept[start:]
        return kept.decode("utf-8", "replace")


@dataclass(frozen=True)
class Mount:
    """A folder inside the sandbox.

    ``source`` is a host folder whose content is copied in (``None``: starts empty).
    Writable mounts get ``size_mb`` of space at most. When ``collect_to`` is set, the folder's
    content after the run is copied back to that host folder (which must not exist yet).
    """

    target: str
    source: Path | None = None
    writable: bool = False
    size_mb: int = 64
    collect_to: Path | None = None
    #: Owned by the companion's user with mode 0700: the companion reads (and, when writable,
    #: writes) it; the command cannot even list it. Hidden inputs and trusted outputs go here.
    companion_only: bool = False


@dataclass(frozen=True)
class Companion:
    """A grader-owned process run beside the command, in the same sandbox, as :data:`COMPANION_UID`.

    It shares the command's ``/tmp``, network namespace and resource limits, so the two can talk
    over a unix socket in ``/tmp``; it is started once the command runs and killed when the command
    ends. Being another user, it is out of the command's reach: this is where measurements the
    candidate must not be able to alter (the latency clock) are taken. Its streams are captured
    apart from the command's. Paths in ``argv`` and ``env`` follow the same rules as the command's.
    """

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class CompanionResult:
    """How the companion ended. ``exit_code`` is ``None`` when it was still running as the command ended."""

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one run. Every backend must enforce them or say it cannot."""

    timeout_s: float = 300.0
    memory_mb: int = 2048
    cpus: float = 1.0
    pids: int = 256
    tmp_mb: int = 256
    file_size_mb: int = 256
    open_files: int = 1024


@dataclass(frozen=True)
class RunSpec:
    """One command to run in a fresh sandbox."""

    argv: list[str]
    workdir: str = "/workspace"
    env: dict[str, str] = field(default_factory=dict)
    mounts: list[Mount] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    #: Short name of the phase (``train``, ``predict``): used in names and labels.
    label: str = "run"
    companion: Companion | None = None


@dataclass
class RunResult:
    """What happened in one run. ``exit_code`` is ``None`` when the run was killed by us."""

    exit_code: int | None
    duration_s: float
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    oom_killed: bool = False
    #: The process limit was reached at some point (fork bomb or runaway pool).
    pids_exhausted: bool = False
    peak_memory_mb: float | None = None
    #: Backend-specific facts worth keeping in the report (container id, image id, ...).
    details: dict[str, object] = field(default_factory=dict)
    #: Set when the spec had a companion.
    companion: CompanionResult | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not (self.timed_out or self.oom_killed)


@dataclass
class BuildResult:
    """How building a submission's Dockerfile went.

    ``starts``: the final stage says how to start the service (CMD or ENTRYPOINT); ``log``: one
    line per step, with the tail of each step's output; ``error``: why it did not build.
    """

    ok: bool
    log: list[str] = field(default_factory=list)
    error: str | None = None
    starts: bool = False
    steps: int = 0


#: Mount targets no backend accepts: they would hide or expose what the sandbox needs to work.
FORBIDDEN_TARGETS = ("/", "/proc", "/sys", "/dev")


def check_spec(spec: RunSpec, forbidden: tuple[str, ...] = FORBIDDEN_TARGETS) -> None:
    """Reject a malformed spec with :class:`SandboxError`, the same way in every backend."""
    if not spec.argv or not all(isinstance(a, str) for a in spec.argv):
        raise SandboxError("the command is empty or not a list of strings", hint="pass argv as a list[str]")
    if spec.companion is not None and (not spec.companion.argv
                                       or not all(isinstance(a, str) for a in spec.companion.argv)):
        raise SandboxError("the companion's command is empty or not a list of strings",
                           hint="pass Companion(argv=[...]) a list[str]")
    if not spec.workdir.startswith("/"):
        raise SandboxError(f"workdir {spec.workdir!r} is not absolute", hint="use a path like /workspace")
    seen: set[str] = set()
    for mount in spec.mounts:
        target = mount.target
        if not target.startswith("/") or os.path.normpath(target) != target or target in forbidden \
                or any(target.startswith(f"{p}/") for p in forbidden if p != "/"):
            raise SandboxError(f"bad mount target {target!r}",
                               hint=f"use a normalised absolute path outside {', '.join(forbidden)}")
        if target in seen:
            raise SandboxError(f"mount target {target!r} given twice")
        seen.add(target)
        if mount.source is not None and not Path(mount.source).is_dir():
            raise SandboxError(f"mount source {mount.source} is not a folder")
        if mount.collect_to is not None and os.path.lexists(mount.collect_to):
            raise SandboxError(f"collect_to {mount.collect_to} already exists", hint="pass a path that does not exist")
        if mount.size_mb <= 0:
            raise SandboxError(f"mount {target!r}: size_mb must be positive")


class Sandbox(abc.ABC):
    """A sandbox backend. Implementations register themselves in :data:`backends`."""

    name: ClassVar[str]
    #: Whether the backend isolates untrusted code (the local one does not).
    isolates: ClassVar[bool] = True
    #: What it can do beyond :meth:`run`, e.g. :data:`IMAGE_BUILD`.
    capabilities: ClassVar[frozenset[str]] = frozenset()

    @abc.abstractmethod
    def run(self, spec: RunSpec) -> RunResult:
        """Run ``spec`` to completion or timeout; never leave anything running behind.

        Raises :class:`grader.errors.SandboxError` only when the sandbox itself failed; what the
        command does (crash, timeout, OOM) is reported in the result.
        """

    def build_image(self, context_dir: Path, dockerfile: Path, limits: Limits) -> BuildResult:
        """Build ``dockerfile`` with ``context_dir`` as its context, offline and hardened like a run.

        ``limits`` cap every step; ``limits.timeout_s`` bounds the whole build. What the Dockerfile
        does wrong is in the result; :class:`SandboxError` means the sandbox failed, or (here) that
        this backend lacks :data:`IMAGE_BUILD`.
        """
        raise SandboxError(f"the {self.name} sandbox cannot build images",
                           hint="grade with a backend that has the image_build capability (--sandbox docker)")

    @classmethod
    def prune(cls, *, all: bool = False) -> list[str]:
        """Remove what runs of this backend left behind; the names of what was removed.

        By default only what belongs to dead sessions (their grader process is gone); ``all``
        removes live sessions' too. Backends that leave nothing lasting return ``[]``.
        """
        return []

    def describe(self) -> dict[str, object]:
        """Facts about this backend for the report's environment section."""
        return {"backend": self.name, "isolates": self.isolates}

    def close(self) -> None:
        """Release backend resources (clients, temp folders)."""


backends: Registry[type[Sandbox]] = Registry("sandbox backend")


BUILTIN_BACKENDS = ("grader.sandbox.docker.backend", "grader.sandbox.local.backend")


def load_builtin_backends() -> None:
    """Import the bundled backends so they register (kept lazy: the docker SDK is not free)."""
    import importlib

    for module in BUILTIN_BACKENDS:
        importlib.import_module(module)


def get_backend(name: str, **options: object) -> Sandbox:
    """Instantiate the backend registered as ``name``."""
    load_builtin_backends()
    return backends.get(name)(**options)  # type: ignore[call-arg]
