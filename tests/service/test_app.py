"""The web layer alone, in this process: the real application served by uvicorn on loopback, on a real SQLite
store, with no dispatcher (nothing is graded here). A failure the service did not foresee (a bug, a failing
disk) is answered in the same shape as every refusal, never as a bare traceback or an empty 500."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import uvicorn

from grader.service.app import create_app
from grader.service.config import ServiceConfig
from grader.service.state import State
from grader.service.store import open_store

TASK = "tabular/credit-default"


@dataclass
class Running:
    base: str
    token: str


@pytest.fixture()
def running(tmp_path: Path) -> Iterator[Running]:
    config = ServiceConfig(data=tmp_path / "service", mlflow=False)
    store = open_store(config)
    _, token = store.create_interviewer("Ivy")
    store.engine.dispose()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(config, start=lambda _state: None), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    yield Running(f"http://127.0.0.1:{port}", token)
    server.should_exit = True
    thread.join(timeout=30)


def test_an_unforeseen_failure_is_a_500_with_a_message_and_a_hint(running: Running, monkeypatch) -> None:
    def broken(_self: State) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(State, "queue_view", broken)
    headers = {"Authorization": f"Bearer {running.token}"}

    api = requests.get(f"{running.base}/api/queue", headers=headers, timeout=30)
    assert api.status_code == 500
    assert api.json()["detail"] == ("the server failed on this request (OSError); if it was an upload, nothing "
                                    "was kept")
    assert "tell the operator" in api.json()["hint"]
    assert "No space left" not in api.text  # the details are the server log's, not the caller's

    page = requests.get(f"{running.base}/", headers=headers, timeout=30)
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "the server failed on this request" in page.text and "Traceback" not in page.text


def test_the_app_serves_its_schema_without_a_dispatcher(running: Running) -> None:
    schema = requests.get(f"{running.base}/openapi.json", timeout=30).json()
    assert schema["info"]["title"] == "grader" and "/api/submissions" in schema["paths"]
    docs = requests.get(f"{running.base}/docs", timeout=30)
    assert docs.status_code == 200
    for path in ("/api/submissions", "/api/submissions/{submission_id}", "/api/queue"):
        assert f"{path}</code>" in docs.text, path
    # Offline: the page fetches nothing from elsewhere (FastAPI's own /docs would load a CDN's scripts).
    assert "http://" not in docs.text.replace("http://127.0.0.1", "") and "https://" not in docs.text
    assert requests.get(f"{running.base}/redoc", timeout=30).status_code == 404
