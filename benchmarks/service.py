"""What ``grader serve`` costs on top of ``grader grade``, and how many status reads it answers.

(a) Upload-to-report: the reference submission of the credit task handed in through the service's API
    (``POST /api/submissions``, then ``GET /api/submissions/{id}`` until it is graded and report.json
    is readable) against ``grader grade`` of the same archive in a child process; both on this machine's
    Docker engine, both without MLflow, each run ``--repeat`` times, alternating. Printed side by side with
    their ratio.
(b) ``GET /api/submissions/{id}`` of a graded submission under a short, bounded load on loopback:
    ``--clients`` threads, each with its own keep-alive connection, for ``--seconds``; requests per second
    and the latency percentiles. The server runs with its default single uvicorn process.

Run: `python -m benchmarks.service [--repeat N] [--clients C] [--seconds S] [--only a|b]`.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tasks" / "tabular" / "credit-default" / "examples" / "reference"
GRADER = [sys.executable, "-m", "grader"]


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A ``grader serve`` on loopback with its own data folder, and one candidate's token."""

    def __init__(self, data: Path) -> None:
        self.data, self.port = data, _port()
        self.process: subprocess.Popen[bytes] | None = None
        self.token = ""

    def admin(self, *args: str) -> dict:
        done = subprocess.run([*GRADER, "admin", *args, "--data", str(self.data), "--json"], capture_output=True,
                              text=True, check=True)
        return json.loads(done.stdout)

    def __enter__(self) -> Server:
        assessment = self.admin("assessment", "create", "--task", "tabular/credit-default", "--title", "bench")["id"]
        self.token = self.admin("invite", assessment, "--candidate", "bench")["token"]
        log = open(self.data.parent / "serve.log", "wb")  # noqa: SIM115 - the server's lifetime
        self.process = subprocess.Popen([*GRADER, "serve", "--port", str(self.port), "--data", str(self.data),
                                         "--no-mlflow"], stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _ = self.request("GET", "/openapi.json")
                if status == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("grader serve did not start; see serve.log")

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers={"Authorization": f"Bearer {self.token}",
                                                                 **(headers or {})})
            answer = connection.getresponse()
            return answer.status, answer.read()
        finally:
            connection.close()

    def upload(self, archive: bytes) -> str:
        boundary = "grader-bench-boundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"reference.zip\"\r\n"
                f"Content-Type: application/zip\r\n\r\n").encode() + archive + f"\r\n--{boundary}--\r\n".encode()
        status, answer = self.request("POST", "/api/submissions", body,
                                      {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        if status != 202:
            raise RuntimeError(f"upload answered {status}: {answer[:300]!r}")
        return json.loads(answer)["id"]

    def graded(self, submission_id: str) -> dict:
        while True:
            status, answer = self.request("GET", f"/api/submissions/{submission_id}")
            body = json.loads(answer)
            if body["status"] in ("graded", "invalid", "error"):
                report_status, _ = self.request("GET", f"/api/submissions/{submission_id}/report.json")
                if report_status != 200:
                    raise RuntimeError(f"report.json answered {report_status}")
                return body
            time.sleep(0.1)


def through_service(server: Server, archive: bytes) -> float:
    started = time.perf_counter()
    body = server.graded(server.upload(archive))
    took = time.perf_counter() - started
    if body["status"] != "graded":
        raise RuntimeError(f"the reference ended {body['status']}: {body['reason']}")
    return took


def through_cli(archive: Path, out: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([*GRADER, "grade", str(archive), "--out", str(out), "--no-mlflow"], capture_output=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"grader grade exited {done.returncode}: {done.stderr[-500:]!r}")
    return took


def load(server: Server, submission_id: str, clients: int, seconds: float) -> tuple[int, list[float], int]:
    """Requests answered, their latencies (s) and the failures, from ``clients`` threads for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    stop = time.perf_counter() + seconds
    path = f"/api/submissions/{submission_id}"
    headers = {"Authorization": f"Bearer {server.token}"}

    def client(i: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        while (now := time.perf_counter()) < stop:
            try:
                connection.request("GET", path, headers=headers)
                answer = connection.getresponse()
                answer.read()
                if answer.status != 200:
                    failures[i] += 1
                latencies[i].append(time.perf_counter() - now)
            except (OSError, http.client.HTTPException):
                failures[i] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = sorted(x for per in latencies for x in per)
    return len(flat), flat, sum(failures)


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, max(0, round(q * len(values)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--only", choices=("a", "b"))
    args = parser.parse_args()
    archive_bytes = _zip(REFERENCE)
    with tempfile.TemporaryDirectory(prefix="grader-bench-service-") as tmp:
        archive = Path(tmp) / "reference.zip"
        archive.write_bytes(archive_bytes)
        with Server(Path(tmp) / "data") as server:
            graded_id = None
            if args.only != "b":
                service_s, cli_s = [], []
                through_cli(archive, Path(tmp) / "warm")  # the first grading warms the page cache for both
                for i in range(args.repeat):
                    service_s.append(through_service(server, archive_bytes))
                    cli_s.append(through_cli(archive, Path(tmp) / f"cli-{i}"))
                s, c = statistics.median(service_s), statistics.median(cli_s)
                print("(a) reference submission, upload to report vs grader grade (s, median of "
                      f"{args.repeat}, Docker, no MLflow)")
                print(f"    service  {s:7.2f}   runs {', '.join(f'{x:.2f}' for x in service_s)}")
                print(f"    grade    {c:7.2f}   runs {', '.join(f'{x:.2f}' for x in cli_s)}")
                print(f"    ratio    {s / c:7.2f}x")
            if args.only != "a":
                graded_id = graded_id or server.upload(archive_bytes)
                server.graded(graded_id)
                count, latencies, failures = load(server, graded_id, args.clients, args.seconds)
                print(f"(b) GET /api/submissions/{{id}}, {args.clients} keep-alive clients for {args.seconds:g} s on "
                      "loopback, one uvicorn process")
                print(f"    {count / args.seconds:8.1f} requests/s, {failures} failed; latency p50 "
                      f"{percentile(latencies, 0.5) * 1000:.1f} ms, p95 {percentile(latencies, 0.95) * 1000:.1f} ms, "
                      f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
