"""Frames between the grader's timer and the prediction harness, over a unix socket in the sandbox.

A frame is ``!II`` (header length, body length), a JSON header, and an optional binary body.
The timer sends requests whose body is the pickled input (a one-row DataFrame, a list of strings,
an array of images); the harness answers with JSON only. The harness trusts the timer (grader
code) and may unpickle what it sends; the timer never unpickles what comes back: the harness
runs the candidate's code.

Standard library only: this file is copied into the sandbox next to the harness and the timer.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

HEAD = struct.Struct("!II")
#: Largest header or body accepted: far above any real reply, far below what hurts the timer.
MAX_FRAME = 512 << 20


class WireError(Exception):
    """The other side sent something that is not a frame, or closed the socket mid-frame."""


def encode(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return HEAD.pack(len(head), len(body)) + head + body


def _exactly(rfile: BinaryIO, n: int) -> bytes:
    data = rfile.read(n)
    if data is None or len(data) != n:
        raise WireError(f"connection closed after {0 if data is None else len(data)} of {n} bytes")
    return data


def recv(rfile: BinaryIO) -> tuple[dict[str, Any], bytes] | None:
    """The next frame, or None when the other side closed the connection between frames."""
    first = rfile.read(HEAD.size)
    if not first:
        return None
    if len(first) != HEAD.size:
        raise WireError("connection closed in the middle of a frame header")
    head_len, body_len = HEAD.unpack(first)
    if head_len > MAX_FRAME or body_len > MAX_FRAME:
        raise WireError(f"frame too large ({head_len} + {body_len} bytes)")
    try:
        header = json.loads(_exactly(rfile, head_len))
    except ValueError as exc:
        raise WireError(f"frame header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise WireError("frame header is not a JSON object")
    return header, _exactly(rfile, body_len) if body_len else b""
