"""What a person waiting for the runtime image is told: who holds the build lock, and how far the
build's long pip step has got (a first build takes minutes; silence there looks like a hang)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from grader.sandbox.docker import image

HOLDER = """
import sys, time
from grader.sandbox.docker.image import _build_lock
with _build_lock():
    print("held", flush=True)
    time.sleep(float(sys.argv[1]))
"""


def test_waiting_for_another_build_is_said_with_its_holder(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, "1.5"], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "GRADER_CACHE_DIR": str(tmp_path)})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        said: list[str] = []
        started = time.monotonic()
        with image._build_lock(said.append, poll=0.05, every=0.4):
            waited = time.monotonic() - started
            assert (tmp_path / "build.lock").read_text().startswith(f"pid {os.getpid()} ")
    finally:
        holder.wait(timeout=30)
    assert waited > 0.5, "the lock was taken while another build held it"
    assert said[0].startswith("waiting for another build of the runtime image to finish")
    assert f"pid {holder.pid} " in said[0] and str(tmp_path / "build.lock") in said[0]
    assert any(line.startswith("still waiting for the other build") for line in said[1:-1]), said
    assert said[-1].startswith("the other build finished after")
    assert (tmp_path / "build.lock").read_text() == "", "the lock file still names a holder after release"


def test_an_unheld_lock_is_taken_without_a_word(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path))
    said: list[str] = []
    with image._build_lock(said.append):
        pass
    assert said == []


PIP_OUTPUT = """Step 4/12 : RUN python3 -m venv /opt/venv  && /opt/venv/bin/pip install ...
 ---> Running in 0123456789ab
Looking in links: /wheels
Processing /wheels/numpy-2.4.6-cp311-cp311-manylinux_2_17_x86_64.whl
Processing /wheels/scipy-1.16.0-cp311-cp311-manylinux_2_17_x86_64.whl
Processing /wheels/torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl
Installing collected packages: numpy, scipy, torch
Successfully installed numpy-2.4.6 scipy-1.16.0 torch-2.13.0+cpu
Step 5/12 : FROM grader-base:bookworm
"""


def test_the_pip_step_reports_its_progress():
    said: list[str] = []
    progress = image._BuildProgress(said.append, wheels=3)
    for line in PIP_OUTPUT.splitlines():
        progress.line(line.strip())
    assert said[0].startswith("Step 4/12")
    assert "pip: 1 of 3 wheels read (numpy)" in said
    assert "pip: 3 of 3 wheels read (torch)" in said, "the last wheel is always said"
    assert any(line.startswith("pip: installing 3 packages") for line in said)
    assert said[-1].startswith("Step 5/12")


def test_a_silent_step_is_said_to_be_still_running():
    said: list[str] = []
    progress = image._BuildProgress(said.append, wheels=1)
    progress.say("pip: installing 80 packages into /opt/venv")
    with image._heartbeat(progress, every=0.2):
        time.sleep(0.7)
    still = [line for line in said if "still running" in line]
    assert still and still[0].startswith("pip: installing 80 packages into /opt/venv (still running, ")
