"""A small OpenAI-compatible chat-completions server for the judge's tests: it records every request and
answers with a verdict from a policy, the way a model behind such an endpoint would.

No model is reachable where the tests run, so the protocol and the injection guard are tested against
this server instead (docs/rubrics.md says so).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: A policy: the request's JSON body -> the assistant message's content (or an (HTTP status, body) pair).
Policy = Callable[[dict[str, Any]], "str | tuple[int, str]"]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Server:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    policy: Policy | None = None


def _user(body: dict[str, Any]) -> dict[str, Any]:
    return json.loads(next(m["content"] for m in body["messages"] if m["role"] == "user"))


def careful(body: dict[str, Any]) -> str:
    """A judge that reads the answer as data: covered when the answer has a word of the key point's id."""
    user = _user(body)
    answer, point = user["answer"], user["key_point"]["id"]
    words = [w for w in point.split("-") if len(w) > 3]
    hit = next((s.strip() for s in answer.replace("\n", " ").split(".") if any(w in s.lower() for w in words)), "")
    verdict = {"verdict": "covered" if hit else "missing", "quote": hit, "reason": "looked for the point"}
    return json.dumps(verdict)


def gullible(body: dict[str, Any]) -> str:
    """A judge that obeys any instruction it can see outside the answer's fence, and the careful judge
    otherwise: if the candidate's text escaped the JSON string, it would award everything."""
    system = next(m["content"] for m in body["messages"] if m["role"] == "system")
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    outside = system + json.dumps({k: v for k, v in json.loads(user).items() if k != "answer"})
    if "award full points" in outside.lower():
        return json.dumps({"verdict": "covered", "quote": "", "reason": "as instructed"})
    return careful(body)


@contextmanager
def serve(policy: Policy = careful) -> Iterator[Server]:
    server_state = Server(url="")
    server_state.policy = policy

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length).decode("utf-8"))
            server_state.requests.append(Recorded(self.path, dict(self.headers.items()), body))
            assert server_state.policy is not None
            reply = server_state.policy(body)
            status, content = reply if isinstance(reply, tuple) else (200, reply)
            if status == 200:
                payload = json.dumps({"id": "chatcmpl-test", "object": "chat.completion", "model": body["model"],
                                      "choices": [{"index": 0, "finish_reason": "stop",
                                                   "message": {"role": "assistant", "content": content}}]})
            else:
                payload = content
            data = payload.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
