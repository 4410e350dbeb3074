"""The docker backend: each run in a fresh, hardened container on a Docker engine.

Design (every point verified on Docker 20.10, cgroup v1, overlay2):

* Nothing is ever bind-mounted from the host, so the grader works the same when it runs in a
  container that talks to the host's Docker socket. Files move as tar streams
  (``put_archive`` / ``get_archive``).
* A mount with content to load (``source``) or to collect (``collect_to``) is a named volume of
  the ``local`` driver backed by a size-capped ``tmpfs``. The engine refuses ``put_archive`` into
  a read-only root filesystem or a read-only volume, and a tmpfs volume is mounted only while a
  container uses it (content loaded into a created-but-stopped container is lost). So a small
  "keeper" container, hardened like the command's, mounts all those volumes read-write for the
  whole run: sources are loaded through it before the command starts (owned by root and not
  writable for read-only mounts) and outputs are read back through it after the command ended.
* A mount with nothing to load or collect is a plain tmpfs of the command container (no volume,
  no keeper): a run without such mounts costs one container.
* The command runs in ONE fresh container with every hardening option in :data:`HARDENING`,
  under a hard wall-clock timeout (SIGKILL). OOM comes from ``State.OOMKilled``; a background
  thread follows the engine's stats stream (one sample a second: the engine cannot be asked more
  often) for peak memory and for the process count reaching ``pids_limit``; a run that failed
  with fork/thread EAGAIN messages on stderr also counts as ``pids_exhausted`` (a fork bomb that
  fails and exits within the second between samples).
* Every container and volume is labelled ``grader.sandbox=1``, ``grader.session``,
  ``grader.run`` and ``grader.phase`` and removed by label in ``finally`` on every exit path.
  SIGTERM and SIGHUP become :class:`SandboxTerminated` while a run is in progress (SIGINT already
  raises ``KeyboardInterrupt``); signals are deferred while cleaning up (a second one aborts the
  cleanup). :mod:`grader.sandbox.cleanup` adds an ``atexit`` prune of this process's sessions and
  ``grader sandbox prune``.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import signal
import stat
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from grader.errors import SandboxError
from grader.sandbox import cleanup
from grader.sandbox.base import (
    COMPANION_GID,
    COMPANION_UID,
    FORBIDDEN_TARGETS,
    SANDBOX_GID,
    SANDBOX_UID,
    CompanionResult,
    Mount,
    RunResult,
    RunSpec,
    Sandbox,
    StreamTail,
    backends,
    check_spec,
)

if TYPE_CHECKING:
    import docker

MiB = 1024 * 1024
PAGE = 4096
#: Where the keeper mounts the volumes (``<root>/m<index>``).
KEEPER_ROOT = "/grader-keeper"
#: The engine keeps at most this much of a container's log (two files of half that each); a
#: line costs about 70 bytes of JSON on top of its text, so this keeps the last
#: STREAM_TAIL_BYTES of each stream unless output was tiny lines or one stream drowned the other.
LOG_MAX_FILE_SIZE = "8m"
LOG_MAX_FILES = "2"
#: Most entries and bytes (beyond the mount's size) read back from one collected mount.
COLLECT_MAX_ENTRIES = 100_000
#: Environment every command gets unless the spec sets it: HOME must be writable for the many
#: libraries that keep a cache there (the sandbox uid has no passwd entry and / is read-only).
DEFAULT_ENV = {"HOME": "/tmp", "USER": "sandbox", "LOGNAME": "sandbox"}
FALLBACK_IMAGE = "grader-runtime:latest"
#: What a failed fork or thread start (EAGAIN at the pids limit) prints (same list as the local backend).
PIDS_PATTERNS = ("Resource temporarily unavailable", "can't start new thread", "fork: retry", "Cannot fork")

ENGINE_HINT = ("start dockerd (e.g. `sudo systemctl start docker`, or `.ci/docker-up.sh`) or point DOCKER_HOST "
               "at a running engine's socket (e.g. `export DOCKER_HOST=unix:///run/grader-docker.sock`)")
IMAGE_HINT = "run `grader sandbox build` (or set GRADER_RUNTIME_IMAGE to an image that exists)"

#: The hardening applied to every container this backend starts (the command's and the keeper).
HARDENING = [
    "network_mode=none (no interface but lo)",
    f"user={SANDBOX_UID}:{SANDBOX_GID} (not root)",
    "cap_drop=ALL",
    "security_opt=no-new-privileges",
    "read_only root filesystem",
    "/tmp: tmpfs capped at limits.tmp_mb (nosuid,nodev)",
    "mounts: size-capped tmpfs (nosuid,nodev); read-only mounts are read-only and root-owned",
    "no host path is ever bind-mounted (files move as tar streams)",
    "mem_limit=limits.memory_mb, memswap_limit=mem_limit (no swap)",
    "nano_cpus=limits.cpus",
    "pids_limit=limits.pids",
    "ulimits: fsize=limits.file_size_mb, nofile=limits.open_files, core=0",
    "ipc_mode=private, oom_score_adj=500",
    "init=True (docker-init as PID 1: signals and zombies)",
    f"log_config=json-file max-size={LOG_MAX_FILE_SIZE} max-file={LOG_MAX_FILES}",
    "hard wall-clock timeout: SIGKILL, then every container and volume of the run is removed",
    f"companion (grader-owned, e.g. the latency timer): `docker exec` as {COMPANION_UID}:{COMPANION_GID}, "
    "out of reach of the command's user; companion-only mounts are 0700 and owned by it",
]


class SandboxTerminated(SystemExit):
    """SIGTERM or SIGHUP reached the grader during a run; exits with 128 + signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"terminated by {signal.Signals(self.signum).name} during a sandbox run"


def default_image() -> str:
    """``GRADER_RUNTIME_IMAGE``, else the runtime image's tag, else ``grader-runtime:latest``."""
    env = os.environ.get("GRADER_RUNTIME_IMAGE")
    if env:
        return env
    try:
        from grader.sandbox.docker.image import runtime_tag
    except ImportError:
        return FALLBACK_IMAGE
    return runtime_tag()


def connect() -> docker.DockerClient:
    """A client for the engine in the environment (DOCKER_HOST), or :class:`SandboxError`."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock (default)")
        raise SandboxError(f"cannot reach the Docker engine at {host}: {exc}", ENGINE_HINT) from exc
    return client


@backends.register("docker")
class DockerSandbox(Sandbox):
    """Runs each :class:`RunSpec` in a fresh hardened container; see the module docstring."""

    name = "docker"
    isolates = True

    def __init__(self, image: str | None = None, client: docker.DockerClient | None = None) -> None:
        self.image = image or default_image()
        self._client = client
        self._owns_client = client is None
        #: Labels everything this instance creates; pruned at exit and on close().
        self.session = uuid.uuid4().hex

    # -- engine and image ------------------------------------------------------------------------

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = connect()
        return self._client

    def _image_id(self) -> str:
        import docker

        try:
            return self.client.api.inspect_image(self.image)["Id"]
        except docker.errors.ImageNotFound as exc:
            raise SandboxError(f"the sandbox image {self.image!r} is not on the Docker engine", IMAGE_HINT) from exc
        except (docker.errors.DockerException, _requests_errors()) as exc:
            raise SandboxError(f"cannot inspect the sandbox image {self.image!r}: {exc}", ENGINE_HINT) from exc

    def describe(self) -> dict[str, object]:
        import docker

        try:
            version = self.client.version()
            info = self.client.info()
        except (docker.errors.DockerException, _requests_errors()) as exc:
            raise SandboxError(f"cannot reach the Docker engine: {exc}", ENGINE_HINT) from exc
        try:
            image_id: str | None = self._image_id()
        except SandboxError:
            image_id = None
        return {
            **super().describe(),
            "engine_version": version.get("Version"),
            "api_version": version.get("ApiVersion"),
            "cgroup_version": info.get("CgroupVersion"),
            "storage_driver": info.get("Driver"),
            "engine_security": info.get("SecurityOptions") or [],
            "image": self.image,
            "image_id": image_id,
            "session": self.session,
            "hardening": list(HARDENING) + [f"engine: {opt}" for opt in info.get("SecurityOptions") or []],
        }

    def close(self) -> None:
        if self._client is None:
            return
        try:
            cleanup.prune(self._client, self.session)
        except Exception:  # noqa: BLE001 - nothing should be left; atexit and `grader sandbox prune` remain
            pass
        cleanup.forget_session(self.session)
        if self._owns_client:
            self._client.close()
            self._client = None

    # -- one run ---------------------------------------------------------------------------------

    def run(self, spec: RunSpec) -> RunResult:
        plans = _plan_mounts(spec)
        image_id = self._image_id()
        client = self.client
        run_id = uuid.uuid4().hex
        name = f"grader-{_safe_name(spec.label)}-{run_id[:12]}"
        labels = {
            cleanup.SANDBOX_LABEL: "1",
            cleanup.SESSION_LABEL: self.session,
            cleanup.RUN_LABEL: run_id,
            cleanup.PHASE_LABEL: spec.label,
        }
        cleanup.watch_session(client, self.session)
        with _signals_raise(), contextlib.ExitStack() as temps:
            try:
                result = _Run(client, spec, plans, image_id, name, labels, temps).execute()
            except BaseException as exc:
                with _signals_deferred():  # a signal now is the same interruption: drop it
                    try:
                        cleanup.prune(client, self.session, run=run_id)
                    except Exception as cleanup_exc:  # noqa: BLE001 - do not mask the first error
                        exc.add_note(f"cleanup of run {name} failed too ({cleanup_exc}); "
                                     "run `grader sandbox prune`")
                if isinstance(exc, SandboxError) or not _is_engine_error(exc):
                    raise
                raise SandboxError(f"the Docker engine failed during run {name}: {exc}", ENGINE_HINT) from exc
            with _signals_deferred() as pending:
                try:
                    cleanup.prune(client, self.session, run=run_id)
                except Exception as exc:  # noqa: BLE001
                    raise SandboxError(f"could not remove the containers/volumes of run {name}: {exc}",
                                       "run `grader sandbox prune`") from exc
            if pending:
                raise _signal_exception(pending[0])
        return result


# -- mounts ----------------------------------------------------------------------------------------

@dataclass
class _MountPlan:
    index: int
    mount: Mount
    #: Backed by a volume (content to load or collect) rather than a plain tmpfs.
    volume: bool
    #: The tar of the source, built before anything is created on the engine.
    tar: Any = None
    size_mb: int = 0

    @property
    def keeper_path(self) -> str:
        return f"{KEEPER_ROOT}/m{self.index}"


def _plan_mounts(spec: RunSpec) -> list[_MountPlan]:
    """Check the spec (:class:`SandboxError` for a malformed one) and plan the mounts."""
    check_spec(spec, (*FORBIDDEN_TARGETS, KEEPER_ROOT))
    return [_MountPlan(index, mount, volume=mount.source is not None or mount.collect_to is not None)
            for index, mount in enumerate(spec.mounts)]


@dataclass(frozen=True)
class _Ownership:
    uid: int
    gid: int
    dir_mode: int
    file_mode: int

    @property
    def tmpfs_options(self) -> str:
        return f"uid={self.uid},gid={self.gid},mode={self.dir_mode:04o}"


def _ownership(mount: Mount) -> _Ownership:
    """Who owns a mount's folder and files, and their modes.

    Read-only: root, 0555/0444. Writable: the sandbox uid, 0755/0644. Companion-only: the
    companion uid, 0500/0400 (read-only) or 0700/0600 (writable), so the command cannot enter.
    """
    if mount.companion_only:
        return _Ownership(COMPANION_UID, COMPANION_GID, *((0o700, 0o600) if mount.writable else (0o500, 0o400)))
    if mount.writable:
        return _Ownership(SANDBOX_UID, SANDBOX_GID, 0o755, 0o644)
    return _Ownership(0, 0, 0o555, 0o444)


def _source_tar(source: Path, own: _Ownership, out: io.BufferedRandom) -> int:
    """Write ``source``'s tree as a tar to ``out``, owned and moded as ``own`` says; return the
    tmpfs bytes it will take. Executable files get the execute bits their folders have. Symlinks
    are kept as links (never followed on this host); sockets, fifos and devices are left out.
    """
    owner, group, dir_mode, file_mode = own.uid, own.gid, own.dir_mode, own.file_mode
    used = 0
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
            dirnames.sort()
            for entry in sorted(dirnames) + sorted(filenames):
                path = os.path.join(dirpath, entry)
                st = os.lstat(path)
                info = tarfile.TarInfo(Path(path).relative_to(source).as_posix())
                info.uid, info.gid, info.uname, info.gname = owner, group, "", ""
                info.mtime = int(st.st_mtime)
                if stat.S_ISDIR(st.st_mode):
                    info.type, info.mode = tarfile.DIRTYPE, dir_mode
                    tar.addfile(info)
                elif stat.S_ISLNK(st.st_mode):
                    info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, os.readlink(path)
                    tar.addfile(info)
                    used += PAGE if len(info.linkname) > 100 else 0
                elif stat.S_ISREG(st.st_mode):
                    info.type, info.size = tarfile.REGTYPE, st.st_size
                    info.mode = file_mode | (dir_mode & 0o111 if st.st_mode & 0o100 else 0)
                    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                    with os.fdopen(fd, "rb") as fh:
                        tar.addfile(info, fh)
                    used += math.ceil(st.st_size / PAGE) * PAGE
    out.seek(0)
    return used


# -- the run itself --------------------------------------------------------------------------------

class _Run:
    """One run's steps; the caller removes everything labelled with the run's id afterwards."""

    def __init__(self, client: docker.DockerClient, spec: RunSpec, plans: list[_MountPlan], image_id: str,
                 name: str, labels: dict[str, str], temps: contextlib.ExitStack) -> None:
        self.client, self.api, self.spec, self.plans = client, client.api, spec, plans
        self.image_id, self.name, self.labels, self.temps = image_id, name, labels, temps
        self.stage = "preparing"

    def execute(self) -> RunResult:
        limits = self.spec.limits
        volumes = [p for p in self.plans if p.volume]
        self.stage = "packing mount sources"
        for plan in volumes:
            plan.size_mb = plan.mount.size_mb
            if plan.mount.source is not None:
                plan.tar = self.temps.enter_context(tempfile.TemporaryFile(prefix="grader-mount-", suffix=".tar"))
                used = _source_tar(Path(plan.mount.source), _ownership(plan.mount), plan.tar)
                if not plan.mount.writable:  # read-only: exactly what is needed (+ slack)
                    plan.size_mb = math.ceil(used / MiB) + 1
                elif used > plan.mount.size_mb * MiB:
                    raise SandboxError(
                        f"the content of {plan.mount.source} ({used / MiB:.1f} MiB) does not fit the writable "
                        f"mount {plan.mount.target} (size_mb={plan.mount.size_mb})",
                        "raise the mount's size_mb (the task's limits) or make the source smaller")
        keeper = None
        if volumes:
            self.stage = "creating volumes"
            for plan in volumes:
                self._create_volume(plan)
            self.stage = "starting the keeper container"
            # Sleeps past the run's deadline at most: an orphan (grader SIGKILLed) stops by itself.
            keeper = self._create(
                ["sleep", str(int(limits.timeout_s) + 3600)], f"{self.name}-keeper",
                mounts=[_docker_mount(p.keeper_path, self._volume_name(p), read_only=False) for p in volumes],
                tmpfs={"/tmp": "rw,nosuid,nodev,noexec,size=1m,mode=1777"}, workdir="/", env={},
                mem_mb=32, cpus=0.1, pids=8, fsize_mb=1, nofile=64)
            self.api.start(keeper)
            for plan in volumes:
                if plan.tar is not None:
                    self.stage = f"loading {plan.mount.source} into {plan.mount.target}"
                    self._put(keeper, plan)
        self.stage = "creating the command container"
        container = self._create(
            list(self.spec.argv), self.name,
            mounts=[_docker_mount(p.mount.target, self._volume_name(p), read_only=not p.mount.writable)
                    for p in volumes],
            tmpfs=self._tmpfs(), workdir=self.spec.workdir, env={**DEFAULT_ENV, **self.spec.env},
            mem_mb=limits.memory_mb, cpus=limits.cpus, pids=limits.pids,
            fsize_mb=limits.file_size_mb, nofile=limits.open_files)
        self.stage = "running the command"
        stats = _StatsFollower(self.api, container, limits.pids)
        self.api.start(container)
        started = time.monotonic()  # the command's budget starts once it runs, not while the engine sets up
        stats.start()
        companion = _CompanionExec(self.api, container, self.spec) if self.spec.companion else None
        timed_out = self._wait(container, started + limits.timeout_s)
        elapsed = time.monotonic() - started
        stats.stop()
        self.stage = "inspecting the command container"
        state = self.api.inspect_container(container)["State"]
        stdout, out_cut = self._tail(container, stdout=True)
        stderr, err_cut = self._tail(container, stdout=False)
        details: dict[str, object] = {
            "container": self.name,
            "container_id": container[:12],
            "image_id": self.image_id,
            "engine_exit_code": state.get("ExitCode"),
        }
        if out_cut or err_cut:
            details["truncated_streams"] = [s for s, cut in (("stdout", out_cut), ("stderr", err_cut)) if cut]
        if stats.pids_peak is not None:
            details["pids_peak"] = stats.pids_peak
        if stats.error:
            details["stats_error"] = stats.error
        collected = {}
        for plan in volumes:
            if plan.mount.collect_to is not None:
                self.stage = f"collecting {plan.mount.target}"
                collected[plan.mount.target] = self._collect(keeper, plan)
        if collected:
            details["collected"] = collected
            details["skipped_on_collect"] = [f"{target}: {name}" for target, info in collected.items()
                                             for name in info["skipped"]]  # type: ignore[attr-defined]
        oom = bool(state.get("OOMKilled"))
        exit_code = None if timed_out else state.get("ExitCode")
        # The engine samples stats once a second, which misses a fork bomb that fails and exits at
        # once; fork/thread failures (EAGAIN) on the stderr of a failed run catch those.
        pids_exhausted = stats.pids_exhausted
        if pids_exhausted:
            details["pids_exhausted_from"] = "stats"
        elif exit_code != 0 and not oom and any(p in stderr for p in PIDS_PATTERNS):
            pids_exhausted = True
            details["pids_exhausted_from"] = "stderr"
        return RunResult(
            companion=companion.result() if companion else None,
            exit_code=exit_code,
            duration_s=_duration(state, elapsed),
            stdout=stdout,
            stderr=stderr,
            timed_out=timed_out,
            oom_killed=oom,
            pids_exhausted=pids_exhausted,
            peak_memory_mb=stats.peak_mb if not oom else max(stats.peak_mb or 0.0, float(limits.memory_mb)),
            details=details,
        )

    # -- engine objects --------------------------------------------------------------------------

    def _volume_name(self, plan: _MountPlan) -> str:
        return f"{self.name}-m{plan.index}"

    def _create_volume(self, plan: _MountPlan) -> None:
        owner = _ownership(plan.mount).tmpfs_options
        self.api.create_volume(
            self._volume_name(plan), driver="local",
            driver_opts={"type": "tmpfs", "device": "tmpfs", "o": f"size={plan.size_mb}m,{owner},nosuid,nodev"},
            labels={**self.labels, "grader.mount": plan.mount.target})

    def _tmpfs(self) -> dict[str, str]:
        tmpfs = {}
        targets = {p.mount.target for p in self.plans}
        if "/tmp" not in targets:
            tmpfs["/tmp"] = f"rw,nosuid,nodev,exec,size={self.spec.limits.tmp_mb}m,mode=1777"
        for plan in self.plans:
            if plan.volume:
                continue
            own = _ownership(plan.mount).tmpfs_options
            if plan.mount.writable:
                tmpfs[plan.mount.target] = f"rw,nosuid,nodev,exec,size={plan.mount.size_mb}m,{own}"
            else:
                tmpfs[plan.mount.target] = f"ro,nosuid,nodev,size=1m,{own}"
        return tmpfs

    def _create(self, argv: list[str], name: str, *, mounts: list[Any], tmpfs: dict[str, str], workdir: str,
                env: dict[str, str], mem_mb: int, cpus: float, pids: int, fsize_mb: int, nofile: int) -> str:
        """Create (not start) a container with every option of :data:`HARDENING`."""
        from docker.types import LogConfig, Ulimit

        host_config = self.api.create_host_config(
            network_mode="none",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            read_only=True,
            tmpfs=tmpfs,
            mounts=mounts,
            mem_limit=f"{mem_mb}m",
            memswap_limit=f"{mem_mb}m",
            nano_cpus=max(int(cpus * 1e9), 10_000_000),
            pids_limit=pids,
            ulimits=[
                Ulimit(name="fsize", soft=fsize_mb * MiB, hard=fsize_mb * MiB),
                Ulimit(name="nofile", soft=nofile, hard=nofile),
                Ulimit(name="core", soft=0, hard=0),
            ],
            log_config=LogConfig(type="json-file", config={"max-size": LOG_MAX_FILE_SIZE, "max-file": LOG_MAX_FILES}),
            init=True,
            ipc_mode="private",
            oom_score_adj=500,
        )
        created = self.api.create_container(
            self.image_id,
            entrypoint=argv[:1],  # argv exactly, whatever the image's ENTRYPOINT/CMD
            command=argv[1:],
            name=name,
            hostname="sandbox",
            user=f"{SANDBOX_UID}:{SANDBOX_GID}",
            working_dir=workdir,
            environment=env,
            labels=self.labels,
            host_config=host_config,
            use_config_proxy=False,
        )
        return created["Id"]

    def _put(self, keeper: str, plan: _MountPlan) -> None:
        import docker

        try:
            self.api.put_archive(keeper, plan.keeper_path, plan.tar)
        except docker.errors.APIError as exc:
            if "no space left" in str(exc).lower():
                raise SandboxError(f"{plan.mount.source} does not fit the mount {plan.mount.target} "
                                   f"({plan.size_mb} MiB)", "raise the mount's size_mb") from exc
            raise
        finally:
            plan.tar.close()
            plan.tar = None

    def _wait(self, container: str, deadline: float) -> bool:
        """Wait for the command to end; kill it at the deadline. True when it was killed."""
        import docker
        import requests

        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                self.api.wait(container, timeout=remaining)
                return False
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                if time.monotonic() < deadline - 0.5:
                    raise  # the engine went away, not our timeout
        try:
            self.api.kill(container)
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: it ended on its own just now
                raise
            return False
        self.api.wait(container, timeout=60)
        return True

    def _tail(self, container: str, *, stdout: bool) -> tuple[str, bool]:
        """The last STREAM_TAIL_BYTES of one stream, decoded; and whether it was cut."""
        tail = StreamTail()
        for chunk in self.api.logs(container, stdout=stdout, stderr=not stdout, stream=True, follow=False):
            tail.add(chunk)
        return tail.text(), tail.cut

    def _collect(self, keeper: str | None, plan: _MountPlan) -> dict[str, object]:
        assert keeper is not None and plan.mount.collect_to is not None
        chunks, _ = self.api.get_archive(keeper, plan.keeper_path)
        max_bytes = plan.size_mb * MiB
        reader = _ChunkReader(chunks, limit=max_bytes + COLLECT_MAX_ENTRIES * 2048 + MiB)
        try:
            return extract_safely(reader, Path(plan.mount.collect_to), root=f"m{plan.index}", max_bytes=max_bytes)
        finally:
            reader.close()


def _docker_mount(target: str, volume: str, *, read_only: bool) -> Any:
    from docker.types import Mount as DockerMount

    return DockerMount(target, volume, type="volume", read_only=read_only, no_copy=True)


class _CompanionExec:
    """The spec's companion, run with ``docker exec`` as the companion user once the command runs.

    A thread follows its demultiplexed output (tails only); the stream ends when the process ends,
    or when the command's container stops, which kills every process in it: exit code 137, reported
    as ``None`` (still running when the command ended).
    """

    def __init__(self, api: Any, container: str, spec: RunSpec) -> None:
        import docker

        assert spec.companion is not None
        self.api = api
        self.exec_id: str | None = None
        self.streams = (StreamTail(), StreamTail())
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        try:
            self.exec_id = api.exec_create(
                container, list(spec.companion.argv), stdout=True, stderr=True, stdin=False, tty=False,
                environment={**DEFAULT_ENV, "USER": "grader", "LOGNAME": "grader", **spec.companion.env},
                workdir="/", user=f"{COMPANION_UID}:{COMPANION_GID}")["Id"]
            output = api.exec_start(self.exec_id, stream=True, demux=True)
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: the command already ended, so the companion is moot
                raise
            self.error = f"the command ended before the companion could start ({exc.explanation})"
            return
        self._thread = threading.Thread(target=self._follow, args=(output,), name="companion", daemon=True)
        self._thread.start()

    def _follow(self, output: Iterable[tuple[bytes | None, bytes | None]]) -> None:
        try:
            for out, err in output:
                if out:
                    self.streams[0].add(out)
                if err:
                    self.streams[1].add(err)
        except Exception as exc:  # noqa: BLE001 - the stream breaks when the container goes away
            self.error = f"{type(exc).__name__}: {exc}"

    def result(self) -> CompanionResult:
        """Call once the command's container has stopped."""
        if self._thread is not None:
            self._thread.join(timeout=30)
        code: int | None = None
        if self.exec_id is not None:
            code = self.api.exec_inspect(self.exec_id).get("ExitCode")
        stderr = self.streams[1].text()
        if self.error:
            stderr = (stderr + f"\n[grader] {self.error}").lstrip("\n")
        return CompanionResult(exit_code=None if code in (None, 137) else code, stdout=self.streams[0].text(),
                               stderr=stderr)


class _StatsFollower:
    """Follows the engine's stats stream (one sample a second) in a daemon thread.

    Records the peak memory (cgroup v1 ``max_usage``, else the largest ``usage`` seen) and
    whether the process count reached the pids limit. The stream ends when the container is
    removed; the thread never blocks the run.
    """

    def __init__(self, api: Any, container: str, pids_limit: int) -> None:
        self.api, self.container, self.pids_limit = api, container, pids_limit
        self.peak_bytes: int | None = None
        self.pids_peak: int | None = None
        self.pids_exhausted = False
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name=f"stats-{container[:12]}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    @property
    def peak_mb(self) -> float | None:
        return None if self.peak_bytes is None else round(self.peak_bytes / MiB, 1)

    def _follow(self) -> None:
        try:
            for sample in self.api.stats(self.container, stream=True, decode=True):
                if self._stop.is_set():
                    return
                pids = sample.get("pids_stats") or {}
                memory = sample.get("memory_stats") or {}
                if not pids and not memory:  # the container stopped
                    return
                used = memory.get("max_usage") or memory.get("usage")
                if used is not None:
                    self.peak_bytes = max(self.peak_bytes or 0, int(used))
                current = pids.get("current")
                if current is not None:
                    self.pids_peak = max(self.pids_peak or 0, int(current))
                    if int(current) >= int(pids.get("limit") or self.pids_limit):
                        self.pids_exhausted = True
        except Exception as exc:  # noqa: BLE001 - stats are a bonus; the run's outcome does not need them
            if not self._stop.is_set():
                self.error = f"{type(exc).__name__}: {exc}"


# -- collecting outputs safely ---------------------------------------------------------------------

class _ChunkReader(io.RawIOBase):
    """A file over an iterator of byte chunks that refuses to read past ``limit`` bytes."""

    def __init__(self, chunks: Iterable[bytes], limit: int) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""
        self.limit = limit
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        if self.read_bytes + n > self.limit:
            raise _TooBig(f"archive larger than {self.limit} bytes")
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self.read_bytes += n
        return n

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        super().close()


class _TooBig(Exception):
    pass


def extract_safely(fileobj: Any, dest: Path, *, root: str, max_bytes: int,
                   max_entries: int = COLLECT_MAX_ENTRIES) -> dict[str, object]:
    """Extract a tar stream whose entries live under ``root/`` into the new folder ``dest``.

    Only regular files and folders are created (modes 0644/0755, never links, devices or set-id
    bits; a hard link to a file extracted earlier becomes a copy); names that are absolute,
    contain ``..`` or leave ``root/`` are skipped; extraction stops after ``max_bytes`` of file
    content or ``max_entries`` entries. Returns counts, the skipped names (at most 20) and
    whether it stopped early.
    """
    dest.mkdir(parents=True, exist_ok=False)
    base = dest.resolve()
    files = dirs = 0
    total = 0
    skipped: list[str] = []
    n_skipped = 0
    created: dict[str, Path] = {}  # regular files extracted, by name relative to root
    truncated = False

    def skip(name: str, why: str) -> None:
        nonlocal n_skipped
        n_skipped += 1
        if len(skipped) < 20:
            skipped.append(f"{name} ({why})")

    try:
        with tarfile.open(fileobj=fileobj, mode="r|") as tar:
            for count, member in enumerate(tar):
                if count >= max_entries:
                    truncated = True
                    break
                name = member.name
                if name == root or name == f"{root}/":
                    continue
                if not name.startswith(f"{root}/"):
                    skip(name, "outside the collected folder")
                    continue
                rel = name[len(root) + 1:].rstrip("/")
                parts = PurePosixPath(rel).parts
                if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in rel:
                    skip(name, "unsafe name")
                    continue
                target = base.joinpath(*parts)
                if not target.resolve().is_relative_to(base):
                    skip(name, "leaves the folder")
                    continue
                try:
                    if member.isdir():
                        target.mkdir(mode=0o755, parents=True, exist_ok=True)
                        dirs += 1
                    elif member.isreg():
                        if total + member.size > max_bytes:
                            truncated = True
                            break
                        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                        mode = 0o755 if member.mode & 0o100 else 0o644
                        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
                        with os.fdopen(fd, "wb") as out:
                            src = tar.extractfile(member)
                            assert src is not None
                            while block := src.read(1024 * 1024):
                                out.write(block)
                        total += member.size
                        files += 1
                        created[rel] = target
                    elif member.islnk() and member.linkname.startswith(f"{root}/") \
                            and member.linkname[len(root) + 1:] in created:
                        # A hard link to a file extracted above: a copy (links are never created).
                        source = created[member.linkname[len(root) + 1:]]
                        size = source.stat().st_size
                        if total + size > max_bytes:
                            truncated = True
                            break
                        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                                     source.stat().st_mode & 0o755)
                        with os.fdopen(fd, "wb") as out, source.open("rb") as src_file:
                            while block := src_file.read(1024 * 1024):
                                out.write(block)
                        total += size
                        files += 1
                    else:
                        skip(name, "not a regular file or folder")
                except OSError as exc:
                    skip(name, exc.strerror or str(exc))
    except (_TooBig, tarfile.TarError) as exc:
        truncated = True
        skip("<archive>", str(exc))
    return {"files": files, "dirs": dirs, "bytes": total, "skipped": skipped, "n_skipped": n_skipped,
            "truncated": truncated}


# -- signals ---------------------------------------------------------------------------------------

_RAISING_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)


def _signal_exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else SandboxTerminated(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """While a run is in progress, SIGTERM/SIGHUP raise :class:`SandboxTerminated` (main thread)."""
    def handler(signum: int, frame: object) -> None:
        raise SandboxTerminated(signum)

    with _handlers(_RAISING_SIGNALS, handler):
        yield


@contextlib.contextmanager
def _signals_deferred() -> Iterator[list[int]]:
    """Hold SIGINT/SIGTERM/SIGHUP back while cleaning up; a second one of a kind aborts the cleanup.

    Yields the list of signals that arrived; the caller decides whether to raise for them.
    """
    pending: list[int] = []

    def handler(signum: int, frame: object) -> None:
        pending.append(signum)
        if pending.count(signum) >= 2:
            raise _signal_exception(signum)

    with _handlers((signal.SIGINT, *_RAISING_SIGNALS), handler):
        yield pending


@contextlib.contextmanager
def _handlers(signums: Iterable[int], handler: Any) -> Iterator[None]:
    """Install ``handler`` for ``signums`` (main thread only; ignored signals stay ignored), then restore."""
    previous: dict[int, Any] = {}
    if _in_main_thread():
        for signum in signums:
            current = signal.getsignal(signum)
            if current is signal.SIG_IGN:
                continue
            previous[signum] = current
            signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, current in previous.items():
            signal.signal(signum, current if current is not None else signal.SIG_DFL)


# -- small helpers ---------------------------------------------------------------------------------

def _requests_errors() -> type[Exception]:
    import requests

    return requests.exceptions.RequestException


def _is_engine_error(exc: BaseException) -> bool:
    import docker

    return isinstance(exc, (docker.errors.DockerException, _requests_errors()))


def _safe_name(label: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_.-]+", "-", label).strip("-.")[:40]
    return name or "run"


_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _parse_time(value: str | None) -> datetime | None:
    match = _TIMESTAMP.match(value or "")
    if not match or match.group(1).startswith("0001"):
        return None
    fraction = (match.group(2) or ".0")[:7].ljust(7, "0")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(match.group(1) + fraction + zone)


def _duration(state: dict[str, Any], fallback: float) -> float:
    """Seconds the command ran, from the engine's start/finish times (the API's overhead excluded)."""
    started, finished = _parse_time(state.get("StartedAt")), _parse_time(state.get("FinishedAt"))
    if started is None or finished is None or finished < started:
        return round(fallback, 3)
    return round((finished - started).total_seconds(), 3)


__all__ = ["DockerSandbox", "SandboxTerminated", "connect", "default_image", "extract_safely", "HARDENING"]

