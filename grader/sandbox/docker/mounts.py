"""How a :class:`~grader.sandbox.base.Mount` becomes storage in a container.

A mount with content to load (``source``) or to collect (``collect_to``) is a named volume of the
``local`` driver backed by a size-capped ``tmpfs``. A tmpfs volume is mounted only while a container
uses it (content loaded into a created-but-stopped container is lost), and the engine refuses
``put_archive`` into a read-only volume. So a small "keeper" container mounts all those volumes
read-write at ``KEEPER_ROOT/m<index>`` for the whole run: the sources are loaded through it, in one
tar extracted at its root (which is writable: only the grader's countdown runs there), before the
command starts (owned by root and not writable for read-only mounts), and outputs are read back
through it after the command ended. A mount with nothing to load or collect is a plain tmpfs of the
command container (no volume, no keeper).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader.sandbox.base import (
    COMPANION_GID,
    COMPANION_UID,
    FORBIDDEN_TARGETS,
    SANDBOX_GID,
    SANDBOX_UID,
    Mount,
    RunSpec,
    check_spec,
)
from grader.sandbox.docker.archive import Ownership

#: Where the keeper mounts the volumes (``<root>/m<index>``).
KEEPER_ROOT = "/grader-keeper"
#: The keeper's own /tmp: the shell needs none, but a read-only root wants somewhere to point TMPDIR.
KEEPER_TMPFS = {"/tmp": "rw,nosuid,nodev,noexec,size=1m,mode=1777"}


@dataclass
class MountPlan:
    index: int
    mount: Mount
    #: Backed by a volume (content to load or collect) rather than a plain tmpfs.
    volume: bool
    size_mb: int = 0

    @property
    def keeper_path(self) -> str:
        return f"{KEEPER_ROOT}/m{self.index}"


def plan_mounts(spec: RunSpec) -> list[MountPlan]:
    """Check the spec (:class:`SandboxError` for a malformed one) and plan the mounts."""
    check_spec(spec, (*FORBIDDEN_TARGETS, KEEPER_ROOT))
    return [MountPlan(index, mount, volume=mount.source is not None or mount.collect_to is not None)
            for index, mount in enumerate(spec.mounts)]


def ownership(mount: Mount) -> Ownership:
    """Who owns a mount's folder and files, and their modes.

    Read-only: root, 0555/0444. Writable: the sandbox uid, 0755/0644. Companion-only: the
    companion uid, 0500/0400 (read-only) or 0700/0600 (writable), so the command cannot enter.
    """
    if mount.companion_only:
        return Ownership(COMPANION_UID, COMPANION_GID, *((0o700, 0o600) if mount.writable else (0o500, 0o400)))
    if mount.writable:
        return Ownership(SANDBOX_UID, SANDBOX_GID, 0o755, 0o644)
    return Ownership(0, 0, 0o555, 0o444)


def volume_options(plan: MountPlan) -> dict[str, str]:
    """Driver options of a plan's volume: a tmpfs of exactly its size, owned as the sandbox must see it."""
    owner = ownership(plan.mount).tmpfs_options
    return {"type": "tmpfs", "device": "tmpfs", "o": f"size={plan.size_mb}m,{owner},nosuid,nodev"}


def command_tmpfs(spec: RunSpec, plans: list[MountPlan]) -> dict[str, str]:
    """The command container's plain tmpfs mounts: ``/tmp`` (unless a mount is there) and volume-less mounts."""
    tmpfs = {}
    if "/tmp" not in {p.mount.target for p in plans}:
        tmpfs["/tmp"] = f"rw,nosuid,nodev,exec,size={spec.limits.tmp_mb}m,mode=1777"
    for plan in plans:
        if plan.volume:
            continue
        own = ownership(plan.mount).tmpfs_options
        if plan.mount.writable:
            tmpfs[plan.mount.target] = f"rw,nosuid,nodev,exec,size={plan.mount.size_mb}m,{own}"
        else:
            tmpfs[plan.mount.target] = f"ro,nosuid,nodev,size=1m,{own}"
    return tmpfs


def docker_mount(target: str, volume: str, *, read_only: bool) -> Any:
    from docker.types import Mount as DockerMount

    return DockerMount(target, volume, type="volume", read_only=read_only, no_copy=True)


__all__ = ["KEEPER_ROOT", "MountPlan", "command_tmpfs", "docker_mount", "ownership", "plan_mounts",
           "volume_options"]
