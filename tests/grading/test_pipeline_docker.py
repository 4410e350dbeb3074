"""End-to-end grading in the real Docker sandbox: every way a submission can fail, and the happy path."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pandas as pd
import pytest

from grader.grading.pipeline import Grader
from tests.helpers import MINI_MODEL, QUICK_LATENCY, TASK_DIR, make_submission, tasks_copy

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("nothing_left")]


@pytest.fixture(scope="module")
def fast_tasks(tmp_path_factory):
    return tasks_copy(tmp_path_factory.mktemp("tasks"), latency=QUICK_LATENCY, train_timeout_s=60,
                      predict_timeout_s=90, memory_mb=384, pids=48, artifacts_mb=8)


def grade(docker_box, tasks_root, submission: Path, out: Path, **limits):
    if limits:
        tasks_root = tasks_copy(out.parent / f"tasks-{out.name}", latency=QUICK_LATENCY, **limits)
    return Grader(docker_box, tasks_root=tasks_root).grade(submission, out_dir=out)


def only_failure(report):
    assert len(report.failures) == 1, report.failures
    return report.failures[0]


def test_mini_submission_is_graded(docker_box, fast_tasks, tmp_path):
    report = grade(docker_box, fast_tasks, make_submission(tmp_path / "s"), tmp_path / "out")
    assert report.status == "graded" and report.failures == []
    assert report.metrics["recall"] == 0.0  # majority class never predicts "bad"
    assert report.passed is False and report.exit_code == 1
    assert report.latency.measured and report.latency.count >= 20 and report.latency.p50_ms > 0
    assert report.environment.sandbox.image_id
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["status"] == "graded" and saved["submission"]["sha256"] == report.submission.sha256
    assert len(pd.read_csv(tmp_path / "out" / "predictions.csv")) == sum(map(sum, report.confusion_matrix["matrix"]))


def test_crash_in_train_shows_stderr_tail(docker_box, fast_tasks, tmp_path):
    train = "import sys\nprint('loading data', file=sys.stderr)\nraise RuntimeError('boom in training')\n"
    report = grade(docker_box, fast_tasks, make_submission(tmp_path / "s", train=train), tmp_path / "out")
    failure = only_failure(report)
    assert (report.status, failure.phase, failure.kind) == ("graded", "train", "crash")
    assert "exit code 1" in failure.message and "RuntimeError: boom in training" in failure.detail
    assert report.exit_code == 1 and "predict" not in report.phases


def test_timeout_kills_training(docker_box, fast_tasks, tmp_path):
    train = "import time\nprint('starting', flush=True)\ntime.sleep(120)\n"
    started = time.monotonic()
    report = grade(docker_box, fast_tasks, make_submission(tmp_path / "s", train=train), tmp_path / "out",
                   train_timeout_s=3)
    failure = only_failure(report)
    assert failure.kind == "timeout" and "within 3 s" in failure.message
    assert report.phases["train"].timed_out and time.monotonic() - started < 60


def test_oom_is_detected(docker_box, fast_tasks, tmp_path):
    train = "chunks = []\nwhile True:\n    chunks.append(bytearray(32 * 1024 * 1024))\n"
    report = grade(docker_box, fast_tasks, make_submission(tmp_path / "s", train=train), tmp_path / "out")
    failure = only_failure(report)
    assert failure.kind == "oom" and "384 MB" in failure.message and report.phases["train"].oom_killed


def test_fork_bomb_hits_the_process_limit(docker_box, fast_tasks, tmp_path):
    train = """
    import os, time
    for _ in range(10_000):
        try:
            os.fork()
        except OSError:
            break
    time.sleep(2)
    """
    report = grade(docker_box, fast_tasks, make_submission(tmp_path / "s", train=train), tmp_path / "out",
                   train_timeout_s=15)
    failure = only_failure(report)
    assert failure.kind == "limit_exceeded" and "processes" in failure.message


def test_network_is_unreachable(docker_box, fast_tasks, tmp_path):
    train = """
    import socket, sys
    print("interfaces:", [name for _, name in socket.if_nameindex()], file=sys.stderr)
    socket.create_connection(("192.0.2.1", 80), timeout=5)
    """
    report = grade(docker_box, fast_tasks, make_submission(tmp_path / "s", train=train), tmp_path / "out")
    failure = only_failure(report)
    assert failure.kind == "crash" and "no network" in failure.message
    assert "interfaces: ['lo']" in failure.detail and "Network is unreachable" in failure.detail


@pytest.mark.parametrize("target", ["/workspace/model.json", "/etc/model.json", "/model.json", "/data/x.csv"])
def test_writing_outside_artifacts_fails(docker_box, fast_tasks, tmp_path, target):
    train = f"open({target!r}, 'w').write('x')\n"
    report = grade(docker_box, fast_tasks, make_submission(tmp_path / "s", train=train), tmp_path / "out")
    failure = only_failure(report)
    assert failure.kind == "crash"
    assert "Read-only file system" in failure.detail or "Permission denied" in failure.detail
    assert "/artifacts" in failure.message


def test_artifacts_disk_cap(docker_box, fast_tasks, tmp_path):
    # 20 MiB into an /artifacts capped at 8 MB
    train = "import os\nopen(os.environ['GRADER_ARTIFACTS_DIR'] + '/m.bin', 'wb').write(b'0' * (20 << 20))\n"
    report = grade(docker_box, fast_tasks, make_submission(tmp_path / "s", train=train), tmp_path / "out")
    failure = only_failure(report)
    assert failure.kind == "limit_exceeded" and "8 MB for /artifacts" in failure.message


@pytest.mark.parametrize("predict, message", [
    ("return [self.label] * (len(inputs) - 1)", "predictions for"),
    ("return [0] * len(inputs)", "not among the task's classes"),
    ("return [None] * len(inputs)", "predictions are missing"),
])
def test_malformed_predictions(docker_box, fast_tasks, tmp_path, predict, message):
    model = MINI_MODEL.replace("return [self.label] * len(inputs)", predict)
    report = grade(docker_box, fast_tasks, make_submission(tmp_path / "s", model=model), tmp_path / "out")
    failure = only_failure(report)
    assert (failure.phase, failure.kind) == ("predict", "invalid_output") and message in failure.message
    assert report.passed is False and report.exit_code == 1


def test_load_failure_is_a_crash_with_traceback(docker_box, fast_tasks, tmp_path):
    model = "def load(artifacts_dir):\n    raise ValueError('cannot find weights')\n"
    report = grade(docker_box, fast_tasks, make_submission(tmp_path / "s", model=model), tmp_path / "out")
    failure = only_failure(report)
    assert failure.kind == "crash" and "model:load('/artifacts') raised" in failure.message
    assert "ValueError: cannot find weights" in failure.detail


SCANNER = """
import hashlib, os, sys

def scan(needles, features, controls):
    # Hash every line of every readable file in this container and compare with the hashes of
    # hidden rows. Only hashes travel in this source, so the scanner cannot find itself.
    found, leaked, seen, files = [], [], set(), 0
    skip = ("/proc", "/sys", "/dev")
    paths = []
    for top, dirs, names in os.walk("/", followlinks=False):
        if top.startswith(skip):
            dirs[:] = []
            continue
        paths += [os.path.join(top, n) for n in names]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            paths += [f"/proc/{pid}/environ", f"/proc/{pid}/cmdline"]
    for path in paths:
        try:
            if os.path.islink(path) or (not path.startswith("/proc") and os.path.getsize(path) > 64 * 1024 * 1024):
                continue
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        files += 1
        for line in data.replace(b"\\0", b"\\n").splitlines():
            if 16 <= len(line) <= 512:
                digest = hashlib.sha256(line.strip()).hexdigest()
                if digest in needles:
                    found.append(path)
                if digest in features:
                    leaked.append(path)
                if digest in controls:
                    seen.add(digest)
    print(f"SCANNED {files} files; found hidden labels in {sorted(set(found))}; "
          f"hidden features in {sorted(set(leaked))}; controls seen {len(seen)}/{len(controls)}", file=sys.stderr)
"""


def _hashes(lines: list[bytes]) -> set[str]:
    return {hashlib.sha256(line.strip()).hexdigest() for line in lines}


def test_hidden_labels_never_enter_any_container(docker_box, fast_tasks, tmp_path):
    hidden = (TASK_DIR / "data" / "test.csv").read_bytes().splitlines()
    header = hidden[0].split(b",")
    label_at = header.index(b"Status")
    rows = [r for r in hidden[1:] if r.count(b",") == len(header) - 1]
    # Needles: every hidden row with its label, and without it (the features reach the candidate's
    # process only one request at a time, never as a file it can read). Controls prove the scanner
    # finds what IS there: a public valid row while training, a line of the grader's harness while predicting.
    needles = _hashes(rows)
    features = _hashes([b",".join(v for i, v in enumerate(r.split(b",")) if i != label_at) for r in rows])
    valid_row = (TASK_DIR / "data" / "valid.csv").read_bytes().splitlines()[1]
    harness_line = b'CODE_SUFFIXES = (".py", ".pyc", ".pyi", ".so", ".pyd", ".pth")'
    assert harness_line in Path("grader/runtime/harness.py").read_bytes()
    train = SCANNER + f"\nscan({needles!r}, {features!r}, {_hashes([valid_row])!r})\n" + \
        "open(os.path.join(os.environ['GRADER_ARTIFACTS_DIR'], 'model.json'), 'w').write('{\"label\": \"good\"}')\n"
    model = SCANNER + MINI_MODEL.replace(
        "def load(artifacts_dir):",
        f"def load(artifacts_dir):\n    scan({needles!r}, {features!r}, {_hashes([harness_line])!r})")
    # One training run: a repeated run's containers are made exactly like the first's.
    report = grade(docker_box, fast_tasks, make_submission(tmp_path / "s", train=train, model=model), tmp_path / "out",
                   reproducibility={"runs": 1}, train_timeout_s=300, predict_timeout_s=300, memory_mb=1024)
    assert report.failures == [], report.failures
    logs = tmp_path / "out" / "logs"
    for phase in ("train", "predict"):
        line = [ln for ln in (logs / f"{phase}.stderr.log").read_text().splitlines() if ln.startswith("SCANNED")][0]
        assert "found hidden labels in []" in line, line
        assert "hidden features in []" in line, line
        assert "controls seen 1/1" in line, line  # the scanner does find what IS there
        assert int(line.split()[1]) > 1000, line  # it really walked the whole file system


def test_invalid_submission_exits_3_without_running(docker_box, fast_tasks, tmp_path):
    sub = make_submission(tmp_path / "s")
    (sub / "requirements.txt").write_text("pandas\n")
    report = grade(docker_box, fast_tasks, sub, tmp_path / "out")
    assert report.status == "invalid" and report.exit_code == 3 and report.phases == {}
    assert only_failure(report).kind == "invalid_submission"
