"""Behaviour only the ``local`` backend has: the loud warning, path rewriting, clean-up, its own modes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.errors import SandboxError
from grader.sandbox import Companion, Limits, Mount, RunSpec, backends, get_backend
from grader.sandbox.base import STREAM_TAIL_BYTES
from grader.sandbox.local import backend as local
from grader.sandbox.local.backend import LOCAL_WARNING, LocalSandbox, LocalSandboxWarning
from tests.helpers import sigint_raises

LIMITS = Limits(timeout_s=10, memory_mb=256, pids=64, tmp_mb=32)
ROOT = os.geteuid() == 0


def make(runs: Path, **options: object) -> LocalSandbox:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LocalSandboxWarning)
        return LocalSandbox(base_dir=runs, **options)  # type: ignore[arg-type]


@pytest.fixture
def runs() -> Iterator[Path]:
    # Not under pytest's tmp_path: its parents are 0700, and without a mount namespace the
    # sandbox uid must be able to walk to the run folder.
    path = Path(tempfile.mkdtemp(prefix="grader-local-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=[pytest.param(True, id="namespaces"), pytest.param(False, id="no-namespaces")])
def box(request: pytest.FixtureRequest, runs: Path, leftover_checks) -> Iterator[LocalSandbox]:
    sb = make(runs, namespaces=request.param)
    yield sb
    assert leftover_checks["local"](sb) == []


def spec(code: str, **kw: object) -> RunSpec:
    kw.setdefault("mounts", [Mount("/workspace")])
    kw.setdefault("limits", LIMITS)
    return RunSpec(argv=["python3", "-c", code], **kw)  # type: ignore[arg-type]


def test_registered() -> None:
    assert backends.get("local") is LocalSandbox
    assert LocalSandbox.isolates is False


def test_warns_loudly_once_per_instance(runs: Path, caplog: pytest.LogCaptureFixture) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb = get_backend("local", base_dir=runs)
        sb.run(spec("pass"))
        sb.run(spec("pass"))
    ours = [w for w in caught if issubclass(w.category, LocalSandboxWarning)]
    assert len(ours) == 1 and "does NOT isolate" in str(ours[0].message)
    assert any("does NOT isolate" in rec.getMessage() for rec in caplog.records)


def test_describe_and_results_say_it_does_not_isolate(box: LocalSandbox) -> None:
    facts = box.describe()
    assert facts["isolates"] is False and facts["warning"] == LOCAL_WARNING
    r = box.run(spec("print('hi')"))
    assert r.exit_code == 0, r.stderr
    assert r.details["isolates"] is False and r.details["warning"] == LOCAL_WARNING
    assert r.details["network_isolated"] is ("network" not in box.describe()["unenforced"])


def test_paths_are_rewritten(box: LocalSandbox, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "f.txt").write_text("content")
    code = ("import json, os, sys\n"
            "print(json.dumps({'argv': sys.argv[1:], 'cwd': os.getcwd(), 'env': {k: os.environ[k] for k in\n"
            "  ('D', 'LIST', 'OTHER', 'NEAR', 'TMPDIR', 'HOME')}, 'read': open(sys.argv[1]).read()}))")
    s = RunSpec(argv=["python3", "-c", code, "/data/f.txt", "/data", "/workspacex", "--out=/data"],
                workdir="/data", env={"D": "/data", "LIST": "/data:/usr/lib:/workspace/a", "OTHER": "plain /data",
                                      "NEAR": "/database"},
                mounts=[Mount("/workspace"), Mount("/data", data)], limits=LIMITS)
    r = box.run(s)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    mapped = out["cwd"]
    assert mapped.endswith("/fs/data") and mapped.startswith(str(box.base_dir))
    base = mapped[: -len("/data")]
    assert out["argv"] == [f"{base}/data/f.txt", f"{base}/data", "/workspacex", "--out=/data"]
    assert out["read"] == "content"
    assert out["env"] == {"D": f"{base}/data", "LIST": f"{base}/data:/usr/lib:{base}/workspace/a",
                          "OTHER": "plain /data", "NEAR": "/database",
                          "TMPDIR": f"{base}/tmp", "HOME": f"{base}/tmp"}


def test_run_folder_removed_after_success_failure_and_timeout(box: LocalSandbox, runs: Path) -> None:
    assert box.run(spec("print(1)")).exit_code == 0
    assert box.run(spec("raise SystemExit(2)")).exit_code == 2
    r = box.run(spec("import time; time.sleep(30)", limits=Limits(timeout_s=1)))
    assert r.timed_out
    assert list(runs.iterdir()) == []


def test_run_folder_removed_after_keyboard_interrupt(box: LocalSandbox, runs: Path) -> None:
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with sigint_raises(), pytest.raises(KeyboardInterrupt):
            box.run(spec("import os, time\nif os.fork() == 0:\n    os.setsid()\ntime.sleep(30)",
                         limits=Limits(timeout_s=30)))
    finally:
        timer.cancel()
    assert time.monotonic() - started < 10
    assert list(runs.iterdir()) == []  # the fixture then checks no process is left


def test_stalled_supervisor_is_killed(runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      leftover_checks) -> None:
    fake = tmp_path / "stuck_supervisor.py"
    fake.write_text("import time\ntime.sleep(60)\n")
    monkeypatch.setattr(local, "SUPERVISOR", str(fake))
    sb = make(runs, setup_timeout_s=1.0)
    monkeypatch.setattr(sb, "_probe", {})
    started = time.monotonic()
    with pytest.raises(SandboxError, match="stalled"):
        sb.run(spec("pass"))
    assert time.monotonic() - started < 10
    assert list(runs.iterdir()) == []
    assert leftover_checks["local"](sb) == []


def test_killed_by_signal_is_negative_and_not_oom(box: LocalSandbox) -> None:
    r = box.run(spec("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"))
    assert r.exit_code == -signal.SIGKILL
    assert not r.oom_killed and not r.timed_out


def test_collect_drops_links_leaving_the_tree(box: LocalSandbox, tmp_path: Path) -> None:
    out = tmp_path / "collected"
    code = ("import os\nd = os.environ['OUT']\nopen(os.path.join(d, 'real.txt'), 'w').write('r')\n"
            "os.symlink('/etc/passwd', os.path.join(d, 'abs'))\nos.symlink('../../..', os.path.join(d, 'up'))\n"
            "os.symlink('real.txt', os.path.join(d, 'rel'))\nos.mkfifo(os.path.join(d, 'fifo'))")
    r = box.run(spec(code, mounts=[Mount("/workspace"), Mount("/out", writable=True, collect_to=out)],
                     env={"OUT": "/out"}))
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["real.txt", "rel"]
    assert os.readlink(out / "rel") == "real.txt"
    assert sorted(r.details["skipped_on_collect"]) == ["abs", "fifo", "up"]


def test_unenforced_limits_are_declared(runs: Path) -> None:
    plain = make(runs, namespaces=False)
    assert {"network", "mount_size"} <= set(plain.describe()["unenforced"])
    assert plain.describe()["network_isolated"] is False


def test_mount_overflow_is_reported_without_tmpfs(runs: Path) -> None:
    sb = make(runs, namespaces=False)
    code = "import os\nopen(os.path.join(os.environ['OUT'], 'f'), 'wb').write(b'x' * (3 << 20))"
    r = sb.run(spec(code, mounts=[Mount("/workspace"), Mount("/out", writable=True, size_mb=1)], env={"OUT": "/out"}))
    assert r.exit_code == 0
    assert "No space left on device" in r.stderr and r.details["mount_over_size"]


@pytest.mark.skipif(not ROOT, reason="needs root (namespaces and uid drop)")
def test_root_mode_hides_host_scratch_and_uses_a_dedicated_uid(runs: Path, leftover_checks) -> None:
    sb = make(runs)
    marker = Path("/tmp") / f"grader-host-only-{uuid.uuid4().hex}"
    marker.write_text("host")
    try:
        code = (f"import json, os\nopen('/tmp/from-sandbox-{marker.name}', 'w').write('x')\n"
                f"print(json.dumps({{'sees_host': os.path.exists('{marker}'), 'uid': os.getuid(),\n"
                "  'pids': [p for p in os.listdir('/proc') if p.isdigit()]}))")
        r = sb.run(spec(code))
    finally:
        marker.unlink()
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["sees_host"] is False
    assert not Path(f"/tmp/from-sandbox-{marker.name}").exists()
    assert local.UID_BASE <= out["uid"] < local.UID_BASE + local.UID_SPAN
    assert len(out["pids"]) <= 3  # its own pid namespace: the shim and the command
    assert leftover_checks["local"](sb) == []


@pytest.mark.skipif(not ROOT, reason="needs root (uid drop)")
def test_unreachable_run_folder_is_refused_without_namespaces(tmp_path: Path) -> None:
    sb = make(tmp_path, namespaces=False)  # pytest's tmp_path sits in a 0700 folder
    with pytest.raises(SandboxError, match="cannot enter"):
        sb.run(spec("pass"))
    assert list(tmp_path.iterdir()) == []


def test_bad_collect_to_is_refused_before_running(box: LocalSandbox, tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="already exists"):
        box.run(spec("pass", mounts=[Mount("/out", writable=True, collect_to=tmp_path)]))


# -- the companion ------------------------------------------------------------------------------------

def test_companion_streams_apart_and_its_exit_status(box: LocalSandbox) -> None:
    """Its streams come back apart (tails only), its argv/env are rewritten, and it ran before the command ended."""
    code = ("import json, os, sys\nsys.stdout.write('x' * 200_000 + '\\n')\n"
            "print(json.dumps({'argv': sys.argv[1:], 'home': os.environ['HOME'], 'd': os.environ['D']}))\n"
            "print('companion-err', file=sys.stderr)\nsys.exit(3)")
    s = spec("import time; print('cmd-out'); time.sleep(2)",
             companion=Companion(argv=["python3", "-c", code, "/workspace/a"], env={"D": "/tmp/x.sock"}))
    r = box.run(s)
    assert r.exit_code == 0 and r.stdout.strip() == "cmd-out" and r.stderr == "", r.stderr
    assert r.companion is not None and r.companion.exit_code == 3, r.companion
    assert r.companion.stderr == "companion-err\n"
    assert len(r.companion.stdout.encode()) <= STREAM_TAIL_BYTES
    out = json.loads(r.companion.stdout.splitlines()[-1])
    base = out["home"][: -len("/tmp")]
    assert out["home"].startswith(str(box.base_dir)) and out["d"] == f"{base}/tmp/x.sock"
    assert out["argv"] == [f"{base}/workspace/a"]


def test_no_companion_no_companion_result(box: LocalSandbox) -> None:
    r = box.run(spec("pass"))
    assert r.exit_code == 0 and r.companion is None and "companion_uid" not in r.details


#: The command: wait for the companion's pid in the shared /tmp, then try to reach it and its folder.
REACH = """
import json, os, signal, time
path = os.path.join(os.environ['TMPDIR'], 'companion.pid')
while not os.path.exists(path) or not open(path).read().endswith('\\n'):
    time.sleep(0.02)
pid = int(open(path).read())
tried = {}
for name, fn in {'signal': lambda: os.kill(pid, signal.SIGKILL),
                 'memory': lambda: open(f'/proc/{pid}/mem', 'rb').read(1),
                 'private': lambda: os.listdir(os.environ['PRIVATE'])}.items():
    try:
        fn()
        tried[name] = 'done'
    except OSError as exc:
        tried[name] = type(exc).__name__
print(json.dumps({'uid': os.getuid(), 'tried': tried}))
"""
WAIT = ("import os, time\nopen(os.path.join(os.environ['TMPDIR'], 'companion.pid'), 'w').write(f'{os.getpid()}\\n')\n"
        "open(os.path.join(os.environ['PRIVATE'], 'mine.txt'), 'w').write(str(os.getuid()))\ntime.sleep(60)")


@pytest.mark.skipif(not ROOT, reason="needs root (a uid of its own for the companion)")
@pytest.mark.parametrize("fixed_uid", [False, True], ids=["dedicated", "fixed-uid"])
@pytest.mark.parametrize("namespaces", [True, False], ids=["namespaces", "no-namespaces"])
def test_companion_runs_as_another_dedicated_uid(runs: Path, tmp_path: Path, leftover_checks, namespaces: bool,
                                                 fixed_uid: bool) -> None:
    uid = local.UID_BASE + local.UID_SPAN - 1 if fixed_uid else None
    sb = make(runs, namespaces=namespaces, uid=uid)
    private = tmp_path / "private"
    r = sb.run(spec(REACH, env={"PRIVATE": "/private"},
                    mounts=[Mount("/workspace"), Mount("/private", writable=True, collect_to=private,
                                                         companion_only=True)],
                    companion=Companion(argv=["python3", "-c", WAIT], env={"PRIVATE": "/private"})))
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["tried"] == {"signal": "PermissionError", "memory": "PermissionError", "private": "PermissionError"}
    companion_uid = r.details["companion_uid"]
    assert isinstance(companion_uid, int) and local.UID_BASE <= companion_uid < local.UID_BASE + local.UID_SPAN
    assert companion_uid != out["uid"] and (uid is None or out["uid"] == uid)
    assert r.companion is not None and r.companion.exit_code is None, r.companion  # killed, still sleeping
    assert (private / "mine.txt").read_text() == str(companion_uid)
    assert leftover_checks["local"](sb) == []


def test_companion_isolation_is_declared_when_not_root(runs: Path) -> None:
    sb = make(runs, namespaces=False)
    assert ("companion_isolation" in sb.describe()["unenforced"]) is not ROOT
    sb.privileged = False
    assert "companion_isolation" in sb.unenforced()
