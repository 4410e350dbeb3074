"""Sandboxes die with their grader, and prune removes only what dead sessions left.

The docker tests need an engine and the runtime image (see ``test_docker.py``); they share the
engine with other test runs, so they look only at the sessions they made.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from grader.sandbox.base import Limits
from grader.sandbox.docker import cleanup, hardening
from grader.sandbox.docker.build import Builder
from grader.sandbox.docker.cleanup import is_dead, process_start, prune, session_labels
from grader.sandbox.docker.hardening import SELF_STOP_GRACE_S, Resources
from grader.sandbox.docker.monitor import PidsWatch
from tests.helpers import docker_leftovers

REPO = Path(__file__).resolve().parents[2]


def _dead_pid() -> tuple[str, str]:
    """The pid and start time of a process that has exited."""
    proc = subprocess.Popen(["sleep", "0"])
    started = process_start(proc.pid)
    proc.wait()
    assert started is not None
    return str(proc.pid), started


# -- owners (no engine) ----------------------------------------------------------------------------

def test_whose_session_is_dead():
    me = session_labels("s")
    pid, started = _dead_pid()
    far = {**me, cleanup.HOST_LABEL: "another-host.example.test"}
    assert not is_dead(me)
    assert is_dead({**me, cleanup.PID_LABEL: pid, cleanup.PID_START_LABEL: started})
    assert is_dead({**me, cleanup.PID_START_LABEL: "1"})  # our pid, but another process's start: reused
    assert not is_dead({cleanup.SANDBOX_LABEL: "1", cleanup.SESSION_LABEL: "s"})  # no owner: only --all
    assert not is_dead(far)  # another host and no deadline: cannot tell
    assert not is_dead({**far, cleanup.DEADLINE_LABEL: str(time.time() + 60)})
    assert is_dead({**far, cleanup.DEADLINE_LABEL: str(time.time() - cleanup.OTHER_HOST_MARGIN_S - 60)})


def test_a_count_held_at_the_pids_limit_stops_the_run():
    watch = PidsWatch(limit=32, stop_after_s=5)
    assert not any(watch.sample(32, at=float(t)) for t in range(5))
    assert watch.sample(31, at=5.0)  # near the limit for 5 s, having reached it
    watch = PidsWatch(limit=32, stop_after_s=5)
    assert not any(watch.sample(32 if t % 3 else 10, at=float(t)) for t in range(30))  # keeps dropping back
    watch = PidsWatch(limit=32, stop_after_s=5)
    assert not any(watch.sample(31, at=float(t)) for t in range(30)) and not watch.exhausted  # never at it


# -- on the engine ---------------------------------------------------------------------------------

ORPHAN = """
import sys
from pathlib import Path
from grader.sandbox import Limits, Mount, RunSpec
from grader.sandbox.docker.backend import DockerSandbox
box = DockerSandbox(image=sys.argv[1])
print(box.session, flush=True)
box.run(RunSpec(["sleep", "3600"], label="orphan", limits=Limits(timeout_s=float(sys.argv[3])),
                mounts=[Mount("/data", source=Path(sys.argv[2])),
                        Mount("/workspace", writable=True, collect_to=Path(sys.argv[2]) / "out")]))
"""
TIMEOUT_S = 10.0
#: Beyond the deadline and the watchdogs' grace: the engine's own latency on a shared machine.
SLACK_S = 20.0


def _running(client, session: str) -> list[str]:
    return [c["Names"][0] for c in client.api.containers(filters={"label": [f"grader.session={session}"]})]


@pytest.mark.docker
def test_a_sigkilled_grader_leaves_nothing_running_past_the_deadline(client, image, tmp_path):
    (tmp_path / "in.txt").write_text("input")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", ORPHAN, image, str(tmp_path), str(TIMEOUT_S)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    session = ""
    try:
        session = child.stdout.readline().strip()
        assert session, child.stderr.read()
        wait_until = time.monotonic() + 60
        while not any(not name.endswith("-keeper") for name in _running(client, session)):
            assert child.poll() is None and time.monotonic() < wait_until, "the command container never started"
            time.sleep(0.1)
        started = time.monotonic()
        child.send_signal(signal.SIGKILL)  # no finally, no atexit: only the containers themselves can stop
        child.wait(timeout=30)
        bound = TIMEOUT_S + 2 * SELF_STOP_GRACE_S + SLACK_S
        while (left := _running(client, session)) and time.monotonic() - started < bound:
            time.sleep(0.5)
        assert left == [], f"still running {time.monotonic() - started:.0f} s after the run started: {left}"
        # Nobody stopped them (the grader is dead): the command's watchdog killed it at its deadline and
        # the keeper's countdown ran out. (A prune by another grader starting meanwhile may have removed
        # them already: the session is dead.)
        for info in client.api.containers(all=True, filters={"label": [f"grader.session={session}"]}):
            state = client.api.inspect_container(info["Id"])["State"]
            assert state["ExitCode"] == (0 if info["Names"][0].endswith("-keeper") else 137), (info["Names"], state)
        # The session is dead now: a plain prune (live sessions spared) removes what it left.
        prune(client)
        assert docker_leftovers(session) == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if session:
            prune(client, session)


@pytest.mark.docker
def test_prune_spares_live_sessions_and_removes_dead_ones(client, image):
    tag = uuid.uuid4().hex[:8]
    me = session_labels(f"prune-live-{tag}")
    pid, started = _dead_pid()
    far = {**me, cleanup.HOST_LABEL: "another-host.example.test"}
    sessions = {
        "live": me,
        "dead": {**me, cleanup.PID_LABEL: pid, cleanup.PID_START_LABEL: started},
        "reused": {**me, cleanup.PID_START_LABEL: "1"},
        "far-alive": {**far, cleanup.DEADLINE_LABEL: str(int(time.time()) + 3600)},
        "far-dead": {**far, cleanup.DEADLINE_LABEL: str(int(time.time()) - 3600)},
        "unknown": {cleanup.SANDBOX_LABEL: "1"},
    }
    names = {}
    try:
        for kind, labels in sessions.items():
            names[kind] = f"prune-{kind}-{tag}"
            labels = {**labels, cleanup.SESSION_LABEL: names[kind]}
            hardening.create(client.api, image, ["true"], res=Resources.of(Limits()), stop_after_s=60, labels=labels)
            client.api.create_volume(labels=labels)
        running = hardening.create(client.api, image, ["sleep", "60"], res=Resources.of(Limits()), stop_after_s=60,
                                   labels={**me, cleanup.SESSION_LABEL: names["live"]})
        client.api.start(running)
        prune(client)
        left = {kind: len(docker_leftovers(name)) for kind, name in names.items()}
        assert left == {"live": 3, "dead": 0, "reused": 0, "far-alive": 2, "far-dead": 0, "unknown": 2}
        assert client.api.inspect_container(running)["State"]["Running"]
    finally:
        for name in names.values():
            prune(client, name)


@pytest.mark.docker
def test_dockerfile_steps_get_the_runs_hardening_and_watchdog(client, image, tmp_path, monkeypatch):
    seen = []
    original = Builder._commit

    def spy(self, container):
        seen.append(self.api.inspect_container(container))
        return original(self, container)

    monkeypatch.setattr(Builder, "_commit", spy)
    (tmp_path / "Dockerfile").write_text("FROM python:3.11\nRUN echo built\n")
    from grader.sandbox.docker.backend import DockerSandbox

    box = DockerSandbox(image=image, client=client)
    try:
        result = box.build_image(tmp_path, tmp_path / "Dockerfile", Limits(memory_mb=256, pids=32, timeout_s=120))
    finally:
        box.close()
    assert result.ok, result
    step = seen[0]
    host = step["HostConfig"]
    assert host["IpcMode"] == "private" and host["OomScoreAdj"] == hardening.OOM_SCORE_ADJ
    assert host["LogConfig"]["Config"]["max-size"] == hardening.LOG_MAX_FILE_SIZE
    assert host["NetworkMode"] == "none" and host["CapDrop"] == ["ALL"] and host["Init"] is True
    assert host["SecurityOpt"] == ["no-new-privileges"] and host["PidsLimit"] == 32
    assert host["Memory"] == 256 * 2**20 and host["ReadonlyRootfs"] is False
    assert step["Config"]["Entrypoint"][0] == hardening.WATCHDOG_SHELL  # stops by itself at the build's deadline
    labels = step["Config"]["Labels"]
    assert labels[cleanup.PID_LABEL] == str(os.getpid()) and cleanup.DEADLINE_LABEL in labels
