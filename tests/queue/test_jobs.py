"""What a job carries and how its identity and attempts are counted: logic, without Redis or an engine."""

from __future__ import annotations

import base64
import io
import os
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from grader.queue.jobs import RETRIES, JobKey, PackTooLarge, attempt_of, key_of, pack, task_of, unpack
from grader.version import __version__
from tests.helpers import TASK_ID, make_submission


def test_the_job_id_is_the_gradings_identity(tmp_path):
    root = make_submission(tmp_path / "alice")
    key = key_of(root, "a" * 64)
    assert (key.task_id, key.grader_version) == (TASK_ID, __version__)
    assert key.task_version is not None and key.rubric_version is not None
    assert key_of(root, "a" * 64).job_id == key.job_id  # the same grading, the same job
    others = [key.model_copy(update={"sha256": "b" * 64}), key.model_copy(update={"task_version": 99}),
              key.model_copy(update={"rubric_version": 99}), key.model_copy(update={"grader_version": "9"})]
    assert len({key.job_id, *(k.job_id for k in others)}) == 5
    assert key.job_id.startswith("grade-") and len(key.job_id) == 38


def test_the_task_comes_from_the_manifest_or_task_and_may_be_unknown(tmp_path):
    root = make_submission(tmp_path / "a")
    assert task_of(root) == TASK_ID
    assert key_of(root, "a" * 64, task_id="nlp/other").task_id == "nlp/other"
    (root / "submission.yaml").write_text("task: [not, a, string]\n")
    assert task_of(root) is None
    (root / "submission.yaml").write_text(": not yaml :\n  - [")
    key = key_of(root, "a" * 64)
    assert (key.task_id, key.task_version, key.rubric_version) == (None, None, None)


def test_a_folder_packs_and_unpacks_as_it_was(tmp_path):
    root = make_submission(tmp_path / "src")
    (root / "pkg").mkdir()
    (root / "pkg" / "util.py").write_text("X = 1\n")
    packed = pack(root, limit=10**6, what="submission", fix="")
    unpack(packed, tmp_path / "dest")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert sorted(p.relative_to(tmp_path / "dest").as_posix() for p in (tmp_path / "dest").rglob("*")
                  if p.is_file()) == files
    assert (tmp_path / "dest" / "pkg" / "util.py").read_text() == "X = 1\n"


def test_above_the_cap_the_error_says_the_size_and_the_fix(tmp_path):
    root = tmp_path / "big"
    root.mkdir()
    (root / "weights.bin").write_bytes(os.urandom(2 * 2**20))  # 2 MiB that gzip cannot shrink
    with pytest.raises(PackTooLarge) as caught:
        pack(root, limit=2**20, what="submission alice", fix="leave trained models out")
    assert "submission alice is 2.0 MiB packed" in caught.value.message
    assert "at most 1 MiB" in caught.value.message and caught.value.hint == "leave trained models out"


def _packed(member: str) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(member)
        info.size = 3
        archive.addfile(info, io.BytesIO(b"bad"))
    return base64.b64encode(buffer.getvalue()).decode()


def test_unpacking_refuses_what_escapes_the_folder(tmp_path):
    with pytest.raises(tarfile.FilterError):
        unpack(_packed("../escape.txt"), tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists()
    unpack(_packed("/etc/evil.txt"), tmp_path / "dest")  # an absolute name lands inside, made relative
    assert (tmp_path / "dest" / "etc" / "evil.txt").read_bytes() == b"bad"


def test_a_link_in_a_pack_is_refused(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(info)
    with pytest.raises(tarfile.FilterError):
        unpack(base64.b64encode(buffer.getvalue()).decode(), tmp_path / "dest")


@pytest.mark.parametrize(("retries_left", "attempt"), [(RETRIES, 1), (RETRIES - 1, 2), (0, RETRIES + 1)])
def test_the_attempt_counts_the_retries_spent(retries_left, attempt):
    job = SimpleNamespace(meta={"grader.retries": RETRIES}, retries_left=retries_left)
    assert attempt_of(job) == attempt  # type: ignore[arg-type]


def test_a_key_is_strict(tmp_path: Path):
    with pytest.raises(ValueError):
        JobKey.model_validate({"sha256": "a", "task_id": None, "task_version": None, "rubric_version": None,
                               "grader_version": "1", "extra": 1})
