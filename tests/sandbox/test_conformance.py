"""The behaviour every sandbox backend must have. Parametrised over backends by the ``sandbox`` fixture.

Commands use only ``python3`` and its standard library. Paths inside the sandbox are passed to
the commands through environment variables (a backend without real mounts, like ``local``,
rewrites them). Every test also gets the fixture's "nothing left behind" check.

Exit codes: a command killed by signal N reports ``-N`` (local) or ``128 + N`` (docker).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from grader.sandbox import Limits, Mount, RunResult, RunSpec, Sandbox
from grader.sandbox.base import STREAM_TAIL_BYTES

FAST = Limits(timeout_s=10, memory_mb=256, pids=64, tmp_mb=32, file_size_mb=16, open_files=256)


def run(sandbox: Sandbox, argv: list[str], *, limits: Limits = FAST, mounts: list[Mount] | None = None,
        env: dict[str, str] | None = None, workdir: str = "/workspace") -> RunResult:
    mounts = mounts if mounts is not None else [Mount("/workspace")]
    return sandbox.run(RunSpec(argv=argv, workdir=workdir, env=env or {}, mounts=mounts, limits=limits,
                               label="conformance"))


def last_json(result: RunResult) -> dict:
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line on stdout; stdout={result.stdout!r} stderr={result.stderr!r}"
    return json.loads(lines[-1])


def test_describe(sandbox: Sandbox) -> None:
    facts = sandbox.describe()
    assert facts["backend"] == sandbox.name
    assert facts["isolates"] is type(sandbox).isolates


def test_exit_code_and_streams(sandbox, py) -> None:
    r = run(sandbox, py("import sys\nprint('to-stdout')\nprint('to-stderr', file=sys.stderr)\nsys.exit(7)"))
    assert r.exit_code == 7
    assert "to-stdout" in r.stdout and "to-stderr" not in r.stdout
    assert "to-stderr" in r.stderr
    assert not (r.timed_out or r.oom_killed or r.pids_exhausted)
    assert 0 < r.duration_s < FAST.timeout_s
    assert not r.ok


def test_success_is_ok(sandbox, py) -> None:
    r = run(sandbox, py("print('fine')"))
    assert r.exit_code == 0 and r.ok, r.stderr


def test_killed_by_signal(sandbox, py) -> None:
    r = run(sandbox, py("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)"))
    assert r.exit_code in (-15, 128 + 15)
    assert not r.timed_out and not r.ok


def test_output_keeps_only_the_tail(sandbox, py) -> None:
    code = "import sys\nfor _ in range(4096):\n    sys.stdout.write('x' * 1023 + '\\n')\nprint('THE-END')"
    r = run(sandbox, py(code))
    assert r.exit_code == 0
    assert len(r.stdout.encode()) <= STREAM_TAIL_BYTES
    assert r.stdout.rstrip().endswith("THE-END")


def test_runs_unprivileged(sandbox, py) -> None:
    r = run(sandbox, py("import os, json\nprint(json.dumps([os.getuid(), os.geteuid(), os.getgid()]))"))
    uid, euid, gid = json.loads(r.stdout.strip().splitlines()[-1])
    assert uid != 0 and euid != 0 and gid != 0


def test_env_and_workdir(sandbox, py, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "here.txt").write_text("x")
    code = ("import os, json\n"
            "print(json.dumps({'foo': os.environ.get('FOO'), 'listing': sorted(os.listdir('.')),\n"
            "                  'same': os.path.samefile(os.getcwd(), os.environ['SUB'])}))")
    r = run(sandbox, py(code), mounts=[Mount("/workspace", src)], workdir="/workspace/sub",
            env={"FOO": "bar baz", "SUB": "/workspace/sub"})
    assert r.exit_code == 0, r.stderr
    assert last_json(r) == {"foo": "bar baz", "listing": ["here.txt"], "same": True}


def test_read_only_mount(sandbox, py, require, tmp_path: Path) -> None:
    require("read_only")
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("a,b\n1,2\n")
    code = """
import json, os
d = os.environ['DATA']
out = {'content': open(os.path.join(d, 'train.csv')).read(), 'wrote': []}
attempts = {
    'create': lambda: open(os.path.join(d, 'new.txt'), 'w').write('x'),
    'append': lambda: open(os.path.join(d, 'train.csv'), 'a').write('3,4\\n'),
    'mkdir': lambda: os.mkdir(os.path.join(d, 'sub')),
    'remove': lambda: os.remove(os.path.join(d, 'train.csv')),
    'chmod': lambda: os.chmod(os.path.join(d, 'train.csv'), 0o666),
}
for name, attempt in attempts.items():
    try:
        attempt()
        out['wrote'].append(name)
    except OSError:
        pass
print(json.dumps(out))
"""
    r = run(sandbox, py(code), mounts=[Mount("/workspace"), Mount("/data", data)], env={"DATA": "/data"})
    assert r.exit_code == 0, r.stderr
    out = last_json(r)
    assert out == {"content": "a,b\n1,2\n", "wrote": []}
    assert sorted(p.name for p in data.iterdir()) == ["train.csv"]
    assert (data / "train.csv").read_text() == "a,b\n1,2\n"


def test_writable_mount_is_collected(sandbox, py, tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "given.txt").write_text("given")
    collected = tmp_path / "collected"
    code = """
import os
d = os.environ['ARTIFACTS']
assert open(os.path.join(d, 'given.txt')).read() == 'given'
os.makedirs(os.path.join(d, 'nested', 'deeper'))
open(os.path.join(d, 'nested', 'deeper', 'model.bin'), 'wb').write(b'\\x00\\x01' * 1000)
open(os.path.join(d, 'given.txt'), 'a').write('+more')
"""
    r = run(sandbox, py(code), mounts=[Mount("/workspace"), Mount("/artifacts", seed, writable=True, size_mb=8,
                                                                  collect_to=collected)],
            env={"ARTIFACTS": "/artifacts"})
    assert r.exit_code == 0, r.stderr
    assert (collected / "given.txt").read_text() == "given+more"
    assert (collected / "nested" / "deeper" / "model.bin").read_bytes() == b"\x00\x01" * 1000
    assert (seed / "given.txt").read_text() == "given", "the source folder must not change"


def test_tmp_is_writable_scratch(sandbox, py) -> None:
    code = ("import json, os, tempfile\n"
            "fd, path = tempfile.mkstemp()\nos.write(fd, b'x' * 1000)\nos.close(fd)\n"
            "open('/tmp/direct.txt'.replace('/tmp', os.environ.get('SCRATCH', '/tmp')), 'w').write('y')\n"
            "print(json.dumps({'size': os.path.getsize(path)}))")
    r = run(sandbox, py(code), env={"SCRATCH": "/tmp"})
    assert r.exit_code == 0, r.stderr
    assert last_json(r) == {"size": 1000}


def test_writes_outside_writable_mounts_fail(sandbox, py, tmp_path: Path) -> None:
    src = tmp_path / "ws"
    src.mkdir()
    code = """
import json, os
places = ['/', '/etc', '/usr', '/root', '/var', os.environ['WS'], os.getcwd()]
wrote = []
for place in places:
    try:
        with open(os.path.join(place, 'grader-conformance-probe'), 'x') as f:
            f.write('x')
        wrote.append(place)
    except OSError:
        pass
print(json.dumps({'wrote': wrote}))
"""
    r = run(sandbox, py(code), mounts=[Mount("/workspace", src)], env={"WS": "/workspace"})
    assert r.exit_code == 0, r.stderr
    assert last_json(r) == {"wrote": []}
    for place in ("/", "/etc", "/usr", "/root", "/var"):
        assert not os.path.exists(os.path.join(place, "grader-conformance-probe"))


def test_timeout_kills_the_command_and_escaped_children(sandbox, py, leftovers, tmp_path: Path) -> None:
    timeout, delay = 2.0, 3.0  # the escaped grandchild would write its marker 1 s after the timeout
    collected = tmp_path / "out"
    code = f"""
import os, time
out = os.environ['OUT']
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:  # double fork: re-parented away from the command, in its own session
        with open(os.path.join(out, 'escaped.pid'), 'w') as f:
            f.write(str(os.getpid()))
        time.sleep({delay})
        with open(os.path.join(out, 'marker'), 'w') as f:
            f.write('escaped child still alive after the timeout')
        print('ESCAPED-ALIVE', flush=True)
    os._exit(0)
os.wait()
time.sleep(60)
"""
    started = time.monotonic()
    r = run(sandbox, py(code), limits=Limits(timeout_s=timeout, memory_mb=256, pids=64),
            mounts=[Mount("/workspace"), Mount("/out", writable=True, size_mb=4, collect_to=collected)],
            env={"OUT": "/out"})
    assert r.timed_out
    assert r.exit_code is None
    assert not r.ok
    assert r.duration_s < timeout + 5, "the run must stop at the timeout, not hang"
    assert (collected / "escaped.pid").exists(), "the escaped grandchild did start before the timeout"
    time.sleep(max(0.0, started + delay + 1.5 - time.monotonic()))
    assert not (collected / "marker").exists()
    assert "ESCAPED-ALIVE" not in r.stdout
    assert leftovers() == [], "the escaped grandchild must have been killed"


def test_background_children_do_not_survive_a_normal_exit(sandbox, py, leftovers) -> None:
    code = """
import os, subprocess, sys
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        import time; time.sleep(30)
    os._exit(0)
print('parent done')
"""
    r = run(sandbox, py(code))
    assert r.exit_code == 0, r.stderr
    assert leftovers() == []


def test_memory_limit_gives_oom(sandbox, py) -> None:
    limits = Limits(timeout_s=20, memory_mb=256, pids=64)
    # Touch 16 MB chunks up to 4x the limit (capped at 1 GB, harmless even if the limit failed).
    code = """
chunks = []
for _ in range(64):
    chunks.append(bytearray(16 << 20))
    chunks[-1][::4096] = b'x' * len(chunks[-1][::4096])
print('allocated', len(chunks) * 16, 'MB')
"""
    r = run(sandbox, py(code), limits=limits)
    assert r.oom_killed, (r.exit_code, r.stderr[-500:])
    assert not r.timed_out and not r.ok
    assert "allocated" not in r.stdout


def test_memory_within_the_limit_is_fine(sandbox, py) -> None:
    r = run(sandbox, py("b = bytearray(64 << 20)\nb[::4096] = b'x' * len(b[::4096])\nprint('ok')"),
            limits=Limits(timeout_s=20, memory_mb=256, pids=64))
    assert r.exit_code == 0 and not r.oom_killed, r.stderr


def test_fork_bomb_hits_the_pids_limit(sandbox, py, require) -> None:
    require("pids")
    # Bounded: at most 200 sleeping children even if the limit did not work.
    code = """
import os, sys, time
n = 0
try:
    for _ in range(200):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError as exc:
    print(f'fork failed after {n} children: {exc}', file=sys.stderr)
    sys.exit(3)
print(f'forked {n} children without hitting a limit')
"""
    limits = Limits(timeout_s=20, memory_mb=256, pids=32)
    r = run(sandbox, py(code), limits=limits)
    assert r.pids_exhausted, (r.exit_code, r.stderr[-500:])
    assert "without hitting a limit" not in r.stdout
    assert not r.timed_out, "a fork bomb must not hang the run"
    assert r.duration_s < 15


def test_a_fork_bomb_held_at_the_pids_limit_is_stopped_long_before_its_timeout(sandbox, py, require) -> None:
    from grader.evaluate.failures import classify

    require("pids")
    # A fork bomb that survives its failed forks and keeps trying; bounded in time and in children
    # (each sleeps a minute) in case the limit did not hold.
    code = """
import os, time
end = time.monotonic() + 100
while time.monotonic() < end:
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
    except OSError:
        time.sleep(0.01)
"""
    limits = Limits(timeout_s=120, memory_mb=256, pids=32)
    r = run(sandbox, py(code), limits=limits)
    assert r.pids_exhausted and not r.timed_out and r.exit_code is None, (r.exit_code, r.details, r.stderr[-500:])
    assert r.duration_s < limits.timeout_s / 3, r.duration_s
    failure = classify("train", r, limits, limits.timeout_s)
    assert failure is not None and failure.kind == "limit_exceeded"


def test_file_size_limit(sandbox, py, tmp_path: Path) -> None:
    collected = tmp_path / "out"
    code = """
import os
with open(os.path.join(os.environ['OUT'], 'big.bin'), 'wb') as f:
    for _ in range(64):
        f.write(b'x' * 65536)  # 4 MB in all
        f.flush()
print('wrote it all')
"""
    limits = Limits(timeout_s=10, memory_mb=256, pids=64, file_size_mb=1)
    r = run(sandbox, py(code), limits=limits,
            mounts=[Mount("/workspace"), Mount("/out", writable=True, size_mb=16, collect_to=collected)],
            env={"OUT": "/out"})
    assert r.exit_code != 0
    assert "wrote it all" not in r.stdout
    assert (collected / "big.bin").stat().st_size <= 1 << 20


def test_writable_mount_size_cap(sandbox, py) -> None:
    code = """
import os
with open(os.path.join(os.environ['OUT'], 'fill.bin'), 'wb') as f:
    for _ in range(128):
        f.write(b'x' * 65536)  # 8 MB into a 4 MB mount
"""
    r = run(sandbox, py(code), mounts=[Mount("/workspace"), Mount("/out", writable=True, size_mb=4)],
            env={"OUT": "/out"})
    assert "No space left on device" in r.stderr


def test_open_files_limit(sandbox, py) -> None:
    code = "files = [open('/dev/null') for _ in range(512)]\nprint('opened', len(files))"
    r = run(sandbox, py(code), limits=Limits(timeout_s=10, memory_mb=256, pids=64, open_files=64))
    assert r.exit_code != 0
    assert "Too many open files" in r.stderr


def test_no_network_interfaces_but_loopback(sandbox, py, require) -> None:
    require("network")
    r = run(sandbox, py("import json, socket\nprint(json.dumps([n for _, n in socket.if_nameindex()]))"))
    assert r.exit_code == 0, r.stderr
    assert set(last_json_list(r)) <= {"lo"}


def last_json_list(result: RunResult) -> list:
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_outbound_connection_fails(sandbox, py, require) -> None:
    require("network")
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never routed. Never target any other address here.
    code = """
import socket
try:
    socket.create_connection(('192.0.2.1', 80), timeout=3).close()
    print('CONNECTED')
except OSError as exc:
    print('FAILED', type(exc).__name__, exc)
"""
    r = run(sandbox, py(code))
    assert r.exit_code == 0, r.stderr
    assert "FAILED" in r.stdout and "CONNECTED" not in r.stdout


@pytest.mark.parametrize("target", ["relative", "/", "/workspace/../data"])
def test_bad_mount_targets_are_refused(sandbox, target: str) -> None:
    from grader.errors import SandboxError

    with pytest.raises(SandboxError):
        sandbox.run(RunSpec(argv=["python3", "-c", "pass"], mounts=[Mount("/workspace"), Mount(target)],
                            limits=FAST))


# -- the companion: a grader-owned process beside the command, out of the command's reach ------------

#: The command: serve one request on a unix socket in /tmp, then report what it could do to the companion.
SERVER = """
import json, os, signal, socket, sys, time
path = os.path.join(os.environ['SCRATCH'], 'conformance.sock')
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
os.chmod(path, 0o666)
srv.listen(1)
srv.settimeout(20)
conn, _ = srv.accept()
hello = json.loads(conn.makefile().readline())
tried = {}
def attempt(name, fn):
    try:
        fn()
        tried[name] = 'done'
    except OSError as exc:
        tried[name] = type(exc).__name__
if os.environ.get('ATTACK'):  # only where the backend says it isolates the companion
    attempt('read_private', lambda: os.listdir(os.environ['PRIVATE']))
    attempt('read_secret', lambda: open(os.path.join(os.environ['SECRET'], 'secret.txt')).read())
    attempt('read_memory', lambda: open(f"/proc/{hello['pid']}/mem", 'rb').read(1))
    attempt('signal', lambda: os.kill(hello['pid'], signal.SIGKILL))
conn.sendall(json.dumps({'uid': os.getuid(), 'tried': tried}).encode() + b'\\n')
conn.makefile().readline()  # the companion closed the connection: it is on its way out
deadline = time.monotonic() + 10
while os.path.exists(f"/proc/{hello['pid']}") and time.monotonic() < deadline:
    time.sleep(0.01)  # let it exit on its own, so its exit code is known
print(json.dumps({'uid': os.getuid(), 'hello': hello, 'tried': tried}))
"""

#: The companion: connect, say who it is, write the answer and its secret to its own output mount.
CLIENT = """
import json, os, socket, sys, time
path = os.path.join(os.environ['SCRATCH'], 'conformance.sock')
deadline = time.monotonic() + 20
while True:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        break
    except OSError:
        s.close()
        if time.monotonic() > deadline:
            raise
        time.sleep(0.02)
s.sendall(json.dumps({'pid': os.getpid(), 'uid': os.getuid()}).encode() + b'\\n')
answer = json.loads(s.makefile().readline())
secret = open(os.path.join(os.environ['SECRET'], 'secret.txt')).read()
with open(os.path.join(os.environ['PRIVATE'], 'answer.json'), 'w') as f:
    json.dump({'answer': answer, 'secret': secret, 'uid': os.getuid()}, f)
print('companion-stdout')
print('companion-stderr', file=sys.stderr)
s.close()
"""


def _companion_run(sandbox: Sandbox, py, tmp_path: Path, *, attack: bool = False) -> RunResult:
    from grader.sandbox import Companion

    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "secret.txt").write_text("hidden-inputs")
    env = {"SCRATCH": "/tmp", "PRIVATE": "/private", "SECRET": "/secret"}
    return sandbox.run(RunSpec(
        argv=py(SERVER), workdir="/workspace", env={**env, "ATTACK": "1" if attack else ""}, limits=FAST,
        label="conformance",
        mounts=[Mount("/workspace"), Mount("/secret", secret, companion_only=True),
                Mount("/private", writable=True, size_mb=4, collect_to=tmp_path / "private", companion_only=True)],
        companion=Companion(argv=py(CLIENT), env=env)))


def test_companion_talks_to_the_command_and_its_output_is_collected(sandbox, py, tmp_path: Path) -> None:
    r = _companion_run(sandbox, py, tmp_path)
    assert r.exit_code == 0, r.stderr
    assert r.companion is not None and r.companion.exit_code == 0, r.companion
    assert "companion-stdout" in r.companion.stdout and "companion-stderr" in r.companion.stderr
    assert "companion-" not in r.stdout + r.stderr, "the companion's streams are kept apart from the command's"
    saved = json.loads((tmp_path / "private" / "answer.json").read_text())
    assert saved["secret"] == "hidden-inputs" and saved["answer"]["uid"] == last_json(r)["uid"]


def test_companion_is_out_of_the_commands_reach(sandbox, py, require, tmp_path: Path) -> None:
    require("companion_isolation")
    r = _companion_run(sandbox, py, tmp_path, attack=True)
    assert r.exit_code == 0, r.stderr
    out = last_json(r)
    assert out["uid"] != out["hello"]["uid"] and 0 not in (out["uid"], out["hello"]["uid"])
    assert out["tried"] == {"read_private": "PermissionError", "read_secret": "PermissionError",
                            "read_memory": "PermissionError", "signal": "PermissionError"}
    assert r.companion is not None and r.companion.exit_code == 0


def test_companion_is_killed_when_the_command_ends(sandbox, py, leftovers, tmp_path: Path) -> None:
    from grader.sandbox import Companion

    started = time.monotonic()
    r = sandbox.run(RunSpec(argv=py("import time; time.sleep(1)"), mounts=[Mount("/workspace")], limits=FAST,
                            label="conformance",
                            companion=Companion(argv=py("import time; print('up', flush=True); time.sleep(60)"))))
    assert r.exit_code == 0 and not r.timed_out, r.stderr
    assert r.companion is not None and r.companion.exit_code is None
    assert time.monotonic() - started < 30
    assert leftovers() == []


def test_companion_is_killed_at_the_timeout(sandbox, py, leftovers) -> None:
    from grader.sandbox import Companion

    r = sandbox.run(RunSpec(argv=py("import time; time.sleep(60)"), mounts=[Mount("/workspace")],
                            limits=Limits(timeout_s=2, memory_mb=256, pids=64), label="conformance",
                            companion=Companion(argv=py("import time; time.sleep(60)"))))
    assert r.timed_out and r.companion is not None and r.companion.exit_code is None
    assert leftovers() == []


def test_companion_only_mounts_need_no_companion(sandbox, py, require, tmp_path: Path) -> None:
    require("companion_isolation")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "s.txt").write_text("x")
    code = ("import os\ntry:\n    os.listdir(os.environ['S'])\n    print('READ')\n"
            "except PermissionError:\n    print('DENIED')")
    r = run(sandbox, py(code), mounts=[Mount("/workspace"), Mount("/secret", secret, companion_only=True)],
            env={"S": "/secret"})
    assert r.exit_code == 0 and r.stdout.strip() == "DENIED", (r.stdout, r.stderr)
    assert r.companion is None
