import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader.errors import SubmissionError
from grader.submission.intake import stage, submission_name


def _write_tree(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "submission.yaml").write_text("task: tabular/credit-default\n")
    (root / "pkg" / "m.py").write_text("x = 1\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "junk.pyc").write_bytes(b"\0")


def test_folder_zip_and_tar_hash_the_same(tmp_path):
    src = tmp_path / "sub"
    _write_tree(src)
    folder = stage(src, tmp_path)
    zpath = tmp_path / "sub.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.write(src / "submission.yaml", "sub/submission.yaml")
        zf.write(src / "pkg" / "m.py", "sub/pkg/m.py")
    tpath = tmp_path / "sub.tar.gz"
    with tarfile.open(tpath, "w:gz") as tf:
        tf.add(src / "submission.yaml", "submission.yaml")
        tf.add(src / "pkg" / "m.py", "pkg/m.py")
    assert folder.files == 2  # __pycache__ skipped
    assert stage(zpath, tmp_path).sha256 == folder.sha256  # single top-level folder is descended into
    assert stage(tpath, tmp_path).sha256 == folder.sha256


def test_content_change_changes_hash(tmp_path):
    src = tmp_path / "sub"
    _write_tree(src)
    before = stage(src, tmp_path).sha256
    (src / "pkg" / "m.py").write_text("x = 2\n")
    assert stage(src, tmp_path).sha256 != before


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil.py", "a/../../evil.py"])
def test_tar_rejects_paths_leaving_the_tree(tmp_path, name):
    tpath = tmp_path / "bad.tar.gz"
    with tarfile.open(tpath, "w:gz") as tf:
        data = b"print(1)\n"
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    with pytest.raises(SubmissionError, match="absolute path or '..'"):
        stage(tpath, tmp_path)


def test_tar_rejects_links(tmp_path):
    tpath = tmp_path / "bad.tar.gz"
    with tarfile.open(tpath, "w:gz") as tf:
        info = tarfile.TarInfo("labels.csv")
        info.type = tarfile.SYMTYPE
        info.linkname = "/work/tasks/test.csv"
        tf.addfile(info)
    with pytest.raises(SubmissionError, match="is a link"):
        stage(tpath, tmp_path)


def test_zip_rejects_traversal_and_broken_archives(tmp_path):
    zpath = tmp_path / "bad.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("../../escape.py", "x")
    with pytest.raises(SubmissionError, match="absolute path or '..'"):
        stage(zpath, tmp_path)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(SubmissionError, match="not a readable .zip"):
        stage(broken, tmp_path)
    broken_tar = tmp_path / "broken.tar.gz"
    broken_tar.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(SubmissionError, match="not a readable .tar.gz"):
        stage(broken_tar, tmp_path)


def test_folder_link_leaving_the_tree_is_refused(tmp_path):
    src = tmp_path / "sub"
    _write_tree(src)
    secret = tmp_path / "hidden.csv"
    secret.write_text("label\nbad\n")
    os.symlink(secret, src / "labels.csv")
    with pytest.raises(SubmissionError, match="outside the submission"):
        stage(src, tmp_path)


def test_caps_on_size_and_count(tmp_path):
    src = tmp_path / "sub"
    _write_tree(src)
    (src / "big.bin").write_bytes(b"\0" * 2048)
    with pytest.raises(SubmissionError, match="larger than"):
        stage(src, tmp_path, max_bytes=1024)
    with pytest.raises(SubmissionError, match="more than 1 files"):
        stage(src, tmp_path, max_files=1)


def test_missing_and_unknown_formats(tmp_path):
    with pytest.raises(SubmissionError, match="no such file"):
        stage(tmp_path / "nope", tmp_path)
    other = tmp_path / "sub.rar"
    other.write_bytes(b"x")
    with pytest.raises(SubmissionError, match="not a folder, .zip or .tar.gz"):
        stage(other, tmp_path)


@pytest.mark.parametrize("path, name", [
    ("subs/alice", "alice"), ("alice.zip", "alice"), ("/x/alice.tar.gz", "alice"), ("alice.tgz", "alice"),
    ("alice.tar", "alice"), ("Alice.TAR.GZ", "Alice"), ("alice.v2.zip", "alice.v2"), ("alice.txt", "alice.txt"),
])
def test_submission_name_strips_every_archive_suffix_stage_accepts(path, name):
    assert submission_name(path) == name
    assert submission_name(Path(path)) == name
