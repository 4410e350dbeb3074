"""Turn what the candidate handed in (folder, .zip, .tar.gz) into a clean staged folder.

Staging copies regular files only, refuses paths and links that leave the tree, and caps
size and file count, so nothing downstream (hashing, sandbox upload) ever sees a hostile tree.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.errors import SubmissionError

MAX_FILES = 2_000
MAX_BYTES = 50 * 1024 * 1024
SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", ".venv", "venv", ".mypy_cache", ".pytest_cache"}
FIX_HINT = "a submission is a folder (or a .zip / .tar.gz of one) with submission.yaml at its top level"
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar")
ARCHIVE_SUFFIXES = (*TAR_SUFFIXES, ".zip")


def submission_name(path: str | os.PathLike[str]) -> str:
    """A submission's name for folders and tables: its folder's name, or its archive's without the
    archive suffix (``alice.tar.gz`` -> ``alice``), for every suffix :func:`stage` accepts."""
    name = Path(path).name
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True)
class StagedSubmission:
    root: Path
    sha256: str
    files: int
    bytes: int
    origin: Path


class _Budget:
    def __init__(self, max_files: int, max_bytes: int) -> None:
        self.files = 0
        self.bytes = 0
        self.max_files = max_files
        self.max_bytes = max_bytes

    def take(self, size: int, name: str) -> None:
        self.files += 1
        self.bytes += size
        if self.files > self.max_files:
            raise SubmissionError(f"the submission has more than {self.max_files} files",
                                  "leave data sets, virtual environments and build outputs out of the submission")
        if self.bytes > self.max_bytes:
            raise SubmissionError(
                f"the submission is larger than {self.max_bytes // (1024 * 1024)} MB (reached at {name})",
                "submit code and small files only: the model is trained by the grader, data is provided in /data")


def _safe_relpath(name: str) -> PurePosixPath | None:
    """Relative path of an archive member, or None when it is absolute or climbs out with ``..``."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        return None
    parts = [p for p in path.parts if p not in ("", ".")]
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _skip(rel: PurePosixPath) -> bool:
    return any(p in SKIP_DIRS for p in rel.parts) or rel.name == ".DS_Store"


def _stage_folder(src: Path, dest: Path, budget: _Budget) -> None:
    src_real = src.resolve()
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames) + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            path = Path(dirpath) / name
            rel = path.relative_to(src)
            if _skip(PurePosixPath(rel.as_posix())):
                continue
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(src_real):
                    raise SubmissionError(f"{rel} is a link to {os.readlink(path)}, outside the submission",
                                          "replace the link with the file itself")
                if target.is_dir():
                    continue  # its content is staged where it really lives
            mode = path.stat().st_mode
            if not stat.S_ISREG(mode):
                raise SubmissionError(f"{rel} is not a regular file", "remove devices, sockets and pipes")
            budget.take(path.stat().st_size, str(rel))
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)


def _stage_tar(archive: Path, dest: Path, budget: _Budget) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                rel = _safe_relpath(member.name)
                if rel is None:
                    raise SubmissionError(f"{archive.name}: member {member.name!r} has an absolute path or '..'",
                                          "make the archive from inside the submission folder with relative paths")
                if member.issym() or member.islnk():
                    raise SubmissionError(f"{archive.name}: member {member.name!r} is a link",
                                          "archive real files, not links (tar without -h keeps links)")
                if member.isdir() or _skip(rel):
                    continue
                if not member.isreg():
                    raise SubmissionError(f"{archive.name}: member {member.name!r} is not a regular file",
                                          "remove devices, fifos and other special files")
                budget.take(member.size, member.name)
                src = tar.extractfile(member)
                assert src is not None
                out = dest / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                with src, open(out, "wb") as fh:
                    shutil.copyfileobj(src, fh)
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, SubmissionError):
            raise
        raise SubmissionError(f"{archive.name} is not a readable .tar.gz archive: {exc}",
                              "re-create it with `tar czf submission.tar.gz -C my-submission .`") from None


def _stage_zip(archive: Path, dest: Path, budget: _Budget) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                rel = _safe_relpath(info.filename)
                if rel is None:
                    raise SubmissionError(f"{archive.name}: member {info.filename!r} has an absolute path or '..'",
                                          "make the archive from inside the submission folder with relative paths")
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise SubmissionError(f"{archive.name}: member {info.filename!r} is a link",
                                          "archive real files, not links (zip -y keeps links)")
                if info.is_dir() or _skip(rel):
                    continue
                budget.take(info.file_size, info.filename)
                out = dest / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(out, "wb") as fh:
                    # Read past the declared size at most by one chunk: a lying header cannot blow the cap.
                    copied = 0
                    while chunk := src.read(1 << 20):
                        copied += len(chunk)
                        if copied > info.file_size:
                            raise SubmissionError(f"{archive.name}: member {info.filename!r} is larger than declared",
                                                  "re-create the archive")
                        fh.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError) as exc:
        raise SubmissionError(f"{archive.name} is not a readable .zip archive: {exc}",
                              "re-create it with `cd my-submission && zip -r ../submission.zip .`") from None


def tree_sha256(root: Path) -> tuple[str, int, int]:
    """Hash of relative paths and contents, so a folder and its archive hash the same."""
    digest = hashlib.sha256()
    files = total = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix().encode()
        data = path.read_bytes()
        digest.update(len(rel).to_bytes(4, "big") + rel + len(data).to_bytes(8, "big") + data)
        files += 1
        total += len(data)
    return digest.hexdigest(), files, total


def stage(origin: Path, workdir: Path | None = None, *, max_files: int = MAX_FILES,
          max_bytes: int = MAX_BYTES) -> StagedSubmission:
    """Copy ``origin`` into a fresh folder under ``workdir``; raises :class:`SubmissionError`."""
    origin = Path(origin)
    if not origin.exists():
        raise SubmissionError(f"{origin}: no such file or folder", FIX_HINT)
    dest = Path(tempfile.mkdtemp(prefix="submission-", dir=workdir))
    budget = _Budget(max_files, max_bytes)
    name = origin.name.lower()
    if origin.is_dir():
        _stage_folder(origin, dest, budget)
    elif name.endswith(TAR_SUFFIXES):
        _stage_tar(origin, dest, budget)
    elif name.endswith(".zip"):
        _stage_zip(origin, dest, budget)
    else:
        raise SubmissionError(f"{origin.name}: not a folder, .zip or .tar.gz", FIX_HINT)
    root = dest
    # An archive of the folder itself (one top-level folder, nothing else) is the common case.
    entries = list(root.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not (root / "submission.yaml").exists():
        root = entries[0]
    if not any(root.iterdir()):
        raise SubmissionError(f"{origin}: the submission is empty", FIX_HINT)
    sha, files, total = tree_sha256(root)
    return StagedSubmission(root=root, sha256=sha, files=files, bytes=total, origin=origin)
