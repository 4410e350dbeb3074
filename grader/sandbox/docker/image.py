"""The candidate runtime image: one tag per (lock, Dockerfile), built offline when need be.

The image is what every submission runs in, so it is keyed on exactly what defines it: the tag is
``grader-runtime:<sha256(lock + Dockerfile)[:12]>`` and :func:`ensure_image` does nothing when that
tag exists. When it does not, the build works without a container registry:

1. base image: ``python:3.11-slim-bookworm`` when it is present or can be pulled quickly, else
   ``grader-base:bookworm`` imported from a debootstrap root filesystem (cached on disk), fetched
   from the Debian mirror and proxy of this machine's apt configuration (:mod:`.debian`);
2. wheelhouse: ``pip download`` of the lock on the host (cached, reused when complete);
3. ``sandbox/Dockerfile`` built with the context streamed as a tar (no network inside the build).

Only the docker SDK talks to the engine and nothing is bind-mounted: the grader may run in a
container that reaches the host's engine through its socket, where host paths mean nothing.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import paths
from grader.errors import SandboxError
from grader.sandbox.docker.archive import add_dir, add_file, tar_stream
from grader.sandbox.docker.client import connect, engine_error
from grader.sandbox.docker.debian import debian_mirror, proxy_env
from grader.submission.requirements import canonical, read_lock

if TYPE_CHECKING:
    import docker

#: The runtime definition: the checkout's sandbox/ folder, or $GRADER_SANDBOX_DIR (installed grader image).
SANDBOX_DIR = Path(os.environ.get("GRADER_SANDBOX_DIR") or Path(__file__).resolve().parents[3] / "sandbox")
LOCK_FILE: Path = SANDBOX_DIR / "requirements.lock"
DOCKERFILE: Path = SANDBOX_DIR / "Dockerfile"

RUNTIME_REPO = "grader-runtime"
REGISTRY_BASE = "python:3.11-slim-bookworm"
OFFLINE_BASE = "grader-base:bookworm"
#: Seconds a pull of the registry base may take before we fall back to debootstrap.
PULL_TIMEOUT_S = 30
BUILD_TIMEOUT_S = 3600
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = "python3,python3-venv,libgomp1"
#: Newest glibc of the base (bookworm: 2.36); wheels tagged for anything newer would not load.
GLIBC_MINOR = 36
#: Packages whose lock pin must resolve to a local build (never the CUDA torch from PyPI: gigabytes).
LOCAL_BUILD = {"torch": "cpu"}
#: Where ``pip download`` also looks for wheels (the CPU torch); ``GRADER_FIND_LINKS`` overrides.
DEFAULT_FIND_LINKS = ("/opt/wheels",)

Progress = Callable[[str], None]

# -- identity --------------------------------------------------------------------------------------


def lock_hash() -> str:
    """12 hex chars of sha256(lock + Dockerfile): a change to either means a different image."""
    digest = hashlib.sha256()
    for path in (LOCK_FILE, DOCKERFILE):
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def runtime_tag() -> str:
    """The runtime image's tag; ``GRADER_RUNTIME_IMAGE`` pins another (a prebuilt, mirrored image)."""
    return os.environ.get("GRADER_RUNTIME_IMAGE") or f"{RUNTIME_REPO}:{lock_hash()}"


def locked_versions() -> dict[str, str]:
    """``{canonical name: version}`` of every pin in the lock (parsed as requirements are, in one place)."""
    return read_lock(LOCK_FILE)


def cache_dir() -> Path:
    """Where the rootfs and wheelhouse are kept between builds (``GRADER_CACHE_DIR``)."""
    return paths.cache_dir()


# -- engine ----------------------------------------------------------------------------------------


def _find_image(client: docker.DockerClient, name: str) -> Any | None:
    """The image called ``name``, None when absent; engine failures become SandboxError."""
    import docker

    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        return None
    except (docker.errors.DockerException, OSError) as exc:  # requests' errors are OSErrors
        raise engine_error(exc) from exc


@contextlib.contextmanager
def _api_timeout(client: docker.DockerClient, seconds: float) -> Iterator[None]:
    """Temporarily change the client's HTTP timeout (the SDK has no per-call knob for pulls)."""
    old = client.api.timeout
    client.api.timeout = seconds
    try:
        yield
    finally:
        client.api.timeout = old


def _platform_tag(client: docker.DockerClient) -> str:
    arch = str(client.version().get("Arch", "amd64"))
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)


# -- public entry points ---------------------------------------------------------------------------


def ensure_image(client: docker.DockerClient | None = None, *, force: bool = False,
                 progress: Progress | None = None) -> str:
    """The runtime image's id, building it first when the tag is missing (or ``force``).

    Reuse costs one API call. A build is serialised by a file lock in the cache dir, so parallel
    test workers wait for one build instead of each starting their own.
    """
    say = progress or (lambda _message: None)
    client = client or connect()
    tag = runtime_tag()
    image = None if force else _find_image(client, tag)
    if image is not None:
        return str(image.id)
    with _build_lock(say):
        image = None if force else _find_image(client, tag)
        if image is not None:
            say(f"runtime image {tag} was built meanwhile")
            return str(image.id)
        base = ensure_base_image(client, say)
        wheels = ensure_wheelhouse(say, platform=_platform_tag(client))
        return build_runtime(client, base, wheels, tag, say, nocache=force)


def image_info(client: docker.DockerClient) -> dict[str, object]:
    """Facts for ``grader sandbox doctor`` and reports: the tag, whether it exists, its versions."""
    tag = runtime_tag()
    info: dict[str, object] = {"tag": tag, "present": False, "id": None, "created": None, "size": None,
                               "lock_hash": lock_hash(), "versions": locked_versions()}
    try:
        image = _find_image(client, tag)
    except SandboxError as exc:
        info["error"] = exc.message
        return info
    if image is not None:
        labels = image.labels or {}
        info.update(present=True, id=image.id, created=image.attrs.get("Created"),
                    size=image.attrs.get("Size"), base=labels.get("grader.base-image"))
    return info


# -- step 1: base image ----------------------------------------------------------------------------


def ensure_base_image(client: docker.DockerClient, say: Progress) -> str:
    """A Debian bookworm image with Python 3.11: whatever is at hand, registry first, then offline.

    ``GRADER_BASE_IMAGE`` forces one (it must then exist or be pullable).
    """
    forced = os.environ.get("GRADER_BASE_IMAGE")
    for name in ([forced] if forced else [REGISTRY_BASE, OFFLINE_BASE]):
        if _find_image(client, name) is not None:
            say(f"base image {name} present")
            return name
    wanted = forced or REGISTRY_BASE
    say(f"pulling {wanted} (up to {PULL_TIMEOUT_S}s)")
    if _try_pull(client, wanted):
        return wanted
    if forced:
        raise SandboxError(f"base image {forced} (GRADER_BASE_IMAGE) is missing and cannot be pulled",
                           "load it with `docker load`, or unset GRADER_BASE_IMAGE to build one offline")
    say(f"no registry: building {OFFLINE_BASE} with debootstrap")
    started = time.monotonic()
    rootfs = ensure_rootfs(say)
    say(f"importing {rootfs} as {OFFLINE_BASE}")
    import_rootfs(client, rootfs, OFFLINE_BASE)
    say(f"base image {OFFLINE_BASE} ready in {time.monotonic() - started:.0f}s")
    return OFFLINE_BASE


def _try_pull(client: docker.DockerClient, name: str) -> bool:
    """Pull with a short timeout; False on any failure (no registry is the normal offline case)."""
    repo, _, tag = name.rpartition(":")
    try:
        with _api_timeout(client, PULL_TIMEOUT_S):
            deadline = time.monotonic() + PULL_TIMEOUT_S
            for event in client.api.pull(repo, tag, stream=True, decode=True):
                if "error" in event or time.monotonic() > deadline:
                    return False
    except Exception:  # noqa: BLE001 - docker, requests and urllib3 errors alike mean "no registry"
        return False
    return _find_image(client, name) is not None


def ensure_rootfs(say: Progress) -> Path:
    """The cached debootstrap root filesystem, made on first use (as root; minutes, needs a mirror).

    debootstrap writes to a ``.partial`` folder renamed on success, so an interrupted run is
    started over instead of being imported half-made.
    """
    rootfs = cache_dir() / "rootfs" / DEBIAN_SUITE
    if rootfs.is_dir():
        return rootfs
    hint = ("run `sudo grader sandbox build` once (debootstrap needs root), or make "
            f"{REGISTRY_BASE} available (`docker load`, a registry mirror) or set GRADER_BASE_IMAGE")
    if os.geteuid() != 0:
        raise SandboxError("building the offline base image needs root (debootstrap)", hint)
    _ensure_debootstrap()
    partial = rootfs.with_name(rootfs.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    mirror = debian_mirror(DEBIAN_SUITE)
    proxies = proxy_env()
    say(f"debootstrap {DEBIAN_SUITE} from {mirror} into {partial}"
        + (f" (apt's proxy {', '.join(sorted(set(proxies.values())))})" if proxies else ""))
    argv = ["debootstrap", "--variant=minbase", f"--include={DEBIAN_PACKAGES}", DEBIAN_SUITE,
            str(partial), mirror]
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **proxies})
    if proc.returncode != 0:
        log = partial / "debootstrap" / "debootstrap.log"
        detail = log.read_text(errors="replace") if log.is_file() else proc.stdout + proc.stderr
        raise SandboxError(f"debootstrap failed (exit {proc.returncode}):\n{_tail(detail)}",
                           f"check that {mirror} is reachable (it is apt's own mirror here; GRADER_DEBIAN_MIRROR "
                           f"picks another); {hint}")
    partial.rename(rootfs)
    return rootfs


def _ensure_debootstrap() -> None:
    """Install debootstrap with apt-get when missing (we are root here), or say how to."""
    if shutil.which("debootstrap"):
        return
    hint = "install debootstrap (`apt-get install debootstrap`) and retry"
    if not shutil.which("apt-get"):
        raise SandboxError("debootstrap is not installed and apt-get is not available", hint)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "debootstrap"]):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise SandboxError(f"{' '.join(argv)} failed:\n{_tail(proc.stdout + proc.stderr)}", hint)


#: Rootfs content left out of the base image: caches and docs, never needed at run time.
_ROOTFS_SKIP = re.compile(r"^\./(var/cache/apt/.+|var/lib/apt/lists/.+|usr/share/man/.+|usr/share/locale/.+/.+"
                          r"|usr/share/doc/[^/]+/(?!copyright$).+|(dev|proc|sys|run|tmp)/.+)$")


def _rootfs_filter(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Numeric owners only; no device nodes (the engine makes /dev); no caches (smaller image)."""
    if info.ischr() or info.isblk() or info.isfifo() or _ROOTFS_SKIP.match(info.name):
        return None
    info.uname = info.gname = ""
    return info


def import_rootfs(client: docker.DockerClient, rootfs: Path, name: str) -> str:
    """Import ``rootfs`` as image ``name`` from a tar streamed straight to the engine."""
    import docker

    repo, _, tag = name.rpartition(":")

    def write(tar: tarfile.TarFile) -> None:
        tar.add(str(rootfs), arcname=".", filter=_rootfs_filter)

    changes = ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "ENV LANG=C.UTF-8", 'CMD ["/bin/bash"]']
    try:
        client.api.import_image_from_data(tar_stream(write), repository=repo, tag=tag, changes=changes)
    except docker.errors.DockerException as exc:
        raise SandboxError(f"importing {rootfs} as {name} failed: {exc}",
                           f"delete {rootfs} to debootstrap it again, then retry") from exc
    image = _find_image(client, name)
    if image is None:
        raise SandboxError(f"importing {rootfs} as {name} produced no image",
                           f"delete {rootfs} to debootstrap it again, then retry")
    return str(image.id)


# -- step 2: wheelhouse ----------------------------------------------------------------------------


def _wheel_version(filename: str) -> tuple[str, str] | None:
    """``(canonical name, version)`` of a wheel file name, None for anything else."""
    if not filename.endswith(".whl"):
        return None
    parts = filename[:-4].split("-")
    return (canonical(parts[0]), parts[1]) if len(parts) >= 5 else None


def _matches(pin: str, version: str, name: str) -> bool:
    """A pin without local label accepts our local build too (torch==2.13.0 takes 2.13.0+cpu)."""
    local = LOCAL_BUILD.get(name)
    return version == pin or (local is not None and version == f"{pin}+{local}")


def wheelhouse_files(wheelhouse: Path) -> dict[str, Path] | None:
    """One wheel per lock pin from ``wheelhouse``, or None while any is missing."""
    have: dict[tuple[str, str], Path] = {}
    for path in sorted(wheelhouse.glob("*.whl")) if wheelhouse.is_dir() else ():
        parsed = _wheel_version(path.name)
        if parsed:
            have[parsed] = path
    picked: dict[str, Path] = {}
    for name, pin in locked_versions().items():
        found = [path for (have_name, version), path in have.items()
                 if have_name == name and _matches(pin, version, name)]
        if not found:
            return None
        picked[name] = found[0]
    return picked


def ensure_wheelhouse(say: Progress, *, platform: str = "x86_64") -> dict[str, Path]:
    """Every wheel of the lock, for CPython 3.11 on bookworm; downloaded once, then reused."""
    wheelhouse = cache_dir() / "wheelhouse"
    files = wheelhouse_files(wheelhouse)
    if files is not None:
        say(f"wheelhouse complete ({len(files)} wheels in {wheelhouse})")
        return files
    wheelhouse.mkdir(parents=True, exist_ok=True)
    constraints = wheelhouse / "constraints.txt"
    # PyPI's x86_64 torch is the CUDA build; aarch64 wheels are CPU-only and carry no local label.
    pins = locked_versions() if platform == "x86_64" else {}
    constraints.write_text("".join(f"{name}=={pins[name]}+{local}\n"
                                   for name, local in LOCAL_BUILD.items() if name in pins))
    links = os.environ.get("GRADER_FIND_LINKS")
    find_links = links.split(os.pathsep) if links else [p for p in DEFAULT_FIND_LINKS if os.path.isdir(p)]
    platforms = [f"manylinux_2_{minor}_{platform}" for minor in range(GLIBC_MINOR, 16, -1)]
    platforms += [f"manylinux2014_{platform}", f"manylinux2010_{platform}", f"manylinux1_{platform}"]
    argv = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:",
            "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
            *(arg for p in platforms for arg in ("--platform", p)),
            *(arg for link in find_links for arg in ("--find-links", link)),
            "-r", str(LOCK_FILE), "-c", str(constraints), "-d", str(wheelhouse)]
    say(f"downloading the wheelhouse into {wheelhouse}")
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True)
    files = wheelhouse_files(wheelhouse)
    if proc.returncode != 0 or files is None:
        raise SandboxError(f"pip download of {LOCK_FILE.name} failed:\n{_tail(proc.stdout + proc.stderr)}",
                           "check that PyPI is reachable (or PIP_INDEX_URL points at a mirror) and that the "
                           "CPU torch wheel is in /opt/wheels or GRADER_FIND_LINKS (or set PIP_EXTRA_INDEX_URL "
                           "to an index that serves the CPU builds of torch)")
    say(f"wheelhouse downloaded in {time.monotonic() - started:.0f}s")
    return files


# -- step 3: runtime image -------------------------------------------------------------------------


def build_runtime(client: docker.DockerClient, base: str, wheels: dict[str, Path], tag: str, say: Progress,
                  *, nocache: bool = False) -> str:
    """Build ``sandbox/Dockerfile`` on ``base`` with a streamed context; the new image's id.

    The build runs with networking off: the wheelhouse is all it may install.
    """
    import docker

    def write(tar: tarfile.TarFile) -> None:
        add_file(tar, "Dockerfile", DOCKERFILE, mode=0o644)
        add_file(tar, "requirements.lock", LOCK_FILE, mode=0o644)
        add_dir(tar, "wheels")
        for path in sorted(wheels.values()):
            add_file(tar, f"wheels/{path.name}", path, mode=0o644)

    say(f"building {tag} on {base}")
    started = time.monotonic()
    log: collections.deque[str] = collections.deque(maxlen=40)
    hint = "read the build log above; `grader sandbox build --force` rebuilds without the layer cache"
    try:
        events = client.api.build(fileobj=tar_stream(write), custom_context=True, tag=tag, rm=True,
                                  forcerm=True, pull=False, nocache=nocache, decode=True,
                                  network_mode="none", timeout=BUILD_TIMEOUT_S,
                                  buildargs={"BASE_IMAGE": base, "LOCK_HASH": lock_hash()})
        steps = _BuildProgress(say, wheels=len(wheels))
        with _heartbeat(steps):
            for event in events:
                if "error" in event:
                    log.append(str(event.get("error")).strip())
                    raise SandboxError(f"building {tag} failed:\n" + "\n".join(log), hint)
                for line in str(event.get("stream", "")).splitlines():
                    if line.strip():
                        log.append(line.rstrip())
                        steps.line(line.strip())
    except docker.errors.DockerException as exc:
        raise SandboxError(f"building {tag} failed: {exc}\n" + "\n".join(log), hint) from exc
    image = _find_image(client, tag)
    if image is None:
        raise SandboxError(f"building {tag} produced no image:\n" + "\n".join(log), hint)
    say(f"runtime image {tag} built in {time.monotonic() - started:.0f}s "
        f"({(image.attrs.get('Size') or 0) / 1e6:.0f} MB)")
    return str(image.id)


# -- helpers ---------------------------------------------------------------------------------------


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


#: Seconds between the lines that say a long wait or a long silent build step is still going.
STILL_EVERY_S = 15.0


class _BuildProgress:
    """The build's output as progress a person can follow: each Dockerfile step, and inside the
    install step (minutes, and silent for most of them) how far pip has got through the wheelhouse."""

    def __init__(self, say: Progress, *, wheels: int) -> None:
        self._say, self.wheels = say, wheels
        self.current, self.since = "", time.monotonic()
        self._read, self._told = 0, 0.0

    def say(self, message: str) -> None:
        self.current, self.since = message, time.monotonic()
        self._say(message)

    def line(self, line: str) -> None:
        if line.startswith("Step "):
            self.say(line)
        elif line.startswith("Processing /wheels/"):
            self._read += 1
            now = time.monotonic()
            if now - self._told >= 2 or self._read == self.wheels:  # a line per wheel would flood the log
                self._told = now
                name = line.rsplit("/", 1)[-1].split("-", 1)[0]
                self.say(f"pip: {self._read} of {self.wheels} wheels read ({name})")
        elif line.startswith("Installing collected packages:"):
            count = len(line.split(":", 1)[1].split(","))
            self.say(f"pip: installing {count} packages into /opt/venv (torch's files take most of the time)")
        elif line.startswith("Successfully installed"):
            self.say("pip: packages installed; checking them and trimming torch's tests")

    def still(self) -> None:
        """Said by the heartbeat while no new line came: the step and how long it has run."""
        if self.current:
            self._say(f"{self.current} (still running, {time.monotonic() - self.since:.0f}s)")


@contextlib.contextmanager
def _heartbeat(progress: _BuildProgress, every: float = STILL_EVERY_S) -> Iterator[None]:
    """Calls ``progress.still()`` every ``every`` seconds of silence until the block ends."""
    import threading

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            if time.monotonic() - progress.since >= every:
                progress.still()

    thread = threading.Thread(target=beat, name="build-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _holder(path: Path) -> str:
    """Who holds the build lock, as its holder wrote it (``pid 12 on host since 12:00:00``)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    return text or "a process that did not say who it is"


@contextlib.contextmanager
def _build_lock(say: Progress | None = None, *, poll: float = 0.5, every: float = STILL_EVERY_S) -> Iterator[None]:
    """An exclusive lock on the cache dir while building (POSIX; a no-op elsewhere).

    Waiting for another build is said, with who holds the lock, and again every ``every`` seconds:
    a first build takes minutes, and a silent wait looks like a hang.
    """
    say = say or (lambda _message: None)
    path = cache_dir() / "build.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            started = told = time.monotonic()
            say(f"waiting for another build of the runtime image to finish ({_holder(path)}; lock file {path})")
            while True:
                time.sleep(poll)
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() - told >= every:
                        told = time.monotonic()
                        say(f"still waiting for the other build of the runtime image "
                            f"({time.monotonic() - started:.0f}s; {_holder(path)})")
            say(f"the other build finished after {time.monotonic() - started:.0f}s")
        os.ftruncate(fh.fileno(), 0)
        fh.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}\n")
        fh.flush()
        try:
            yield
        finally:
            os.ftruncate(fh.fileno(), 0)
            fcntl.flock(fh, fcntl.LOCK_UN)


__all__ = ["LOCK_FILE", "ensure_image", "image_info", "lock_hash", "runtime_tag"]
