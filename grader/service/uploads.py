"""A submission's upload: read from the request under a byte cap, checked by the intake as ``grader grade``
would check it, then stored (file, then database row) before the request is answered.

The cap is applied twice: to the declared ``Content-Length`` before a byte is read, and to the bytes as they
arrive (a chunked request declares none), so an upload over the cap gets 413 and nothing of it is kept.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from grader.errors import GraderError
from grader.service.config import ServiceConfig, upload_name
from grader.service.db import Submission
from grader.service.errors import TooLarge, Unacceptable
from grader.service.store import Principal, Store
from grader.service.tokens import new_id
from grader.submission.intake import ARCHIVE_SUFFIXES, stage

#: Room for the multipart envelope and the form's other fields, beyond the file's own bytes.
ENVELOPE_BYTES = 64 * 1024
FILE_FIELD = "file"
HOW_TO_PACK = ("upload your submission folder as a .zip or .tar.gz with submission.yaml at its top level, "
               "e.g. `cd submission && zip -r ../submission.zip .`")


@dataclass(frozen=True)
class Received:
    """An upload on disk, not yet a submission: its name as given, where it is, its size, the form's fields."""

    filename: str
    path: Path
    size: int
    fields: dict[str, str]


def size_text(n: int) -> str:
    """``n`` bytes as the pages and refusals say it: in MiB, or in KiB below one (a cap of 50 KiB is not
    "0.0 MiB")."""
    if n < 2**20:
        return f"{n / 2**10:.0f} KiB"
    return f"{n / 2**20:.2f}".rstrip("0").rstrip(".") + " MiB"


def too_large(cap: int, size: int | None = None) -> TooLarge:
    got = f" ({size_text(size)} or more)" if size is not None else ""
    return TooLarge(f"the upload is over this assessment's cap of {size_text(cap)}{got}; nothing was stored",
                    "leave data, trained models and virtual environments out: the grader trains in the sandbox")


async def _capped(request: Request, cap: int) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > cap + ENVELOPE_BYTES:
            raise too_large(cap, seen)
        yield chunk


async def receive(request: Request, cap: int, workdir: Path) -> Received:
    """Read the multipart upload (field ``file``) of ``request`` into ``workdir``, under ``cap`` bytes."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Unacceptable("an upload is a multipart/form-data request with the archive in the field 'file'",
                           "curl -F file=@submission.zip -H 'Authorization: Bearer TOKEN' .../api/submissions")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap + ENVELOPE_BYTES:
        raise too_large(cap, int(declared))
    parser = MultiPartParser(request.headers, _capped(request, cap), max_files=1, max_fields=8)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise Unacceptable(f"the upload is not a readable form: {exc.message}", HOW_TO_PACK) from None
    try:
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        upload = form.get(FILE_FIELD)
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise Unacceptable(f"the upload has no file in the field {FILE_FIELD!r}", HOW_TO_PACK)
        filename = Path(upload.filename.replace("\\", "/")).name[:200]
        if not filename.lower().endswith(ARCHIVE_SUFFIXES):
            raise Unacceptable(f"{filename!r} is not a .zip or .tar.gz archive", HOW_TO_PACK)
        path = workdir / upload_name(filename)
        size = 0
        with path.open("wb") as out:
            while chunk := await upload.read(1 << 20):
                size += len(chunk)
                if size > cap:
                    raise too_large(cap, size)
                out.write(chunk)
        if size == 0:
            raise Unacceptable(f"{filename!r} is empty", HOW_TO_PACK)
        return Received(filename=filename, path=path, size=size, fields=fields)
    finally:
        await form.close()


def check_archive(received: Received) -> str:
    """The intake's verdict on the archive (links, absolute paths, too many files, a bomb): its content
    hash, or :class:`Unacceptable` with the intake's own message."""
    with tempfile.TemporaryDirectory(prefix="grader-upload-check-") as tmp:
        try:
            return stage(received.path, Path(tmp)).sha256
        except GraderError as exc:
            raise Unacceptable(f"the archive was refused: {exc.message}", exc.hint or HOW_TO_PACK) from None


def store_upload(store: Store, config: ServiceConfig, candidate: Principal, received: Received) -> Submission:
    """Keep the checked upload as a new queued submission: its file first, then its row; the folder is
    removed again when the row cannot be written (a closed assessment, attempts used meanwhile)."""
    sha256 = check_archive(received)
    submission_id = new_id()
    folder = config.submission_dir(submission_id)
    folder.mkdir(parents=True)
    try:
        shutil.move(received.path, folder / upload_name(received.filename))
        return store.add_submission(submission_id, candidate, filename=received.filename, size_bytes=received.size,
                                    sha256=sha256)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
