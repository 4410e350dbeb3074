"""A small HTTP service around the model, standard library only: how this solution would be deployed.

    python serve.py --artifacts /models --port 8080
    curl -s localhost:8080/health
    curl -s -X POST localhost:8080/predict -d '{"rows": [{"Seniority": 9, "Home": "rent", ...}]}'

The model is loaded once at start-up and warmed up with one prediction before the port opens, so
the first request is as fast as the others. One process serves one request at a time (the model
uses one core); run several replicas behind a load balancer to scale.
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd

import model

MAX_ROWS = 1000


def make_handler(predictor: model.CreditModel) -> type[BaseHTTPRequestHandler]:
    columns = predictor.numeric + predictor.categorical

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
                payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                rows = payload["rows"]
                if not isinstance(rows, list) or not 0 < len(rows) <= MAX_ROWS:
                    raise ValueError(f"'rows' must be a list of 1 to {MAX_ROWS} objects")
                frame = pd.DataFrame(rows, columns=columns)
            except (ValueError, KeyError, TypeError) as exc:
                self._send(400, {"error": str(exc), "expected_columns": columns})
                return
            proba = predictor.predict_proba(frame)
            self._send(200, {"predictions": predictor.predict(frame),
                             "probabilities": [dict(zip(predictor.classes, map(float, p), strict=True)) for p in proba]})

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", default="/models")
    ap.add_argument("--port", type=int, default=8080)
    args = ap.parse_args()
    predictor = model.load(args.artifacts)
    warm = pd.DataFrame([{c: None for c in predictor.numeric + predictor.categorical}])
    predictor.predict(warm)  # warm-up before the port opens
    ThreadingHTTPServer(("0.0.0.0", args.port), make_handler(predictor)).serve_forever()


if __name__ == "__main__":
    main()
