"""A real redis-server per test, on loopback, persisting to its own folder (so a restart loses nothing, as
docs/scaling.md tells teams to run it), and the processes a queue test starts, stopped at its end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import redis_server_binary

GRADER = [sys.executable, "-m", "grader"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RedisServer:
    folder: Path
    port: int = field(default_factory=free_port)
    password: str | None = None
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = redis_server_binary()
        assert binary is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "redis.log", "ab")  # noqa: SIM115 - the server's lifetime, closed with it
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "yes",
             *(["--requirepass", self.password] if self.password else [])],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                pass
            assert self.process.poll() is None, (self.folder / "redis.log").read_text()
            time.sleep(0.05)
        raise AssertionError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: Redis writes its append-only file and exits
            self.process.wait(timeout=20)
        self.process = None


@pytest.fixture()
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@dataclass
class Processes:
    """Processes a test starts (workers, a waiting batch): whatever is still alive at its end is killed."""

    started: list[subprocess.Popen] = field(default_factory=list)

    def start(self, *args: str, env: dict[str, str], log: Path) -> subprocess.Popen:
        process = subprocess.Popen([*GRADER, *args], env=env, stdout=open(log, "wb"),  # noqa: SIM115
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append(process)
        return process

    def end(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


@pytest.fixture()
def processes() -> Iterator[Processes]:
    found = Processes()
    yield found
    found.end()
