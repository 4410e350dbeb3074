"""A small HTTP service around the model, standard library only: how this solution would be deployed.

    python serve.py --artifacts /models --port 8080
    curl -s localhost:8080/health
    curl -s -X POST localhost:8080/predict -d '{"images": [[[0, 0, ...28 pixels], ...28 rows]]}'
    curl -s -X POST localhost:8080/predict -d '{"images_b64": ["<base64 of 784 raw uint8 pixels>"]}'

Images are 28 x 28 grayscale, 0 (background) to 255, as in the training data: either nested lists
of integers or the 784 raw bytes in base64 (about 4 times smaller on the wire). The model is
loaded once at start-up and warmed up with one prediction before the port opens, so the first
request is as fast as the others. One process serves one request at a time (the model uses one
core); run several replicas behind a load balancer to scale.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

import model

MAX_IMAGES = 1000
PIXELS = model.IMAGE_SHAPE[0] * model.IMAGE_SHAPE[1]


def decode(payload: dict) -> np.ndarray:
    """The request's images as uint8 (n, 28, 28); ValueError says what is wrong with them."""
    if "images_b64" in payload:
        items = payload["images_b64"]
        if not isinstance(items, list) or not 0 < len(items) <= MAX_IMAGES:
            raise ValueError(f"'images_b64' must be a list of 1 to {MAX_IMAGES} strings")
        try:
            raw = [base64.b64decode(item, validate=True) for item in items]
        except (binascii.Error, TypeError) as exc:
            raise ValueError(f"'images_b64' holds invalid base64: {exc}") from None
        if any(len(r) != PIXELS for r in raw):
            raise ValueError(f"each image in 'images_b64' must be {PIXELS} bytes (28 x 28 uint8)")
        return np.frombuffer(b"".join(raw), dtype=np.uint8).reshape(-1, *model.IMAGE_SHAPE)
    items = payload.get("images")
    if not isinstance(items, list) or not 0 < len(items) <= MAX_IMAGES:
        raise ValueError(f"send 'images' (a list of 1 to {MAX_IMAGES} 28x28 pixel arrays) or 'images_b64'")
    array = np.asarray(items)
    if array.shape[1:] != model.IMAGE_SHAPE or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"'images' must be 28x28 arrays of integers, got shape {array.shape[1:]}")
    if array.min() < 0 or array.max() > 255:
        raise ValueError("pixels must be 0-255")
    return array.astype(np.uint8)


def make_handler(predictor: model.FashionModel) -> type[BaseHTTPRequestHandler]:
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
                self._send(200, {"status": "ok", "classes": predictor.classes})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/predict":
                self._send(404, {"error": "not found"})
                return
            try:
                payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if not isinstance(payload, dict):
                    raise ValueError("the body must be a JSON object")
                images = decode(payload)
            except (ValueError, KeyError, TypeError) as exc:
                self._send(400, {"error": str(exc)})
                return
            proba = predictor.predict_proba(images)
            labels = [predictor.classes[i] for i in proba.argmax(axis=1)]
            probabilities = [dict(zip(predictor.classes, map(float, p), strict=True)) for p in proba]
            self._send(200, {"predictions": labels, "probabilities": probabilities})

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            pass  # one line per request on stderr is noise at this rate; put access logs in the proxy

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", default="/models")
    ap.add_argument("--port", type=int, default=8080)
    args = ap.parse_args()
    predictor = model.load(args.artifacts)
    predictor.predict(np.zeros((1, *model.IMAGE_SHAPE), dtype=np.uint8))  # warm-up before the port opens
    ThreadingHTTPServer(("0.0.0.0", args.port), make_handler(predictor)).serve_forever()


if __name__ == "__main__":
    main()
