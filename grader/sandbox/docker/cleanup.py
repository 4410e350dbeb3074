"""Sessions, their labels, and removing what the docker backend left behind.

Everything the backend creates (containers, volumes, the images of Dockerfile builds) carries
``grader.sandbox=1``, ``grader.session=<uuid of the DockerSandbox or build>`` and the session's
owner: ``grader.host`` (hostname), ``grader.pid`` and ``grader.pid-start`` (the owner process's
start time, so a reused pid is not mistaken for it). A run's resources also carry ``grader.run``,
``grader.phase`` and ``grader.deadline`` (epoch seconds after which nobody can need them).

A run removes its own resources in ``finally`` blocks and an :mod:`atexit` hook prunes this
process's sessions. What survives anyway (the grader was SIGKILLed, the machine crashed) has
already stopped by itself (:mod:`grader.sandbox.docker.hardening`) and is removed by
:func:`prune`: by default only what belongs to DEAD sessions, i.e. whose owner process is gone
from this host (or is another process now), or, for another host's sessions, whose deadline has
long passed. Resources without owner labels (made by an older grader) are removed only by
``all=True``, which removes every grader resource on the engine, as ``grader sandbox prune --all``.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker

SANDBOX_LABEL = "grader.sandbox"
SESSION_LABEL = "grader.session"
RUN_LABEL = "grader.run"
PHASE_LABEL = "grader.phase"
HOST_LABEL = "grader.host"
PID_LABEL = "grader.pid"
PID_START_LABEL = "grader.pid-start"
DEADLINE_LABEL = "grader.deadline"
#: A session of another host is pruned only this long past its deadline (clocks differ a little).
OTHER_HOST_MARGIN_S = 120


# -- owners ------------------------------------------------------------------------------------------

def process_start(pid: int) -> str | None:
    """When ``pid`` started (clock ticks since boot, from ``/proc``), None when there is no such process."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()  # after "pid (comm) ": comm may hold spaces
    return fields[19].decode() if len(fields) > 19 else None  # field 22, starttime


@cache
def _has_proc() -> bool:
    return process_start(os.getpid()) is not None


@cache
def hostname() -> str:
    return socket.gethostname()


def owner_labels() -> dict[str, str]:
    """The labels naming this process as a session's owner."""
    pid = os.getpid()
    return {HOST_LABEL: hostname(), PID_LABEL: str(pid), PID_START_LABEL: process_start(pid) or ""}


def session_labels(session: str) -> dict[str, str]:
    """The labels of everything a session creates."""
    return {SANDBOX_LABEL: "1", SESSION_LABEL: session, **owner_labels()}


def _alive(pid: int, started: str) -> bool:
    if _has_proc():
        now = process_start(pid)
        return now is not None and (not started or now == started)
    try:  # no /proc (not Linux): whether the pid exists, reuse undetected
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_dead(labels: Mapping[str, str], *, now: float | None = None) -> bool:
    """Whether a resource with these labels belongs to a dead session, so that nobody can need it.

    Unknown owners (no owner labels) are never dead here: only ``prune(all=True)`` removes them.
    """
    host, pid = labels.get(HOST_LABEL), labels.get(PID_LABEL, "")
    if not host or not pid.isdigit():
        return False
    if host != hostname():  # its owner's processes cannot be seen from here: only time tells
        try:
            deadline = float(labels.get(DEADLINE_LABEL, ""))
        except ValueError:
            return False
        return (time.time() if now is None else now) > deadline + OTHER_HOST_MARGIN_S
    return not _alive(int(pid), labels.get(PID_START_LABEL, ""))


# -- prune -------------------------------------------------------------------------------------------

def _filters(session: str | None = None, run: str | None = None) -> dict[str, list[str]]:
    labels = [f"{SANDBOX_LABEL}=1"]
    if session is not None:
        labels.append(f"{SESSION_LABEL}={session}")
    if run is not None:
        labels.append(f"{RUN_LABEL}={run}")
    return {"label": labels}


def prune(client: docker.DockerClient, session: str | None = None, *, run: str | None = None,
          all: bool = False) -> list[str]:
    """Remove grader containers, then volumes and images; return the names of what was removed.

    ``session`` (and ``run``) narrow it to one session (one run), whoever owns it. Without a
    session, only what belongs to dead sessions goes (:func:`is_dead`); ``all=True`` removes every
    grader resource on the engine. Containers are killed first (``force``); a volume still in use
    right after its container went away is retried briefly. Raises ``docker.errors.DockerException``
    when the engine cannot be reached; a resource another prune removed meanwhile is ignored.
    """
    from docker.errors import APIError, NotFound

    filters = _filters(session, run)
    only_dead = session is None and not all

    def wanted(info: Mapping[str, object]) -> bool:
        return not only_dead or is_dead(info.get("Labels") or {})  # type: ignore[arg-type]

    def remove_container(info: Mapping[str, Any]) -> str | None:
        name = (info.get("Names") or [info["Id"][:12]])[0].lstrip("/")
        try:
            client.api.remove_container(info["Id"], force=True)
        except NotFound:
            return None
        except APIError as exc:  # "removal already in progress" and the like
            if exc.status_code != 409:
                raise
        return name

    def remove_volume(volume: Mapping[str, Any]) -> str | None:
        name = volume["Name"]
        for attempt in range(20):
            try:
                client.api.remove_volume(name, force=True)
            except NotFound:
                return None
            except APIError as exc:
                if exc.status_code == 409 and attempt < 19:  # in use: a container is still going away
                    time.sleep(0.1)
                    continue
                if exc.status_code == 409 and only_dead:  # used by a container of a live session
                    return None
                raise
            return str(name)
        return None

    # Side by side: removing a container is mostly the engine waiting for its processes to die.
    containers = [info for info in client.api.containers(all=True, filters=filters) if wanted(info)]
    removed = [name for name in _each(remove_container, containers) if name]
    volumes = [v for v in (client.api.volumes(filters=filters) or {}).get("Volumes") or [] if wanted(v)]
    removed += [name for name in _each(remove_volume, volumes) if name]
    for image in client.api.images(all=True, filters=filters):
        if not wanted(image):
            continue
        try:
            client.api.remove_image(image["Id"], force=True)
        except NotFound:
            continue
        except APIError as exc:
            if exc.status_code != 409:
                raise
            continue
        removed.append(image["Id"][:19])
    return removed


def _each(work: Callable[[Mapping[str, Any]], str | None], items: list[Mapping[str, Any]]) -> list[str | None]:
    """``work`` on every item, side by side when there are several; results in order, first error raised."""
    if len(items) < 2:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(len(items), 8), thread_name_prefix="grader-prune") as pool:
        return list(pool.map(work, items))


_lock = threading.Lock()
_pruned_at_start = False


def prune_dead_in_background() -> None:
    """Once per process, on its first sandbox run: remove what dead sessions left, off the run's path."""
    global _pruned_at_start
    with _lock:
        if _pruned_at_start:
            return
        _pruned_at_start = True

    def work() -> None:
        from grader.sandbox.docker.client import connect

        try:
            client = connect(timeout=30)
            try:
                prune(client)
            finally:
                client.close()
        except Exception:  # noqa: BLE001 - housekeeping; `grader sandbox prune` says what fails
            pass

    threading.Thread(target=work, name="grader-prune-dead", daemon=True).start()


# -- atexit safety net -------------------------------------------------------------------------------

_sessions: dict[str, docker.DockerClient] = {}
_registered = False


def watch_session(client: docker.DockerClient, session: str) -> None:
    """Prune ``session`` when this process exits (normally, or by an unhandled exception)."""
    global _registered
    with _lock:
        _sessions[session] = client
        if not _registered:
            atexit.register(_prune_watched)
            _registered = True


def forget_session(session: str) -> None:
    """Stop watching ``session`` (its owner cleaned up and closed)."""
    with _lock:
        _sessions.pop(session, None)


def _prune_watched() -> None:
    with _lock:
        watched = list(_sessions.items())
        _sessions.clear()
    for session, client in watched:
        try:
            prune(client, session)
        except Exception:  # noqa: BLE001 - best effort at exit; `grader sandbox prune` is the fallback
            pass
