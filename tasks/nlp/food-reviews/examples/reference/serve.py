"""A small HTTP service around the model, standard library only: how this solution would be deployed.

    python serve.py --artifacts /models --port 8080
    curl -s localhost:8080/health
    curl -s -X POST localhost:8080/predict -d '{"texts": ["Stale and overpriced.", "My dog loves these!"]}'

The model is loaded once at start-up and warmed up with one prediction before the port opens, so
the first request is as fast as the others. One process serves one request at a time (the model
uses one core); run several replicas behind a load balancer to scale.
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import model

MAX_TEXTS = 1000
MAX_CHARS = 20_000  # the longest review in the data has about 8,000 characters


def parse(body: bytes) -> list[str]:
    """The request's texts, or ValueError saying what is wrong with it."""
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"body is not JSON: {exc}") from None
    texts = payload.get("texts") if isinstance(payload, dict) else None
    if not isinstance(texts, list) or not 0 < len(texts) <= MAX_TEXTS:
        raise ValueError(f"'texts' must be a list of 1 to {MAX_TEXTS} strings")
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("every item of 'texts' must be a string")
    if any(len(t) > MAX_CHARS for t in texts):
        raise ValueError(f"a text is longer than {MAX_CHARS} characters")
    return texts


def make_handler(predictor: model.ReviewModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/health":
                self._send(200, {"status": "ok"})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/predict":
                self._send(404, {"error": "not found"})
                return
            try:
                texts = parse(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            except ValueError as exc:
                self._send(400, {"error": str(exc)})
                return
            proba = predictor.predict_proba(texts)
            self._send(200, {"predictions": predictor.predict(texts),
                             "probabilities": [dict(zip(predictor.classes, map(float, p), strict=True)) for p in proba]})

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # review texts are customer data: do not echo requests to the log

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", default="/models")
    ap.add_argument("--port", type=int, default=8080)
    args = ap.parse_args()
    predictor = model.load(args.artifacts)
    predictor.predict(["warm-up"])  # before the port opens
    ThreadingHTTPServer(("0.0.0.0", args.port), make_handler(predictor)).serve_forever()


if __name__ == "__main__":
    main()
