"""Remove what the docker backend left behind, and the per-process safety net that does it.

Every container, volume and image (the rubric's Dockerfile builds) the grader creates carries the
labels ``grader.sandbox=1``,
``grader.session=<uuid of the DockerSandbox>`` and ``grader.run=<uuid of the run>``. A run
removes its own resources in ``finally`` blocks; this module covers what survives anyway:
:func:`prune` (``grader sandbox prune``) and an :mod:`atexit` hook that prunes the sessions of
this process when it exits.
"""

from __future__ import annotations

import atexit
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import docker

#: Label put on everything the docker backend creates.
SANDBOX_LABEL = "grader.sandbox"
SESSION_LABEL = "grader.session"
RUN_LABEL = "grader.run"
PHASE_LABEL = "grader.phase"


def _filters(session: str | None = None, run: str | None = None) -> dict[str, list[str]]:
    labels = [f"{SANDBOX_LABEL}=1"]
    if session is not None:
        labels.append(f"{SESSION_LABEL}={session}")
    if run is not None:
        labels.append(f"{RUN_LABEL}={run}")
    return {"label": labels}


def prune(client: docker.DockerClient, session: str | None = None, *, run: str | None = None) -> list[str]:
    """Remove every container, then every volume and image, labelled ``grader.sandbox=1``.

    ``session`` (and ``run``) narrow it to one :class:`DockerSandbox` (one run). Returns the names
    of what was removed. Containers are killed first (``force``); a volume still in use right
    after its container went away is retried briefly. Raises ``docker.errors.DockerException``
    when the engine cannot be reached; a resource another prune removed meanwhile is ignored.
    """
    from docker.errors import APIError, NotFound

    filters = _filters(session, run)
    removed: list[str] = []
    for info in client.api.containers(all=True, filters=filters):
        name = (info.get("Names") or [info["Id"][:12]])[0].lstrip("/")
        try:
            client.api.remove_container(info["Id"], force=True)
        except NotFound:
            continue
        except APIError as exc:  # "removal already in progress" and the like
            if exc.status_code != 409:
                raise
        removed.append(name)
    for volume in (client.api.volumes(filters=filters) or {}).get("Volumes") or []:
        name = volume["Name"]
        for attempt in range(20):
            try:
                client.api.remove_volume(name, force=True)
            except NotFound:
                break
            except APIError as exc:
                if exc.status_code == 409 and attempt < 19:  # in use: a container is still going away
                    time.sleep(0.1)
                    continue
                raise
            removed.append(name)
            break
    for image in client.api.images(all=True, filters=filters):
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


# -- atexit safety net -----------------------------------------------------------------------------

_lock = threading.Lock()
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
