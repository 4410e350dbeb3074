"""The docker backend: hardening really in force, limits, and nothing left behind on any exit path.

Needs a reachable engine and the runtime image (``GRADER_RUNTIME_IMAGE`` or ``grader sandbox
build``); skipped without them, except when ``CI=true`` where a missing engine is a failure.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from grader.errors import SandboxError
from grader.sandbox import Limits, Mount, RunSpec, get_backend
from grader.sandbox.base import SANDBOX_UID, STREAM_TAIL_BYTES
from grader.sandbox.docker.archive import extract_safely
from grader.sandbox.docker.backend import DockerSandbox, _Run
from grader.sandbox.docker.cleanup import prune
from tests.helpers import default_sigint, docker_leftovers

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def box(client, image):
    sandbox = DockerSandbox(image=image, client=client)
    yield sandbox
    sandbox.close()


def py(code: str, **kwargs) -> RunSpec:
    return RunSpec(["python3", "-c", textwrap.dedent(code)], **kwargs)


# -- hardening -------------------------------------------------------------------------------------

PROBE = r"""
import errno, json, os, resource
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
def try_write(path):
    try:
        with open(path, "w") as fh:
            fh.write("x")
        return "ok"
    except OSError as exc:
        return errno.errorcode[exc.errno]
def cgroup(v1, v2):
    for path in (v1, v2):
        if os.path.exists(path):
            return open(path).read().strip()
vfs = os.statvfs("/tmp")
fsize = resource.getrlimit(resource.RLIMIT_FSIZE)
big = "ok"
try:
    with open("/tmp/big", "wb") as fh:
        fh.write(b"x" * (3 << 20))
except OSError as exc:
    big = errno.errorcode[exc.errno]
os.remove("/tmp/big") if os.path.exists("/tmp/big") else None
mounts = {line.split()[1]: line.split()[3] for line in open("/proc/mounts")}
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(), "groups": os.getgroups(),
    "capeff": status["CapEff"].strip(), "capbnd": status["CapBnd"].strip(),
    "nonewprivs": status["NoNewPrivs"].strip(), "seccomp": status["Seccomp"].strip(),
    "root_write": try_write("/rootfile"), "etc_write": try_write("/etc/passwd"),
    "net": sorted(os.listdir("/sys/class/net")),
    "tmp_bytes": vfs.f_blocks * vfs.f_frsize, "tmp_opts": mounts.get("/tmp"),
    "mem_limit": cgroup("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"),
    "memsw_limit": cgroup("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", "/sys/fs/cgroup/memory.swap.max"),
    "pids_max": cgroup("/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max"),
    "fsize": fsize, "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
    "core": resource.getrlimit(resource.RLIMIT_CORE), "big_write": big,
    "cwd": os.getcwd(), "env": {k: os.environ.get(k) for k in ("HOME", "GRADER_X")},
    "pid1": open("/proc/1/cmdline").read().split("\0")[0],
}))
"""


@pytest.mark.docker
def test_hardening_in_force(box, image):
    limits = Limits(timeout_s=60, memory_mb=300, cpus=0.5, pids=64, tmp_mb=20, file_size_mb=2, open_files=200)
    result = box.run(RunSpec(["python3", "-c", PROBE], limits=limits, env={"GRADER_X": "1"}, workdir="/workspace",
                             mounts=[Mount("/workspace", writable=True)], label="probe"))
    assert result.exit_code == 0, result.stderr
    probe = json.loads(result.stdout)
    assert (probe["uid"], probe["gid"], probe["euid"]) == (SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    assert probe["groups"] in ([], [SANDBOX_UID])
    assert int(probe["capeff"], 16) == 0 and int(probe["capbnd"], 16) == 0
    assert probe["nonewprivs"] == "1"
    assert probe["seccomp"] == "2"  # the engine's default seccomp profile (filter mode)
    assert probe["root_write"] == "EROFS" and probe["etc_write"] in ("EROFS", "EACCES")
    assert probe["net"] == ["lo"]
    assert 19 * 2**20 <= probe["tmp_bytes"] <= 20 * 2**20
    assert "nosuid" in probe["tmp_opts"] and "nodev" in probe["tmp_opts"]
    assert int(probe["mem_limit"]) == 300 * 2**20
    if probe["memsw_limit"] not in (None, "max"):
        assert int(probe["memsw_limit"]) == 300 * 2**20  # no swap beyond the memory limit
    assert probe["pids_max"] == "64"
    assert probe["fsize"] == [2 * 2**20, 2 * 2**20] and probe["big_write"] == "EFBIG"
    assert probe["nofile"] == [200, 200] and probe["core"] == [0, 0]
    assert probe["cwd"] == "/workspace" and probe["env"] == {"HOME": "/tmp", "GRADER_X": "1"}
    assert "init" in probe["pid1"]
    assert result.details["image_id"].startswith("sha256:")
    assert str(result.details["container"]).startswith("grader-probe-")


@pytest.mark.docker
def test_container_options_as_inspected(box, client, monkeypatch):
    """The options as the engine recorded them, read while the command runs."""
    seen = {}
    original = _Run._wait

    def spy(self, container, deadline):
        seen.update(client.api.inspect_container(container))
        return original(self, container, deadline)

    monkeypatch.setattr(_Run, "_wait", spy)
    result = box.run(RunSpec(["true"], limits=Limits(memory_mb=128, cpus=1.5, pids=32), label="inspect"))
    assert result.exit_code == 0
    host = seen["HostConfig"]
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True and host["Init"] is True
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Memory"] == host["MemorySwap"] == 128 * 2**20
    assert host["NanoCpus"] == 1_500_000_000 and host["PidsLimit"] == 32
    assert host["LogConfig"]["Type"] == "json-file" and "max-size" in host["LogConfig"]["Config"]
    assert host["Binds"] in (None, [])  # never a host path
    assert all(m["Type"] in ("volume", "tmpfs") for m in seen["Mounts"])
    labels = seen["Config"]["Labels"]
    assert labels["grader.sandbox"] == "1" and labels["grader.session"] == box.session
    assert labels["grader.phase"] == "inspect"
    assert seen["Name"].startswith("/grader-inspect-")
    assert seen["Config"]["User"] == f"{SANDBOX_UID}:{SANDBOX_UID}"


# -- mounts ----------------------------------------------------------------------------------------

@pytest.mark.docker
def test_writable_mount_size_cap(box, tmp_path):
    code = """
    import errno
    try:
        with open("/workspace/out/big", "wb") as fh:
            for _ in range(16):
                fh.write(b"x" * (1 << 20))
                fh.flush()
        print("WROTE")
    except OSError as exc:
        print(errno.errorcode[exc.errno])
    """
    result = box.run(py(code, mounts=[Mount("/workspace/out", writable=True, size_mb=4, collect_to=tmp_path / "out")],
                        limits=Limits(file_size_mb=64)))
    assert result.stdout.strip() == "ENOSPC", result
    collected = tmp_path / "out" / "big"
    assert collected.is_file() and collected.stat().st_size <= 4 * 2**20


@pytest.mark.docker
def test_read_only_mount_content_and_collect(box, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "run.sh").write_text("#!/bin/sh\necho ran\n")
    (src / "sub" / "run.sh").chmod(0o755)
    code = """
    import errno, os, subprocess
    print(open("/data/a.txt").read(), os.stat("/data/a.txt").st_uid, oct(os.stat("/data/a.txt").st_mode & 0o777))
    print(subprocess.run(["/data/sub/run.sh"], capture_output=True, text=True).stdout.strip())
    for path in ("/data/a.txt", "/data/new"):
        try:
            open(path, "w")
        except OSError as exc:
            print(errno.errorcode[exc.errno])
    os.makedirs("/workspace/out/d")
    open("/workspace/out/d/result.txt", "w").write("beta")
    os.symlink("/etc/passwd", "/workspace/out/link")
    """
    result = box.run(py(code, mounts=[Mount("/data", source=src),
                                      Mount("/workspace", writable=True, collect_to=tmp_path / "ws")]))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split("\n")[:4] == ["alpha 0 0o444", "ran", "EROFS", "EROFS"]
    assert (tmp_path / "ws" / "out" / "d" / "result.txt").read_text() == "beta"
    assert not os.path.lexists(tmp_path / "ws" / "out" / "link")  # links never come back


# -- outcomes --------------------------------------------------------------------------------------

@pytest.mark.docker
def test_oom_killed_from_state(box, client):
    code = """
    chunks = []
    while True:
        chunks.append(bytearray(16 << 20))
    """
    result = box.run(py(code, limits=Limits(memory_mb=96, timeout_s=60), label="oom"))
    assert result.oom_killed and not result.ok
    assert result.exit_code == 137 and not result.timed_out
    assert result.peak_memory_mb is not None and result.peak_memory_mb >= 90
    assert docker_leftovers(box.session) == []


@pytest.mark.docker
def test_timeout_kills_and_cleans_up(box, client, tmp_path):
    started = time.monotonic()
    result = box.run(RunSpec(["sleep", "60"], limits=Limits(timeout_s=1.5), label="timeout",
                             mounts=[Mount("/workspace", writable=True, collect_to=tmp_path / "ws")]))
    assert result.timed_out and result.exit_code is None and not result.ok
    assert 1.4 <= result.duration_s < 5 and time.monotonic() - started < 15
    assert docker_leftovers(box.session) == []


@pytest.mark.docker
def test_pids_exhausted(box):
    code = """
    import os, time
    for i in range(200):
        try:
            if os.fork() == 0:
                time.sleep(4)
                os._exit(0)
        except OSError:
            print("fork failed at", i)
            break
    time.sleep(3)
    """
    result = box.run(py(code, limits=Limits(pids=16, timeout_s=60), label="forks"))
    assert "fork failed" in result.stdout
    assert result.pids_exhausted
    assert result.details["pids_peak"] == 16 and result.details["pids_exhausted_from"] == "stats"


@pytest.mark.docker
def test_streams_keep_tails(box):
    code = """
    import sys
    for i in range(30000):
        print("line", i)
    print("err-end", file=sys.stderr)
    """
    result = box.run(py(code))
    assert result.exit_code == 0
    assert len(result.stdout.encode()) <= STREAM_TAIL_BYTES
    assert result.stdout.endswith("line 29999\n") and result.stderr == "err-end\n"
    assert result.details["truncated_streams"] == ["stdout"]


@pytest.mark.docker
def test_argv_is_exact_and_exit_code_kept(box):
    result = box.run(RunSpec(["sh", "-c", 'printf "%s|" "$@"; exit 3', "zero", "a b", "$HOME"]))
    assert result.exit_code == 3 and result.stdout == "a b|$HOME|"


# -- nothing left behind ---------------------------------------------------------------------------

@pytest.mark.docker
def test_nothing_left_after_run(box, client, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "x").write_text("x")
    result = box.run(RunSpec(["python3", "-c", "pass"], mounts=[
        Mount("/data", source=src), Mount("/workspace", writable=True, collect_to=tmp_path / "ws"),
        Mount("/scratch", writable=True)]))
    assert result.ok
    assert docker_leftovers(box.session) == []


@pytest.mark.docker
def test_nothing_left_after_exception(box, client, tmp_path, monkeypatch):
    def boom(self, keeper, plan):
        assert docker_leftovers(box.session)  # the run's objects exist at this point
        raise RuntimeError("boom while collecting")

    monkeypatch.setattr(_Run, "_collect", boom)
    with pytest.raises(RuntimeError, match="boom"):
        box.run(RunSpec(["true"], mounts=[Mount("/workspace", writable=True, collect_to=tmp_path / "ws")]))
    assert docker_leftovers(box.session) == []


@pytest.mark.docker
def test_nothing_left_after_keyboard_interrupt(box, client, tmp_path, monkeypatch):
    original = _Run._wait

    def interrupted(self, container, deadline):
        time.sleep(0.5)
        raise KeyboardInterrupt

    monkeypatch.setattr(_Run, "_wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        box.run(RunSpec(["sleep", "60"], mounts=[Mount("/workspace", writable=True, collect_to=tmp_path / "ws")]))
    monkeypatch.setattr(_Run, "_wait", original)
    assert docker_leftovers(box.session) == []


CHILD = """
import sys
from pathlib import Path
from grader.sandbox import Mount, RunSpec, Limits
from grader.sandbox.docker.backend import DockerSandbox
box = DockerSandbox(image=sys.argv[1])
print(box.session, flush=True)
box.run(RunSpec(["sleep", "60"], label="signalled", limits=Limits(timeout_s=120),
                mounts=[Mount("/data", source=Path(sys.argv[2])),
                        Mount("/workspace", writable=True, collect_to=Path(sys.argv[2]) / "out")]))
print("run returned", flush=True)
"""


@pytest.mark.docker
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_nothing_left_after_signal_to_grader(client, image, tmp_path, signum):
    (tmp_path / "in.txt").write_text("input")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, image, str(tmp_path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env, preexec_fn=default_sigint)
    try:
        session = child.stdout.readline().strip()
        assert session, child.stderr.read()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            running = client.containers.list(filters={"label": [f"grader.session={session}", "grader.phase=signalled"]})
            if any(not c.name.endswith("-keeper") for c in running):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the sandbox container never started")
        child.send_signal(signum)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert "run returned" not in out
    expected = "KeyboardInterrupt" if signum == signal.SIGINT else ""
    assert expected in err
    # An uncaught KeyboardInterrupt makes Python die of SIGINT; SandboxTerminated exits 128 + signum.
    assert child.returncode == (-signal.SIGINT if signum == signal.SIGINT else 128 + signum)
    assert docker_leftovers(session) == []


ATEXIT_CHILD = """
import sys
from grader.sandbox import RunSpec
from grader.sandbox.docker.backend import DockerSandbox
box = DockerSandbox(image=sys.argv[1])
assert box.run(RunSpec(["true"])).ok
# Something of this session that no run removed (as if a run had been cut short).
box.client.containers.create(sys.argv[1], ["true"], network_mode="none",
                             labels={"grader.sandbox": "1", "grader.session": box.session})
print(box.session, flush=True)
"""


@pytest.mark.docker
def test_atexit_prunes_the_session(client, image):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", ATEXIT_CHILD, image], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert docker_leftovers(done.stdout.strip()) == []


@pytest.mark.docker
def test_concurrent_runs_from_threads(box, client):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda i: box.run(RunSpec(["sh", "-c", f"echo {i}"], label=f"t{i}")), range(3)))
    assert [r.stdout for r in results] == ["0\n", "1\n", "2\n"]
    assert docker_leftovers(box.session) == []


@pytest.mark.docker
def test_prune_by_session(client, image):
    ours = {"grader.sandbox": "1", "grader.session": "prune-test-a", "grader.phase": "t"}
    theirs = {**ours, "grader.session": "prune-test-b"}
    made = []
    try:
        for labels in (ours, theirs):
            made.append(client.containers.create(image, ["true"], labels=labels, network_mode="none"))
            made.append(client.volumes.create(labels=labels))
        removed = prune(client, "prune-test-a")
        assert sorted(removed) == sorted([made[0].name, made[1].name])
        assert docker_leftovers("prune-test-a") == []
        assert len(docker_leftovers("prune-test-b")) == 2
        assert sorted(prune(client, "prune-test-b")) == sorted([made[2].name, made[3].name])
    finally:
        prune(client, "prune-test-a")
        prune(client, "prune-test-b")


# -- engine errors and description -----------------------------------------------------------------

def test_unreachable_engine_raises_with_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    box = DockerSandbox(image="whatever:1")
    with pytest.raises(SandboxError) as err:
        box.run(RunSpec(["true"]))
    assert "DOCKER_HOST" in (err.value.hint or "")


@pytest.mark.docker
def test_missing_image_raises_with_hint(client):
    box = DockerSandbox(image="grader-no-such-image:0", client=client)
    with pytest.raises(SandboxError) as err:
        box.run(RunSpec(["true"]))
    assert "grader sandbox build" in (err.value.hint or "")
    assert box.describe()["image_id"] is None


@pytest.mark.docker
def test_describe(box):
    facts = box.describe()
    assert facts["backend"] == "docker" and facts["isolates"] is True
    assert facts["engine_version"] and str(facts["image_id"]).startswith("sha256:")
    assert any("cap_drop=ALL" in h for h in facts["hardening"])


def test_registered_as_docker():
    assert isinstance(get_backend("docker", image="x:y"), DockerSandbox)


# -- safe extraction (no engine needed) ------------------------------------------------------------

def _tar(entries) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, payload
                tar.addfile(info)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, payload
                tar.addfile(info)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
                tar.addfile(info)
    buf.seek(0)
    return buf


def test_extract_safely_refuses_escapes(tmp_path):
    archive = _tar([
        ("m0", "dir", None),
        ("m0/ok.txt", "file", b"fine"),
        ("m0/../escape.txt", "file", b"no"),
        ("/abs.txt", "file", b"no"),
        ("other/x", "file", b"no"),
        ("m0/link", "symlink", "/etc/passwd"),
        ("m0/link/x", "file", b"a real folder now"),
        ("m0/hard", "hardlink", "m0/ok.txt"),
        ("m0/hard_out", "hardlink", "/etc/passwd"),
        ("m0/fifo", "fifo", None),
        ("m0/d/deep.bin", "file", b"deep"),
    ])
    stats = extract_safely(archive, tmp_path / "out", root="m0", max_bytes=1 << 20)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert files == ["out", "out/d", "out/d/deep.bin", "out/hard", "out/link", "out/link/x", "out/ok.txt"]
    assert not (tmp_path / "escape.txt").exists()
    assert (tmp_path / "out" / "hard").read_bytes() == b"fine"
    assert stats["n_skipped"] == 6 and not stats["truncated"]


def test_extract_safely_caps_size(tmp_path):
    archive = _tar([("m0/a", "file", b"x" * 600), ("m0/b", "file", b"y" * 600)])
    stats = extract_safely(archive, tmp_path / "out", root="m0", max_bytes=1000)
    assert stats["truncated"] and stats["files"] == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a"]


@pytest.mark.parametrize("spec", [
    RunSpec([]),
    RunSpec(["true"], workdir="relative"),
    RunSpec(["true"], mounts=[Mount("relative")]),
    RunSpec(["true"], mounts=[Mount("/a/../b")]),
    RunSpec(["true"], mounts=[Mount("/proc/x")]),
    RunSpec(["true"], mounts=[Mount("/a"), Mount("/a", writable=True)]),
    RunSpec(["true"], mounts=[Mount("/a", source=Path("/nonexistent-source"))]),
], ids=["empty-argv", "relative-workdir", "relative-target", "dotdot-target", "proc-target", "twice", "no-source"])
def test_malformed_spec_raises_before_touching_the_engine(spec):
    box = DockerSandbox(image="never-used:1")  # no client: validation comes first
    with pytest.raises(SandboxError):
        box.run(spec)
    assert box._client is None


def test_existing_collect_to_is_refused(tmp_path):
    box = DockerSandbox(image="never-used:1")
    with pytest.raises(SandboxError, match="already exists"):
        box.run(RunSpec(["true"], mounts=[Mount("/w", writable=True, collect_to=tmp_path)]))
