"""Files in and out of containers as tar streams (nothing is ever bind-mounted from the host).

In: :func:`add_tree` packs a mount's source with the owners and modes the sandbox must see,
:func:`tar_stream` streams a tar made on the fly (build contexts, root filesystems), and
:func:`add_file` / :func:`add_dir` add reproducible entries. Out: :func:`extract_safely` unpacks
what a run left in a collected mount without trusting a single name or type in it.
"""

from __future__ import annotations

import io
import math
import os
import stat
import tarfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from grader.errors import SandboxError

PAGE = 4096
#: Most entries read back from one collected mount.
COLLECT_MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class Ownership:
    """Who owns a mount's folder and files inside the sandbox, and their modes."""

    uid: int
    gid: int
    dir_mode: int
    file_mode: int

    @property
    def tmpfs_options(self) -> str:
        return f"uid={self.uid},gid={self.gid},mode={self.dir_mode:04o}"


def member_name(path: str | PurePosixPath) -> str:
    """An absolute container path as a tar member name (relative to the extraction root ``/``)."""
    return str(path).lstrip("/")


def add_tree(tar: tarfile.TarFile, source: Path, own: Ownership, under: str) -> int:
    """Add ``source``'s tree to ``tar`` below the container path ``under`` (not the folder itself),
    owned and moded as ``own`` says; return the tmpfs bytes it will take. Executable files get the
    execute bits their folders have. Symlinks are kept as links (never followed on this host);
    sockets, fifos and devices are left out.
    """
    used = 0
    prefix = PurePosixPath(member_name(under))
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        dirnames.sort()
        for entry in sorted(dirnames) + sorted(filenames):
            path = os.path.join(dirpath, entry)
            st = os.lstat(path)
            info = tarfile.TarInfo((prefix / Path(path).relative_to(source)).as_posix())
            info.uid, info.gid, info.uname, info.gname = own.uid, own.gid, "", ""
            info.mtime = int(st.st_mtime)
            if stat.S_ISDIR(st.st_mode):
                info.type, info.mode = tarfile.DIRTYPE, own.dir_mode
                tar.addfile(info)
            elif stat.S_ISLNK(st.st_mode):
                info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, os.readlink(path)
                tar.addfile(info)
                used += PAGE if len(info.linkname) > 100 else 0
            elif stat.S_ISREG(st.st_mode):
                info.type, info.size = tarfile.REGTYPE, st.st_size
                info.mode = own.file_mode | (own.dir_mode & 0o111 if st.st_mode & 0o100 else 0)
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                with os.fdopen(fd, "rb") as fh:
                    tar.addfile(info, fh)
                used += math.ceil(st.st_size / PAGE) * PAGE
    return used


def add_file(tar: tarfile.TarFile, arcname: str, path: Path, *, mode: int | None = None, mtime: int = 0) -> None:
    """Add a file owned by root (mode 0644, or 0755 when executable and ``mode`` is not given);
    a fixed mtime by default, so identical content gives identical layers."""
    st = path.stat()
    info = tarfile.TarInfo(member_name(arcname))
    info.size, info.mtime = st.st_size, mtime
    info.mode = mode if mode is not None else (0o755 if st.st_mode & 0o100 else 0o644)
    with open(path, "rb") as fh:
        tar.addfile(info, fh)


def add_dir(tar: tarfile.TarFile, arcname: str, *, mtime: int = 0) -> None:
    info = tarfile.TarInfo(member_name(arcname))
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
    tar.addfile(info)


def tar_stream(write: Callable[[tarfile.TarFile], None], chunk: int = 1 << 20) -> Iterator[bytes]:
    """Chunks of the tar that ``write`` produces, made in a thread: never all in memory or on disk.

    If the consumer stops early (the engine hung up), closing the pipe makes the writer fail
    instead of blocking forever; a writer error is re-raised here.
    """
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb") as sink, tarfile.open(fileobj=sink, mode="w|",
                                                                  format=tarfile.PAX_FORMAT) as tar:
                write(tar)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            failure.append(exc)

    thread = threading.Thread(target=produce, name="grader-tar-stream", daemon=True)
    thread.start()
    with os.fdopen(read_fd, "rb") as source:
        try:
            while data := source.read(chunk):
                yield data
        finally:
            source.close()
            thread.join()
    if failure and not isinstance(failure[0], BrokenPipeError):
        raise SandboxError(f"could not write the tar stream: {failure[0]}", "see the error above") from failure[0]


# -- collecting outputs safely ---------------------------------------------------------------------

class ChunkReader(io.RawIOBase):
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


def _under(name: str, root: str) -> str | None:
    """``name`` relative to the archive's ``root/`` folder, None when it is not under it."""
    return name[len(root) + 1:] if name.startswith(f"{root}/") else None


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
    no_follow = getattr(os, "O_NOFOLLOW", 0)

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
                under = _under(name, root)
                if under is None:
                    skip(name, "outside the collected folder")
                    continue
                rel = under.rstrip("/")
                parts = PurePosixPath(rel).parts
                if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in rel:
                    skip(name, "unsafe name")
                    continue
                target = base.joinpath(*parts)
                if not target.resolve().is_relative_to(base):
                    skip(name, "leaves the folder")
                    continue
                linked = _under(member.linkname, root) if member.islnk() else None
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
                        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | no_follow, mode)
                        with os.fdopen(fd, "wb") as out:
                            src = tar.extractfile(member)
                            assert src is not None
                            while block := src.read(1024 * 1024):
                                out.write(block)
                        total += member.size
                        files += 1
                        created[rel] = target
                    elif linked is not None and linked in created:
                        # A hard link to a file extracted above: a copy (links are never created).
                        source = created[linked]
                        size = source.stat().st_size
                        if total + size > max_bytes:
                            truncated = True
                            break
                        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | no_follow,
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


__all__ = ["COLLECT_MAX_ENTRIES", "ChunkReader", "Ownership", "add_dir", "add_file", "add_tree", "extract_safely",
           "member_name", "tar_stream"]
