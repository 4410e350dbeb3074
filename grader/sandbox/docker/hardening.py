"""The one definition of how the grader starts a container: hardened, limited, and stopping by itself.

Every container the grader creates (a run's command, its keeper, each step of a Dockerfile build)
is made by :func:`create`, so the options below cannot drift between them. :data:`HARDENING` says
the same in words, for ``describe()`` and ``grader sandbox doctor``.

Stopping by itself: a shell starts a watchdog in the background (``sleep`` to ``stop_after_s``, then
SIGKILL to every process it may signal in the container) and then *execs* the command, so the command
itself is the only child of ``docker-init`` (PID 1): when it ends, the container ends, even if the
command stopped its watchdog (same user: it can), and when the watchdog fires, the container ends
with it; the kernel then kills whatever is left in its pid namespace, and the companion (a
``docker exec``) goes with it. The keeper, which must receive signals, is a countdown of its own
instead: :func:`keeper_argv`.
This holds whether the grader is alive or was SIGKILLed: nothing outside the container is needed.
What stays behind is a stopped container and its volumes, which ``prune`` removes once their
session's owner is dead (:mod:`grader.sandbox.docker.cleanup`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from grader.sandbox.base import COMPANION_GID, COMPANION_UID, SANDBOX_GID, SANDBOX_UID, Limits

MiB = 1024 * 1024
#: The engine keeps at most this much of a container's log (two files of half that each); a
#: line costs about 70 bytes of JSON on top of its text, so this keeps the last
#: STREAM_TAIL_BYTES of each stream unless output was tiny lines or one stream drowned the other.
LOG_MAX_FILE_SIZE = "8m"
LOG_MAX_FILES = "2"
#: The watchdog's shell: an absolute path, so neither the spec's PATH nor the workdir can swap it.
WATCHDOG_SHELL = "/bin/sh"
#: Sleep to the deadline, then SIGKILL everything of this user in the container (``kill -1`` spares
#: only PID 1 and the caller); ``exec`` makes the command the shell's successor, docker-init's child.
WATCHDOG_SCRIPT = '(sleep "$1"; kill -KILL -1) </dev/null >/dev/null 2>&1 & shift; exec "$@"'
#: Seconds past its deadline a container may run before its watchdog kills it. The grader, when
#: alive, stops the command at its timeout itself; this is the margin it has to do so first.
SELF_STOP_GRACE_S = 5.0
#: oom_score_adj of sandbox containers: the kernel picks them before the grader and the engine.
OOM_SCORE_ADJ = 500


@dataclass(frozen=True)
class Resources:
    """The cgroup and rlimit caps of one container."""

    memory_mb: int
    cpus: float
    pids: int
    file_size_mb: int
    open_files: int

    @classmethod
    def of(cls, limits: Limits) -> Resources:
        return cls(limits.memory_mb, limits.cpus, limits.pids, limits.file_size_mb, limits.open_files)


#: The keeper only holds volumes open: a shell loop and a sleep.
KEEPER_RESOURCES = Resources(memory_mb=32, cpus=0.1, pids=8, file_size_mb=1, open_files=64)

#: What :func:`create` applies, in words.
HARDENING = [
    "network_mode=none (no interface but lo); a run with mounts shares its keeper's namespace, lo only as well",
    f"user={SANDBOX_UID}:{SANDBOX_GID} (not root)",
    "cap_drop=ALL",
    "security_opt=no-new-privileges",
    "read_only root filesystem (but the keeper's: only the grader's countdown runs there)",
    "/tmp: tmpfs capped at limits.tmp_mb (nosuid,nodev)",
    "mounts: size-capped tmpfs (nosuid,nodev); read-only mounts are read-only and root-owned",
    "no host path is ever bind-mounted (files move as tar streams)",
    "mem_limit=limits.memory_mb, memswap_limit=mem_limit (no swap)",
    "nano_cpus=limits.cpus",
    "pids_limit=limits.pids (the watchdog process counts toward it); a run held at the limit is stopped",
    "ulimits: fsize=limits.file_size_mb, nofile=limits.open_files, core=0",
    f"ipc_mode=private, oom_score_adj={OOM_SCORE_ADJ}",
    "init=True (docker-init as PID 1: signals and zombies)",
    f"log_config=json-file max-size={LOG_MAX_FILE_SIZE} max-file={LOG_MAX_FILES}",
    "hard wall-clock timeout: SIGKILL, then every container and volume of the run is removed",
    f"stops by itself: a watchdog SIGKILLs every process at the deadline + {SELF_STOP_GRACE_S:g} s inside every "
    "container, "
    "and the keeper sleeps only through its run's phases, whether the grader is alive or not",
    "labelled with its session's owner (host, pid, process start time): prune removes only dead sessions'",
    f"companion (grader-owned, e.g. the latency timer): `docker exec` as {COMPANION_UID}:{COMPANION_GID}, "
    "out of reach of the command's user; companion-only mounts are 0700 and owned by it",
    "Dockerfile builds: each step in a container with these same options (root filesystem writable, "
    "the Dockerfile's USER), then committed",
]


def self_stopping(argv: list[str], stop_after_s: float) -> list[str]:
    """``argv`` with its watchdog: SIGKILL to the container's processes ``stop_after_s`` after it starts."""
    return [WATCHDOG_SHELL, "-c", WATCHDOG_SCRIPT, "watchdog", str(max(1, math.ceil(stop_after_s))), *argv]


def keeper_argv(load_s: float, run_s: float, collect_s: float) -> list[str]:
    """A keeper that lives only as long as its run can need it, each phase with a budget of its own.

    It counts down ``load_s`` (sources being loaded); SIGUSR1 (the command started) resets the
    count to ``run_s``, SIGUSR2 (the command ended) to ``collect_s``; at zero it exits. The grader
    sends the signals as the run goes; a dead grader sends none, so the keeper ends at most one
    budget after the last phase that started. Any other signal ends it at once (sh's default).
    """
    script = ('left=$1; trap \'left=$2\' USR1; trap \'left=$3\' USR2; '
              'while [ "$left" -gt 0 ]; do sleep 1 & wait $!; left=$((left - 1)); done')
    return ["/bin/sh", "-c", script, "keeper", *(str(max(1, math.ceil(s))) for s in (load_s, run_s, collect_s))]


def host_config(api: Any, res: Resources, *, tmpfs: dict[str, str] | None = None, mounts: list[Any] | None = None,
                read_only: bool = True, network: str = "none") -> dict[str, Any]:
    """The host config of every grader container (``read_only=False`` only for Dockerfile build steps).

    ``network`` is ``none`` except where the caller has made sure another mode has no interface but
    lo either (a run's command joins its keeper's namespace: :mod:`grader.sandbox.docker.backend`).
    """
    from docker.types import LogConfig, Ulimit

    return api.create_host_config(
        network_mode=network,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        read_only=read_only,
        tmpfs=tmpfs or {},
        mounts=mounts or [],
        mem_limit=f"{res.memory_mb}m",
        memswap_limit=f"{res.memory_mb}m",
        nano_cpus=max(int(res.cpus * 1e9), 10_000_000),
        pids_limit=res.pids,
        ulimits=[
            Ulimit(name="fsize", soft=res.file_size_mb * MiB, hard=res.file_size_mb * MiB),
            Ulimit(name="nofile", soft=res.open_files, hard=res.open_files),
            Ulimit(name="core", soft=0, hard=0),
        ],
        log_config=LogConfig(type="json-file", config={"max-size": LOG_MAX_FILE_SIZE, "max-file": LOG_MAX_FILES}),
        init=True,
        ipc_mode="private",
        oom_score_adj=OOM_SCORE_ADJ,
    )


def create(api: Any, image: str, argv: list[str], *, res: Resources, stop_after_s: float | None,
           labels: dict[str, str], name: str | None = None, user: str = f"{SANDBOX_UID}:{SANDBOX_GID}",
           workdir: str = "/", env: dict[str, str] | None = None, tmpfs: dict[str, str] | None = None,
           mounts: list[Any] | None = None, read_only: bool = True, network: str = "none") -> str:
    """Create (not start) a hardened container running ``argv`` exactly, stopping by itself; its id.

    ``stop_after_s`` arms the watchdog; ``None`` is only for an ``argv`` that ends by itself and must
    receive signals itself (the keeper of :func:`keeper_argv`: the watchdog would die of them).
    """
    wrapped = argv if stop_after_s is None else self_stopping(argv, stop_after_s)
    created = api.create_container(
        image,
        entrypoint=wrapped[:1],  # argv exactly, whatever the image's ENTRYPOINT/CMD
        command=wrapped[1:],
        name=name,
        hostname=None if network.startswith("container:") else "sandbox",  # else it is that container's
        user=user,
        working_dir=workdir,
        environment=env or {},
        labels=labels,
        host_config=host_config(api, res, tmpfs=tmpfs, mounts=mounts, read_only=read_only, network=network),
        use_config_proxy=False,
    )
    return str(created["Id"])


__all__ = ["HARDENING", "KEEPER_RESOURCES", "SELF_STOP_GRACE_S", "Resources", "create", "host_config",
           "keeper_argv", "self_stopping"]
