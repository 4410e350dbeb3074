"""What the grader's timer, the prediction harness and the host say to each other.

Frames between the timer and the harness, over a unix socket in the sandbox: ``!II`` (header
length, body length), a JSON header, and an optional binary body. The timer sends requests whose
body is an encoded input (``codec.py``: a DataFrame by its column blocks, else a pickle); the
harness answers with JSON only. The harness trusts the timer (grader code) and may unpickle what it
sends; the timer never unpickles what comes back: the harness runs the candidate's code.

The harness's exit codes, and the timer's events: one JSON object a line in :data:`EVENTS_FILE`,
``{"event": <name>, ...}``, parsed on the host into :class:`TimerEvents`.

Standard library only: this file is copied into the sandbox next to the harness and the timer.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

HEAD = struct.Struct("!II")
#: Largest header or body accepted: far above any real reply, far below what hurts the timer.
MAX_FRAME = 512 << 20

#: How the harness ends when a step failed (0: the timer closed the connection, all went well).
EXIT_LOAD_FAILED = 3
EXIT_PREDICT_FAILED = 4
EXIT_PROTOCOL = 5

#: The timer's events file, in its output folder.
EVENTS_FILE = "events.jsonl"
#: Event names, in the order a whole conversation emits them (``gone`` ends one early).
STARTED, INPUTS, HELLO, FLOOR, LOAD, LATENCY, BATCHES, PREDICTIONS, PROBE, READS, GONE, RESOURCES, DONE = (
    "started", "inputs", "hello", "floor", "load", "latency", "batches", "predictions", "probe", "reads", "gone",
    "resources", "done")


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


def read(rfile: BinaryIO) -> tuple[bytes, bytes] | None:
    """The next frame's header and body as they came (see :func:`parse`), or None when the other
    side closed the connection between frames."""
    first = rfile.read(HEAD.size)
    if not first:
        return None
    if len(first) != HEAD.size:
        raise WireError("connection closed in the middle of a frame header")
    head_len, body_len = HEAD.unpack(first)
    if head_len > MAX_FRAME or body_len > MAX_FRAME:
        raise WireError(f"frame too large ({head_len} + {body_len} bytes)")
    return _exactly(rfile, head_len), _exactly(rfile, body_len) if body_len else b""


def parse(head: bytes) -> dict[str, Any]:
    try:
        header = json.loads(head)
    except ValueError as exc:
        raise WireError(f"frame header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise WireError("frame header is not a JSON object")
    return header


def recv(rfile: BinaryIO) -> tuple[dict[str, Any], bytes] | None:
    """The next frame, or None when the other side closed the connection between frames."""
    frame = read(rfile)
    return None if frame is None else (parse(frame[0]), frame[1])


# -- the timer's events, typed ----------------------------------------------------------------------
# The timer writes plain dicts (and may die mid-line); the host reads them back through these, so no
# module reads an event by key. A reply field is the harness's JSON answer: it comes from the
# candidate's process, so it is kept only when it is an object, never trusted further.

def _ints(values: Any) -> list[int]:
    return [int(v) for v in values] if isinstance(values, list) else []


def _reply(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Stream:
    """A single-stream loop (the floor, or the model's latency): one round trip per query, in ns."""

    samples_ns: list[int] = field(default_factory=list)
    #: The input item of each timed query, and the model's answer to it (as sent).
    items: list[int] = field(default_factory=list)
    predictions: list[Any] = field(default_factory=list)
    repeated_items: int = 0
    duration_s: float | None = None
    stopped_by: str | None = None
    #: The harness's reply to the query that failed; the loop stopped there.
    error: dict[str, Any] | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Stream:
        return cls(samples_ns=_ints(data.get("samples_ns")), items=_ints(data.get("items")),
                   predictions=list(data.get("predictions") or []), repeated_items=int(data.get("repeated_items") or 0),
                   duration_s=data.get("duration_s"), stopped_by=data.get("stopped_by"),
                   error=_reply(data.get("error")) if "error" in data else None)

    @property
    def measured(self) -> bool:
        return bool(self.samples_ns) and self.error is None


@dataclass(frozen=True)
class Load:
    """Loading the candidate's model: the cold start, by the timer's clock."""

    ok: bool = False
    cold_start_ns: int | None = None
    has_proba: bool | None = None
    error: dict[str, Any] | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Load:
        ns = data.get("cold_start_ns")
        return cls(ok=bool(data.get("ok")), cold_start_ns=None if ns is None else int(ns),
                   has_proba=data.get("has_proba"), error=_reply(data.get("error")))


@dataclass(frozen=True)
class Batch:
    """The timed calls of one batch size (``skipped`` when there are fewer inputs than that)."""

    batch_size: int
    samples_ns: list[int] = field(default_factory=list)
    repeated_items: int = 0
    skipped: str | None = None
    error: dict[str, Any] | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Batch:
        return cls(batch_size=int(data.get("batch_size") or 0), samples_ns=_ints(data.get("samples_ns")),
                   repeated_items=int(data.get("repeated_items") or 0), skipped=data.get("skipped"),
                   error=_reply(data.get("error")) if "error" in data else None)


@dataclass(frozen=True)
class Predictions:
    """The whole input in one call: the round trip, the item count, and the harness's reply."""

    ns: int = 0
    n: int = 0
    reply: dict[str, Any] | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Predictions:
        return cls(ns=int(data.get("ns") or 0), n=int(data.get("n") or 0), reply=_reply(data.get("reply")))


@dataclass(frozen=True)
class Reads:
    """Files the candidate's code opened, relative to the submission and to the artifacts."""

    submission: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Reads:
        return cls(submission=[str(f) for f in data.get("submission") or []],
                   artifacts=[str(f) for f in data.get("artifacts") or []])


@dataclass(frozen=True)
class Resources:
    """Peak memory of the model's process and of the timer (MB), and the sandbox's installed packages."""

    model_peak_rss_mb: float | None = None
    timer_peak_rss_mb: float | None = None
    packages: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Resources:
        packages = data.get("packages")
        return cls(model_peak_rss_mb=data.get("model_peak_rss_mb"), timer_peak_rss_mb=data.get("timer_peak_rss_mb"),
                   packages={str(k): str(v) for k, v in packages.items()} if isinstance(packages, dict) else {})


@dataclass(frozen=True)
class Gone:
    """The harness went away (closed the socket, ended the process) during ``step``."""

    step: str = "unknown"
    message: str = ""

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Gone:
        return cls(step=str(data.get("step") or "unknown"), message=str(data.get("message") or ""))


@dataclass(frozen=True)
class TimerEvents:
    """Everything one prediction run's timer recorded; a step it never reached is None."""

    #: The event names in the order they were written: how far the timer got.
    steps: list[str] = field(default_factory=list)
    floor: Stream | None = None
    load: Load | None = None
    latency: Stream | None = None
    batches: list[Batch] | None = None
    predictions: Predictions | None = None
    #: The untimed probe call after the full batch (``grader/data/twins.py``); None when there was none.
    probe: Predictions | None = None
    reads: Reads | None = None
    gone: Gone | None = None
    resources: Resources | None = None

    @classmethod
    def parse(cls, events: Mapping[str, Mapping[str, Any]]) -> TimerEvents:
        """From the raw events by name (see :func:`read_lines`)."""
        def get(name: str, parse: Any) -> Any:
            data = events.get(name)
            return None if data is None else parse(data)

        return cls(steps=list(events), floor=get(FLOOR, Stream.parse), load=get(LOAD, Load.parse),
                   latency=get(LATENCY, Stream.parse),
                   batches=get(BATCHES, lambda d: [Batch.parse(b) for b in d.get("batches") or []
                                                   if isinstance(b, dict)]),
                   predictions=get(PREDICTIONS, Predictions.parse), probe=get(PROBE, Predictions.parse),
                   reads=get(READS, Reads.parse),
                   gone=get(GONE, Gone.parse), resources=get(RESOURCES, Resources.parse))


def read_lines(lines: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The timer's JSON lines by event name (a line cut short by a killed timer is dropped)."""
    events: dict[str, dict[str, Any]] = {}
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            events[event["event"]] = event
    return events
