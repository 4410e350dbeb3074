"""The one way the grader reaches a Docker engine, and the one hint it gives when it cannot.

Everything that talks to the engine (runs, the runtime image, Dockerfile builds, the doctor,
prune) connects here, so ``DOCKER_HOST`` and the advice for an unreachable engine are handled once.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from grader.errors import SandboxError

if TYPE_CHECKING:
    import docker

DEFAULT_HOST = "unix:///var/run/docker.sock"
ENGINE_HINT = ("start dockerd (e.g. `sudo systemctl start docker`, or `.ci/docker-up.sh`) or point DOCKER_HOST "
               "at a running engine's socket (e.g. `export DOCKER_HOST=unix:///run/grader-docker.sock`)")
IMAGE_HINT = "run `grader sandbox build` (or set GRADER_RUNTIME_IMAGE to an image that exists)"
#: Seconds an API call may take before the client gives up (long calls pass their own timeout).
DEFAULT_TIMEOUT_S = 60


def engine_host() -> str:
    """The engine address in use, for messages."""
    return os.environ.get("DOCKER_HOST") or f"{DEFAULT_HOST} (default)"


def engine_error(exc: BaseException, doing: str = "reach the Docker engine") -> SandboxError:
    """``exc`` from the SDK or its HTTP layer as a :class:`SandboxError` with the engine hint."""
    return SandboxError(f"cannot {doing} at {engine_host()}: {exc}", ENGINE_HINT)


def is_engine_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the engine or the connection to it (not from the grader's own code)."""
    import docker
    import requests

    return isinstance(exc, (docker.errors.DockerException, requests.exceptions.RequestException))


def connect(timeout: int = DEFAULT_TIMEOUT_S) -> docker.DockerClient:
    """A client for the engine of the environment (``DOCKER_HOST``) that answered a ping, or :class:`SandboxError`."""
    import docker

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:  # requests' errors are OSErrors
        raise engine_error(exc) from exc
    return client


__all__ = ["ENGINE_HINT", "IMAGE_HINT", "connect", "engine_error", "engine_host", "is_engine_error"]
