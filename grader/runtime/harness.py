"""Grader-owned prediction harness: runs INSIDE the sandbox, in the candidate's process.

It serves requests from the grader's timer (``timer.py``, another user in the same sandbox) over
a unix socket, one at a time: how inputs are encoded (``codec.py``, with their schema), a no-op
prediction for the measurement floor (before any candidate code is imported), loading the
candidate's ``module:callable`` with the artifacts folder, and predictions on the inputs each
request carries. It never sees an input before the request that
carries it, holds no clock that matters, and writes nothing: every timestamp is taken by the timer
and every check of the predictions happens on the host.

Standard library + numpy + pandas only. Exit codes tell the host which step failed.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import pickle
import socket
import sys
import traceback
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The grader's own, imported before the candidate's folder is on sys.path.
import codec  # noqa: E402
import wire  # noqa: E402
from wire import EXIT_LOAD_FAILED, EXIT_PREDICT_FAILED, EXIT_PROTOCOL  # noqa: E402

#: Files the prediction phase may read from the submission without it being worth a mention.
CODE_SUFFIXES = (".py", ".pyc", ".pyi", ".so", ".pyd", ".pth")
_PLAIN_TYPES = (str, int, bool, type(None))


def _plain(values: Any) -> list:
    """Whatever predict returned, as JSON-ready Python values (no judgement: the host checks)."""
    if type(values) is list and all(type(x) in _PLAIN_TYPES for x in values):
        return values  # already plain (the no-op's answer, many models'): nothing to convert
    import numpy as np

    try:
        arr = np.asarray(values, dtype=object)
    except Exception:  # noqa: BLE001 - candidate objects may refuse conversion
        arr = np.asarray(list(values), dtype=object)
    if arr.ndim == 0:
        return [_scalar(arr.item())]
    return [_scalar(x) if not isinstance(x, (list, np.ndarray)) else [_scalar(y) for y in x]
            for x in arr.tolist()]


def _scalar(x: Any) -> Any:
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if isinstance(x, float):
        return None if math.isnan(x) else x
    if hasattr(x, "item"):
        try:
            return _scalar(x.item())
        except Exception:  # noqa: BLE001
            pass
    return repr(x)


class Reads:
    """An audit hook noting the files the candidate's code opens under the workspace and artifacts.

    Audit hooks cannot be removed, so code loaded after it cannot switch it off; it is a report,
    not a barrier.
    """

    def __init__(self, workspace: str, artifacts: str) -> None:
        self.workspace = os.path.realpath(workspace) + os.sep
        self.artifacts = os.path.realpath(artifacts) + os.sep
        self.submission: set[str] = set()
        self.artifact_files: set[str] = set()
        self.active = False

    def hook(self, event: str, args: tuple) -> None:
        if event != "open" or not self.active or not args or not isinstance(args[0], (str, bytes)):
            return
        path = os.fsdecode(args[0])
        if not os.path.isabs(path):
            path = os.path.join(os.getcwd(), path)
        path = os.path.normpath(path)
        if path.startswith(self.artifacts):
            self.artifact_files.add(path[len(self.artifacts):])
        elif path.startswith(self.workspace) and not path.endswith(CODE_SUFFIXES) and "__pycache__" not in path:
            self.submission.add(path[len(self.workspace):])


class Harness:
    def __init__(self, entry: str, workspace: str, artifacts: str) -> None:
        self.entry, self.workspace, self.artifacts = entry, workspace, artifacts
        self.model: Any = None
        self.failed: int = 0
        self.reads = Reads(workspace, artifacts)
        self.decode: codec.Decode = pickle.loads

    def handle(self, header: dict[str, Any], body: bytes) -> dict[str, Any]:
        op = header.get("op")
        if op == "hello":  # the timer's codec, and the inputs' schema (never an input)
            self.decode = codec.decoder(header.get("codec"), body)
            return {"ok": True, "pid": os.getpid(), "uid": os.getuid()}
        if op == "noop":  # the measurement floor: everything a prediction costs, but the model
            inputs = self.decode(body)
            return {"ok": True, "predictions": _plain([header["label"]] * len(inputs))}
        if op == "load":
            return self.load()
        if op == "predict":
            return self.predict(self.decode(body), want_proba=bool(header.get("proba")))
        if op == "bye":
            self.reads.active = False
            return {"ok": True, "reads": {"submission": sorted(self.reads.submission),
                                          "artifacts": sorted(self.reads.artifact_files)}}
        return {"ok": False, "error": f"unknown op {op!r}"}

    def load(self) -> dict[str, Any]:
        sys.path.insert(0, self.workspace)
        os.chdir(self.workspace)
        sys.addaudithook(self.reads.hook)
        self.reads.active = True
        module_name, attr = self.entry.split(":", 1)
        try:
            factory = getattr(importlib.import_module(module_name), attr)
            self.model = factory(self.artifacts)
        except BaseException:  # noqa: BLE001 - anything the candidate raises is reported
            print(f"harness: loading the model with {self.entry}({self.artifacts!r}) failed:", file=sys.stderr)
            traceback.print_exc()
            self.failed = EXIT_LOAD_FAILED
            return {"ok": False, "error": "load", "traceback": traceback.format_exc(limit=8)}
        return {"ok": True, "has_proba": hasattr(self.model, "predict_proba")}

    def predict(self, inputs: Any, *, want_proba: bool) -> dict[str, Any]:
        try:
            reply: dict[str, Any] = {"ok": True, "predictions": _plain(self.model.predict(inputs))}
        except BaseException:  # noqa: BLE001
            print(f"harness: model.predict on {len(inputs)} input(s) raised:", file=sys.stderr)
            traceback.print_exc()
            self.failed = EXIT_PREDICT_FAILED
            return {"ok": False, "error": "predict", "traceback": traceback.format_exc(limit=8)}
        if want_proba and hasattr(self.model, "predict_proba"):
            try:
                reply["proba"] = _plain(self.model.predict_proba(inputs))
            except BaseException:  # noqa: BLE001
                reply["proba_error"] = traceback.format_exc(limit=5)
        return reply


def serve(harness: Harness, path: str, accept_timeout_s: float) -> int:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o666)  # the timer is another user
    server.listen(1)
    server.settimeout(accept_timeout_s)
    try:
        conn, _ = server.accept()
    except TimeoutError:
        print(f"harness: the grader's timer did not connect within {accept_timeout_s:g} s", file=sys.stderr)
        return EXIT_PROTOCOL
    finally:
        server.close()
    conn.settimeout(None)
    rfile = conn.makefile("rb")
    while True:
        try:
            frame = wire.recv(rfile)
        except (wire.WireError, OSError) as exc:
            print(f"harness: broken request from the timer: {exc}", file=sys.stderr)
            return EXIT_PROTOCOL
        if frame is None:  # the timer is done and closed the connection
            return harness.failed
        reply = harness.handle(*frame)
        try:
            conn.sendall(wire.encode(reply))
        except OSError:
            return harness.failed or EXIT_PROTOCOL


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--entry", required=True)
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--accept-timeout", type=float, default=120.0)
    args = ap.parse_args(argv)
    return serve(Harness(args.entry, args.workspace, args.artifacts), args.socket, args.accept_timeout)


if __name__ == "__main__":
    sys.exit(main())
