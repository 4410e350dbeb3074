"""A real ``grader serve`` process on loopback for the service tests, its admin commands, and submissions to
hand in. The server runs as a subprocess (``python -m grader serve``), exactly as users start it, so killing
it is a real kill and its gradings run in the real Docker sandbox."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import QUICK_LATENCY, TASK_ID, make_submission, tasks_copy
from tests.queue.conftest import free_port

GRADER = [sys.executable, "-m", "grader"]
#: A grading of the mini submission on the quick task copy ends well within this.
GRADED_WITHIN_S = 240.0


@dataclass
class Service:
    """One ``grader serve``: start, kill (SIGKILL, as a crash), stop (SIGTERM), its admin commands, requests."""

    data: Path
    tasks: Path
    db: str | None = None
    queue: str | None = None
    extra: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data.parent / f"{self.data.name}-serve.log"

    def env(self) -> dict[str, str]:
        return {**os.environ, "GRADER_TASKS_DIR": str(self.tasks)}

    def _where(self) -> list[str]:
        return ["--data", str(self.data), *(["--db", self.db] if self.db else [])]

    def start(self, timeout: float = 60.0) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        args = [*GRADER, "serve", "--port", str(self.port), *self._where(),
                *(["--queue", self.queue] if self.queue else []), *self.extra]
        with self.log.open("ab") as log:
            log.write(f"\n--- start {self.starts}: {' '.join(args)}\n".encode())
            self.process = subprocess.Popen(args, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"grader serve exited: {self.log_text()[-3000:]}"
            try:
                if requests.get(f"{self.base}/openapi.json", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"grader serve did not answer within {timeout} s: {self.log_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the server's whole process group: no clean-up of any kind runs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def admin(self, *args: str) -> Any:
        done = subprocess.run([*GRADER, "admin", *args, *self._where(), "--json"], env=self.env(),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"grader admin {' '.join(args)}: {done.stdout}{done.stderr}"
        return json.loads(done.stdout)

    def assessment(self, *, title: str = "Take-home", task: str = TASK_ID, **options: str) -> str:
        flags = [x for k, v in options.items() for x in (f"--{k.replace('_', '-')}", str(v))]
        return self.admin("assessment", "create", "--task", task, "--title", title, *flags)["id"]

    def invite(self, assessment_id: str, name: str) -> str:
        return self.admin("invite", assessment_id, "--candidate", name, "--url", self.base)["token"]

    def interviewer(self, name: str) -> str:
        return self.admin("interviewer", "create", name)["token"]

    # -- requests ---------------------------------------------------------------------------------
    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        return requests.get(self.base + path, headers=auth(token), timeout=30, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {**auth(token), **kwargs.pop("headers", {})}
        return requests.post(self.base + path, headers=headers, timeout=60, **kwargs)

    def upload(self, token: str | None, archive: Path | bytes, filename: str = "submission.zip") -> requests.Response:
        body = archive.read_bytes() if isinstance(archive, Path) else archive
        return self.post("/api/submissions", token, files={"file": (filename, body, "application/zip")})

    def wait(self, submission_id: str, token: str, *, within: float = GRADED_WITHIN_S,
             until: tuple[str, ...] = ("graded", "invalid", "error")) -> dict[str, Any]:
        """Follow a submission until its status is one of ``until``; every status seen is kept in
        ``seen`` of the answer."""
        seen: list[str] = []
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            answer = self.get(f"/api/submissions/{submission_id}", token)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            if not seen or seen[-1] != body["status"]:
                seen.append(body["status"])
            if body["status"] in until:
                return {**body, "seen": seen}
            time.sleep(0.3)
        raise AssertionError(f"submission {submission_id} still {seen[-1:]} after {within} s; "
                             f"server log: {self.log_text()[-3000:]}")


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def zipped(folder: Path, dest: Path | None = None) -> bytes:
    """``folder`` as the .zip a candidate uploads (files at its top level); written to ``dest`` too."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    if dest is not None:
        dest.write_bytes(buffer.getvalue())
    return buffer.getvalue()


@pytest.fixture(scope="session")
def quick_tasks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The credit task with a short latency measurement and one training: the service's behaviour, fast."""
    return tasks_copy(tmp_path_factory.mktemp("service-tasks"), latency=QUICK_LATENCY, reproducibility={"runs": 1})


@pytest.fixture()
def mini_zip(tmp_path: Path) -> bytes:
    """A small valid submission (predicts the majority class: graded, not passed) as a zip."""
    return zipped(make_submission(tmp_path / "mini"))


@pytest.fixture(scope="module")
def module_service(tmp_path_factory: pytest.TempPathFactory, quick_tasks: Path) -> Iterator[Service]:
    """One started ``grader serve`` for a whole test module (its tests make their own people on it)."""
    found = Service(data=tmp_path_factory.mktemp("module") / "service", tasks=quick_tasks)
    found.start()
    yield found
    found.stop()  # SIGTERM: a grading still running closes its sandbox
    found.kill()


# -- PostgreSQL: a throwaway cluster for the tests marked `postgres` ----------------------------------------

@dataclass
class PostgresCluster:
    """A PostgreSQL cluster of its own in a temporary folder, listening on loopback only (TCP on a free port,
    its socket in that folder), trusting local connections; torn down with everything in it.

    initdb and the server refuse to run as root: as root the cluster is run as the ``postgres`` user (which
    Debian's package creates), else ``nobody``, with the folder handed to that user."""

    bin_dir: Path
    folder: Path
    port: int = field(default_factory=free_port)
    user: str = "postgres"
    databases: int = 0

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def sockets(self) -> Path:
        return self.folder / "sockets"

    @staticmethod
    def _account() -> Any:
        """The user the cluster runs as when this is root (initdb and postgres refuse root); None otherwise."""
        import pwd

        if os.geteuid() != 0:
            return None
        for name in ("postgres", "nobody"):
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
        raise AssertionError("running as root, and neither a postgres nor a nobody user to run PostgreSQL as")

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        account = self._account()
        options: dict[str, Any] = {} if account is None else {
            "user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(self.folder)}
        done = subprocess.run([str(self.bin_dir / args[0]), *args[1:]], env=env, capture_output=True, text=True,
                              timeout=120, cwd=self.folder, **options)
        assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def start(self) -> None:
        self.sockets.mkdir(parents=True, exist_ok=True)
        account = self._account()
        if account is not None:
            for path in (self.folder, self.sockets):
                os.chown(path, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", str(self.data), "--auth=trust", f"--username={self.user}", "--encoding=UTF8",
                  "--locale=C", "--no-sync")
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.sockets} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.folder / "postgres.log"),
                  "-o", options)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-t", "60", "-m", "immediate", "-D", str(self.data))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new, empty database; its ``postgresql://`` URL."""
        import psycopg

        self.databases += 1
        name = f"grader_test_{self.databases}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres",
                             autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
        return self.url(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the session (tests marked ``postgres``); each test takes a new
    database of it with :meth:`PostgresCluster.database`."""
    import shutil
    import tempfile

    from tests.helpers import postgres_bin_dir

    bin_dir = postgres_bin_dir()
    assert bin_dir is not None, "no PostgreSQL binaries: the postgres marker's guard should have skipped this"
    # Not under pytest's tmp_path: its folders are the test user's only, and the cluster may run as another user.
    cluster = PostgresCluster(bin_dir, Path(tempfile.mkdtemp(prefix="grader-tests-postgres-")))
    try:
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(cluster.folder, ignore_errors=True)
