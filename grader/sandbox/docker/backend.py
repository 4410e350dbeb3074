"""The docker backend: each run in a fresh, hardened container on a Docker engine.

Design (every point verified on Docker 20.10, cgroup v1, overlay2):

* Nothing is ever bind-mounted from the host, so the grader works the same when it runs in a
  container that talks to the host's Docker socket. Files move as tar streams
  (:mod:`~grader.sandbox.docker.archive`); mounts with content to load or collect are tmpfs
  volumes held open by a small keeper container (:mod:`~grader.sandbox.docker.mounts`).
* The command runs in ONE fresh container made by :func:`grader.sandbox.docker.hardening.create`
  (the options of :data:`~grader.sandbox.docker.hardening.HARDENING`), under a hard wall-clock
  timeout (SIGKILL). Every container also stops by itself a little after its deadline, with the
  grader alive or not. OOM comes from ``State.OOMKilled``; :mod:`~grader.sandbox.docker.monitor`
  follows the engine's stats for peak memory and the process count, and stops a run held at its
  pids limit; a run that failed with fork/thread EAGAIN messages on stderr also counts as
  ``pids_exhausted`` (a fork bomb that fails and exits within the second between samples).
* Every container and volume is labelled with its session and the session's owner process, and
  removed by label in ``finally`` on every exit path (:mod:`~grader.sandbox.docker.cleanup`, which
  also prunes this process's sessions at exit and dead sessions' leftovers at the first run).
  Signals during a run interrupt it; during cleanup they are deferred
  (:mod:`~grader.sandbox.docker.signals`).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.errors import SandboxError
from grader.sandbox.base import (
    COMPANION_GID,
    COMPANION_UID,
    IMAGE_BUILD,
    BuildResult,
    CompanionResult,
    Limits,
    RunResult,
    RunSpec,
    Sandbox,
    StreamTail,
    backends,
    fork_failed,
)
from grader.sandbox.docker import cleanup, hardening
from grader.sandbox.docker.archive import COLLECT_MAX_ENTRIES, ChunkReader, add_tree, extract_safely
from grader.sandbox.docker.client import ENGINE_HINT, IMAGE_HINT, connect, engine_error, is_engine_error
from grader.sandbox.docker.hardening import HARDENING, KEEPER_RESOURCES, SELF_STOP_GRACE_S, Resources
from grader.sandbox.docker.monitor import StatsFollower, duration
from grader.sandbox.docker.mounts import (
    KEEPER_TMPFS,
    MountPlan,
    command_tmpfs,
    docker_mount,
    ownership,
    plan_mounts,
    volume_options,
)
from grader.sandbox.docker.signals import SandboxTerminated, signal_exception, signals_deferred, signals_raise

if TYPE_CHECKING:
    import docker

MiB = 1024 * 1024
#: Environment every command gets unless the spec sets it: HOME must be writable for the many
#: libraries that keep a cache there (the sandbox uid has no passwd entry and / is read-only).
DEFAULT_ENV = {"HOME": "/tmp", "USER": "sandbox", "LOGNAME": "sandbox"}
FALLBACK_IMAGE = "grader-runtime:latest"
#: The keeper's budgets outside the command's own time: loading the sources before it, collecting
#: the outputs after it (a fixed part, and one second per TRANSFER_MB_S megabytes moved).
LOAD_BUDGET_S = 60.0
COLLECT_BUDGET_S = 60.0
TRANSFER_MB_S = 10.0


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


@backends.register("docker")
class DockerSandbox(Sandbox):
    """Runs each :class:`RunSpec` in a fresh hardened container; see the module docstring."""

    name = "docker"
    isolates = True
    capabilities = frozenset({IMAGE_BUILD})

    def __init__(self, image: str | None = None, client: docker.DockerClient | None = None) -> None:
        self.image = image or default_image()
        self._client = client
        self._owns_client = client is None
        #: Labels everything this instance creates; pruned at exit and on close().
        self.session = uuid.uuid4().hex
        self._keeper_network: str | None = None

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
        except Exception as exc:
            if is_engine_error(exc):
                raise engine_error(exc, f"inspect the sandbox image {self.image!r}") from exc
            raise

    def describe(self) -> dict[str, object]:
        try:
            version = self.client.version()
            info = self.client.info()
        except Exception as exc:
            if is_engine_error(exc):
                raise engine_error(exc) from exc
            raise
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

    @classmethod
    def prune(cls, *, all: bool = False) -> list[str]:
        client = connect()
        try:
            return cleanup.prune(client, all=all)
        except Exception as exc:
            if is_engine_error(exc):
                raise engine_error(exc, "prune the grader's containers on the Docker engine") from exc
            raise
        finally:
            client.close()

    def keeper_network(self) -> str:
        """The network mode of run keepers: ``none``, or the engine's default when it has no bridge.

        A container on ``none`` starts about 0.2 s slower than one on the default network (measured
        on Docker 20.10), and every run starts a keeper whose namespace the command then joins. On
        an engine without a ``bridge`` network (``dockerd --bridge=none``) the default gives the
        keeper a namespace with only lo as well; :meth:`_Run.check_keeper_network` verifies that on
        each started keeper before any candidate code runs.
        """
        if self._keeper_network is None:
            names = {net.get("Name") for net in self.client.api.networks()}
            self._keeper_network = "none" if "bridge" in names else "default"
        return self._keeper_network

    # -- one run ---------------------------------------------------------------------------------

    def run(self, spec: RunSpec) -> RunResult:
        plans = plan_mounts(spec)
        image_id = self._image_id()
        client = self.client
        cleanup.prune_dead_in_background()
        run_id = uuid.uuid4().hex
        name = f"grader-{_safe_name(spec.label)}-{run_id[:12]}"
        labels = {**cleanup.session_labels(self.session), cleanup.RUN_LABEL: run_id, cleanup.PHASE_LABEL: spec.label}
        cleanup.watch_session(client, self.session)
        network = self.keeper_network() if any(p.volume for p in plans) else "none"
        with signals_raise(), contextlib.ExitStack() as temps:
            try:
                result = _Run(client, spec, plans, image_id, name, labels, temps, network).execute()
            except BaseException as exc:
                with signals_deferred():  # a signal now is the same interruption: drop it
                    try:
                        cleanup.prune(client, self.session, run=run_id)
                    except Exception as cleanup_exc:  # noqa: BLE001 - do not mask the first error
                        exc.add_note(f"cleanup of run {name} failed too ({cleanup_exc}); "
                                     "run `grader sandbox prune`")
                if isinstance(exc, SandboxError) or not is_engine_error(exc):
                    raise
                raise SandboxError(f"the Docker engine failed during run {name}: {exc}", ENGINE_HINT) from exc
            with signals_deferred() as pending:
                try:
                    cleanup.prune(client, self.session, run=run_id)
                except Exception as exc:  # noqa: BLE001
                    raise SandboxError(f"could not remove the containers/volumes of run {name}: {exc}",
                                       "run `grader sandbox prune`") from exc
            if pending:
                raise signal_exception(pending[0])
        return result

    # -- Dockerfile builds -----------------------------------------------------------------------

    def build_image(self, context_dir: Path, dockerfile: Path, limits: Limits) -> BuildResult:
        """Build offline on this sandbox's image, each step hardened like a run (:mod:`.build`)."""
        from grader.sandbox.docker.build import Builder
        from grader.sandbox.dockerfile import parse

        steps = parse(dockerfile.read_text(encoding="utf-8", errors="replace"))
        image_id = self._image_id()
        cleanup.prune_dead_in_background()
        builder = Builder(self.client, image_id, context_dir, limits)
        cleanup.watch_session(self.client, builder.session)
        try:
            return builder.build(steps)
        except Exception as exc:
            if isinstance(exc, SandboxError) or not is_engine_error(exc):
                raise
            raise engine_error(exc, "build the Dockerfile on the Docker engine") from exc
        finally:
            cleanup.forget_session(builder.session)


class _Run:
    """One run's steps; the caller removes everything labelled with the run's id afterwards."""

    def __init__(self, client: docker.DockerClient, spec: RunSpec, plans: list[MountPlan], image_id: str,
                 name: str, labels: dict[str, str], temps: contextlib.ExitStack, keeper_network: str = "none") -> None:
        self.client, self.api, self.spec, self.plans = client, client.api, spec, plans
        self.image_id, self.name, self.labels, self.temps = image_id, name, labels, temps
        self.keeper_network = keeper_network
        self.stage = "preparing"

    def execute(self) -> RunResult:
        limits = self.spec.limits
        volumes = [p for p in self.plans if p.volume]
        self.stage = "packing mount sources"
        # All sources travel in one tar to the keeper's root (one transfer: the engine handles a
        # container's archive requests one at a time, at about 0.1 s each).
        bundle: Any = None
        loaded = 0
        for plan in volumes:
            plan.size_mb = plan.mount.size_mb
            if plan.mount.source is None:
                continue
            if bundle is None:
                bundle = self.temps.enter_context(tempfile.TemporaryFile(prefix="grader-mounts-", suffix=".tar"))
                tar = self.temps.enter_context(tarfile.open(fileobj=bundle, mode="w", format=tarfile.PAX_FORMAT))
            used = add_tree(tar, Path(plan.mount.source), ownership(plan.mount), plan.keeper_path)
            loaded += used
            if not plan.mount.writable:  # read-only: exactly what is needed (+ slack)
                plan.size_mb = math.ceil(used / MiB) + 1
            elif used > plan.mount.size_mb * MiB:
                raise SandboxError(
                    f"the content of {plan.mount.source} ({used / MiB:.1f} MiB) does not fit the writable "
                    f"mount {plan.mount.target} (size_mb={plan.mount.size_mb})",
                    "raise the mount's size_mb (the task's limits) or make the source smaller")
        if bundle is not None:
            tar.close()
            bundle.seek(0)
        # How long each container may be needed; past that it stops by itself (grader alive or not).
        command_s = limits.timeout_s + SELF_STOP_GRACE_S
        load_s = LOAD_BUDGET_S + loaded / MiB / TRANSFER_MB_S
        collect_s = COLLECT_BUDGET_S + sum(p.size_mb for p in volumes if p.mount.collect_to) / TRANSFER_MB_S
        keeper_s = load_s + command_s + SELF_STOP_GRACE_S + collect_s
        self.labels = {**self.labels, cleanup.DEADLINE_LABEL: str(math.ceil(time.time() + keeper_s))}
        keeper = None
        if volumes:
            self.stage = "creating volumes"
            for plan in volumes:
                self._create_volume(plan)
            self.stage = "starting the keeper container"
            keeper = hardening.create(
                self.api, self.image_id, hardening.keeper_argv(load_s, command_s + SELF_STOP_GRACE_S, collect_s),
                res=KEEPER_RESOURCES, stop_after_s=None, labels=self.labels, name=f"{self.name}-keeper",
                mounts=[docker_mount(p.keeper_path, self._volume_name(p), read_only=False) for p in volumes],
                tmpfs=KEEPER_TMPFS, network=self.keeper_network,
                read_only=False)  # only the grader's shell runs in it; a writable root takes one tar at /
            self.api.start(keeper)
            self.check_keeper_network(keeper)
        self.stage = "creating the command container"
        container = hardening.create(
            self.api, self.image_id, list(self.spec.argv), res=Resources.of(limits), stop_after_s=command_s,
            labels=self.labels, name=self.name, workdir=self.spec.workdir, env={**DEFAULT_ENV, **self.spec.env},
            mounts=[docker_mount(p.mount.target, self._volume_name(p), read_only=not p.mount.writable)
                    for p in volumes],
            tmpfs=command_tmpfs(self.spec, self.plans),
            network="none" if keeper is None else f"container:{keeper}")  # lo only, as the keeper's
        if keeper is not None and bundle is not None:
            loads = [p for p in volumes if p.mount.source is not None]
            self.stage = "loading " + ", ".join(f"{p.mount.source} into {p.mount.target}" for p in loads)
            self._put(keeper, bundle, loads)
        self.stage = "running the command"
        stats = StatsFollower(self.api, container, limits.pids, stop=lambda: self._kill(container))
        self.api.start(container)
        started = time.monotonic()  # the command's budget starts once it runs, not while the engine sets up
        if keeper is not None:
            self._signal_keeper(keeper, "SIGUSR1")  # the keeper's budget is now the command's
        stats.start()
        companion = _CompanionExec(self.api, container, self.spec) if self.spec.companion else None
        timed_out = self._wait(container, started + limits.timeout_s)
        elapsed = time.monotonic() - started
        stats.stop()
        if keeper is not None:
            self._signal_keeper(keeper, "SIGUSR2")  # and now the collection's
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
        ran_s = duration(state, elapsed)
        if not (timed_out or oom or stats.stopped) and state.get("ExitCode") == 137 and ran_s >= limits.timeout_s:
            timed_out = True  # the in-container watchdog was first (a stalled grader): the same timeout
            details["stopped_by"] = "watchdog"
        exit_code = None if timed_out or stats.stopped else state.get("ExitCode")
        # The engine samples stats once a second, which misses a fork bomb that fails and exits at
        # once; fork/thread failures (EAGAIN) on the stderr of a failed run catch those.
        pids_exhausted = stats.pids_exhausted
        if stats.stopped:
            details["stopped_by"] = "pids limit"
        if pids_exhausted:
            details["pids_exhausted_from"] = "stats"
        elif exit_code != 0 and not oom and fork_failed(stderr):
            pids_exhausted = True
            details["pids_exhausted_from"] = "stderr"
        return RunResult(
            companion=companion.result() if companion else None,
            exit_code=exit_code,
            duration_s=ran_s,
            stdout=stdout,
            stderr=stderr,
            timed_out=timed_out,
            oom_killed=oom,
            pids_exhausted=pids_exhausted,
            peak_memory_mb=stats.peak_mb if not oom else max(stats.peak_mb or 0.0, float(limits.memory_mb)),
            details=details,
        )

    # -- engine objects --------------------------------------------------------------------------

    def _volume_name(self, plan: MountPlan) -> str:
        return f"{self.name}-m{plan.index}"

    def _create_volume(self, plan: MountPlan) -> None:
        self.api.create_volume(self._volume_name(plan), driver="local", driver_opts=volume_options(plan),
                               labels={**self.labels, "grader.mount": plan.mount.target})

    def _put(self, keeper: str, bundle: Any, loads: list[MountPlan]) -> None:
        import docker

        try:
            self.api.put_archive(keeper, "/", bundle)
        except docker.errors.APIError as exc:
            if "no space left" in str(exc).lower():
                sizes = ", ".join(f"{p.mount.source} into {p.mount.target} ({p.size_mb} MiB)" for p in loads)
                raise SandboxError(f"the sources do not fit their mounts: {sizes}",
                                   "raise the mount's size_mb") from exc
            raise
        finally:
            bundle.close()

    def check_keeper_network(self, keeper: str) -> None:
        """Refuse a keeper on the default network that got an interface (the engine gained a bridge)."""
        if self.keeper_network == "none":
            return
        networks = self.api.inspect_container(keeper)["NetworkSettings"].get("Networks") or {}
        attached = [name for name, net in networks.items()
                    if net.get("EndpointID") or net.get("IPAddress") or net.get("GlobalIPv6Address")]
        if attached:
            raise SandboxError(f"the keeper of run {self.name} was attached to the network {attached[0]!r}, so the "
                               "run would not be offline; it was stopped before any candidate code ran",
                               "retry: the next run uses network_mode=none (the engine has a bridge network now)")

    def _signal_keeper(self, keeper: str, signal: str) -> None:
        """Move the keeper to its next phase's budget (see :func:`hardening.keeper_argv`)."""
        import docker

        try:
            self.api.kill(keeper, signal=signal)
        except docker.errors.APIError as exc:
            if exc.status_code != 409:
                raise
            raise SandboxError(f"the keeper of run {self.name} stopped before the run was over (a phase took longer "
                               "than its budget)", "retry; if it happens again, the engine is overloaded") from exc

    def _kill(self, container: str) -> None:
        """Kill the command's container; one that already ended is fine."""
        import docker

        try:
            self.api.kill(container)
        except docker.errors.APIError as exc:
            if exc.status_code not in (404, 409):
                raise

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

    def _collect(self, keeper: str | None, plan: MountPlan) -> dict[str, object]:
        assert keeper is not None and plan.mount.collect_to is not None
        chunks, _ = self.api.get_archive(keeper, plan.keeper_path)
        max_bytes = plan.size_mb * MiB
        reader = ChunkReader(chunks, limit=max_bytes + COLLECT_MAX_ENTRIES * 2048 + MiB)
        try:
            return extract_safely(reader, Path(plan.mount.collect_to), root=f"m{plan.index}", max_bytes=max_bytes)
        finally:
            reader.close()


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


def _safe_name(label: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_.-]+", "-", label).strip("-.")[:40]
    return name or "run"


__all__ = ["DockerSandbox", "SandboxTerminated", "default_image", "extract_safely", "HARDENING"]
