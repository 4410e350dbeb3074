"""The grader's timer: runs INSIDE the prediction sandbox as the companion user, not the candidate's.

It alone holds the hidden-test inputs (a folder only its user can enter) and the clock. It drives
the harness in the candidate's process over a unix socket and times every request from its own
side, so nothing the candidate's code does in its process (replacing ``time.perf_counter``,
answering from a cache of inputs it has seen) changes what is measured. The measurement follows
MLPerf LoadGen's single-stream scenario: loading is timed apart (cold start), an untimed warm-up,
then one query at a time until both a minimum count and a minimum duration are reached. Before any
candidate code is loaded, the same loop runs against a grader-owned no-op predictor in the
candidate's process: the measurement floor.

Order matters: single-item latency comes first, then the batches, and only then the whole
hidden-test input in one call (for scoring), so no timed query carries an input the candidate has
already seen, unless the loop needed more queries than there are inputs (counted as repeats). Last, when
the host wrote a probe file, one untimed call of the rows it lists (``grader/data/twins.py``): the rows after
the hidden ones in the inputs file never travel in a timed query or in the scored batch.

Every input a timed query carries is encoded before the loops start (``codec.py``), so between
two queries the timer only picks the next body; the clock covers the round trip alone.

Everything it learns goes, one JSON line per step, to ``<out>/events.jsonl`` (flushed at once, so
a harness that dies mid-way still leaves what was measured). Standard library, plus pandas or
numpy to read the inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import socket
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import codec  # noqa: E402
import wire  # noqa: E402

clock = time.perf_counter_ns


class HarnessGone(Exception):
    """The harness closed the connection or sent something that is not a frame."""


class Inputs:
    """The hidden-test inputs of one suite, and their bodies (``codec.py``) in the candidate's type."""

    def __init__(self, n: int, encoder: codec.FrameEncoder | codec.PickleEncoder) -> None:
        self.n, self.encoder = n, encoder
        #: The hidden rows, first in the file: all the timed phase and the scored batch ever send. The rows
        #: after them only travel in the untimed probe call (``probe``: its rows, in order).
        self.timed = n
        self.probe: list[int] | None = None
        self._singles: list[bytes] | None = None

    def with_probe(self, path: str | None) -> Inputs:
        """The probe file the host wrote beside the inputs (``{"timed": n, "rows": [...]}``), if any."""
        if path:
            with open(path, encoding="utf-8") as fh:
                probe = json.load(fh)
            self.timed, self.probe = int(probe["timed"]), [int(r) for r in probe["rows"]]
        return self

    @classmethod
    def load(cls, suite: str, path: str) -> Inputs:
        """``path``: the inputs file the host wrote for the suite (``grader.data.splits.INPUT_FILES``)."""
        if suite == "tabular":
            import pandas as pd

            frame = pd.read_csv(path)
            return cls(len(frame), codec.frame_encoder(frame))
        if suite == "nlp":
            with open(path, encoding="utf-8") as fh:
                texts = json.load(fh)
            return cls(len(texts), codec.PickleEncoder(lambda idx: [texts[i] for i in idx]))
        if suite == "cv":
            import numpy as np

            images = np.load(path)
            return cls(len(images), codec.PickleEncoder(lambda idx: images[list(idx)]))
        raise SystemExit(f"timer: unsupported suite {suite!r}")

    def body(self, indices: Sequence[int]) -> bytes:
        if len(indices) == 1 and self._singles is not None:
            return self._singles[indices[0]]
        return self.encoder.encode(indices)

    def encode_singles(self) -> None:
        """Encode every one-item query now, before any loop: timed loops then only pick a body."""
        if self._singles is None:
            self._singles = [self.encoder.encode([i]) for i in range(self.timed)]


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile = sock.makefile("rb")

    def call(self, header: dict[str, Any], body: bytes = b"") -> tuple[dict[str, Any], int]:
        """Send one request, wait for its reply; the reply and the round trip in ns, by our clock.

        The round trip ends when the reply's last byte is in; reading its JSON is the timer's own work.
        """
        frame = wire.encode(header, body)
        started = clock()
        try:
            self.sock.sendall(frame)
            reply = wire.read(self.rfile)
            elapsed = clock() - started
            if reply is None:
                raise HarnessGone("the prediction process closed the connection")
            return wire.parse(reply[0]), elapsed
        except (OSError, wire.WireError) as exc:
            raise HarnessGone(str(exc)) from None


def connect(path: str, timeout_s: float) -> socket.socket:
    deadline = time.monotonic() + timeout_s
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def first(reply: dict[str, Any]) -> Any:
    """The single prediction of a one-item reply, as sent (the host judges it)."""
    preds = reply.get("predictions")
    return preds[0] if isinstance(preds, list) and len(preds) == 1 else preds


class Session:
    def __init__(self, client: Client, inputs: Inputs, settings: dict[str, Any], emit: Callable[..., None]) -> None:
        self.client, self.inputs, self.settings, self.emit = client, inputs, settings, emit
        self.order = list(range(inputs.timed))
        random.Random(settings["seed"]).shuffle(self.order)
        self.sent = 0  # position in self.order of the next item to send
        self.step = "starting"

    def next_items(self, k: int) -> tuple[list[int], int]:
        """The next ``k`` items in the shuffled order, and how many of them were sent before."""
        start = self.sent
        self.sent += k
        n = self.inputs.timed
        return [self.order[i % n] for i in range(start, start + k)], max(0, min(k, self.sent - n))

    def call(self, header: dict[str, Any], body: bytes = b"") -> tuple[dict[str, Any], int]:
        return self.client.call(header, body)

    def stream(self, op: str, lat: dict[str, Any], min_s: float, fresh: bool) -> dict[str, Any]:
        """LoadGen single-stream: warm up, then one query at a time until count and duration are both met."""
        label = self.settings["noop_label"]
        for _ in range(lat["warmup_queries"]):
            idx, _ = self.next_items(1) if fresh else ([self.order[0]], 0)
            self.call({"op": op, "label": label}, self.inputs.body(idx))
        samples: list[int] = []
        items: list[int] = []
        answers: list[Any] = []
        repeats = 0
        stopped_by = "min_queries_and_duration"
        begun = clock()
        while True:
            elapsed_s = (clock() - begun) / 1e9
            if len(samples) >= lat["min_queries"] and elapsed_s >= min_s:
                break
            if elapsed_s >= lat["max_duration_s"]:
                stopped_by = "max_duration"
                break
            if fresh:
                idx, again = self.next_items(1)
                repeats += again
            else:
                idx = [self.order[len(samples) % self.inputs.timed]]
            body = self.inputs.body(idx)  # encoded before the loop; the clock starts in call()
            reply, ns = self.call({"op": op, "label": label}, body)
            if not reply.get("ok"):
                return {"error": reply, "samples_ns": samples, "items": items, "predictions": answers}
            samples.append(ns)
            items.append(idx[0])
            answers.append(first(reply))
        return {"samples_ns": samples, "items": items, "predictions": answers, "repeated_items": repeats,
                "duration_s": (clock() - begun) / 1e9, "stopped_by": stopped_by}

    def batches(self, lat: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for size in lat["batch_sizes"]:
            if size > self.inputs.timed:
                out.append({"batch_size": size, "skipped": f"larger than the {self.inputs.timed} inputs"})
                continue
            times: list[int] = []
            repeats = 0
            begun = clock()
            while len(times) < lat["batch_min_batches"] or (clock() - begun) / 1e9 < lat["batch_min_duration_s"]:
                if (clock() - begun) / 1e9 >= lat["batch_max_duration_s"]:
                    break
                idx, again = self.next_items(size)
                repeats += again
                reply, ns = self.call({"op": "predict", "proba": False}, self.inputs.body(idx))
                if not reply.get("ok"):
                    out.append({"batch_size": size, "error": reply})
                    return out
                times.append(ns)
            out.append({"batch_size": size, "samples_ns": times, "repeated_items": repeats})
        return out

    def run(self) -> None:
        lat = self.settings.get("latency")
        self.step = wire.HELLO
        spec, schema = self.inputs.encoder.spec()
        hello, _ = self.call({"op": "hello", "codec": spec}, schema)
        self.emit(wire.HELLO, harness_pid=hello.get("pid"), harness_uid=hello.get("uid"), codec=spec["name"])
        self.harness_pid = hello.get("pid")
        self.step = wire.FLOOR
        if lat:
            self.inputs.encode_singles()
            floor = self.stream("noop", {**lat, "min_queries": lat["floor_min_queries"]},
                                lat["floor_min_duration_s"], fresh=False)
            self.emit(wire.FLOOR, **floor)
        else:  # decode one input before loading, as the floor would have: cold starts stay comparable
            self.call({"op": "noop", "label": self.settings["noop_label"]}, self.inputs.body([self.order[0]]))
        self.step = wire.LOAD
        reply, ns = self.call({"op": "load"})
        self.emit(wire.LOAD, ok=bool(reply.get("ok")), cold_start_ns=ns, has_proba=reply.get("has_proba"),
                  error=None if reply.get("ok") else reply)
        if not reply.get("ok"):
            return
        if lat:
            self.step = wire.LATENCY
            single = self.stream("predict", lat, lat["min_duration_s"], fresh=True)
            self.emit(wire.LATENCY, **single)
            if "error" in single:
                return
            self.step = wire.BATCHES
            batches = self.batches(lat)
            self.emit(wire.BATCHES, batches=batches)
            if any("error" in b for b in batches):
                return
        self.step = wire.PREDICTIONS
        reply, ns = self.call({"op": "predict", "proba": True}, self.inputs.body(list(range(self.inputs.timed))))
        self.emit(wire.PREDICTIONS, ns=ns, n=self.inputs.timed, reply=reply)
        if self.inputs.probe and reply.get("ok"):  # untimed, after everything that is measured or scored
            self.step = wire.PROBE
            reply, ns = self.call({"op": "predict", "proba": True}, self.inputs.body(self.inputs.probe))
            self.emit(wire.PROBE, ns=ns, n=len(self.inputs.probe), reply=reply)


def _peak_rss_mb(pid: int | None) -> float | None:
    """VmHWM (peak resident memory) of a process; readable for any user's process."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _packages() -> dict[str, str]:
    from importlib import metadata

    return {str(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--suite", required=True)
    ap.add_argument("--inputs", required=True, help="the inputs file of the suite")
    ap.add_argument("--probe", default=None, help="the probe file beside the inputs, if any")
    ap.add_argument("--out", required=True)
    ap.add_argument("--settings", required=True, help="JSON: seed, noop_label, latency (or null)")
    ap.add_argument("--connect-timeout", type=float, default=120.0)
    args = ap.parse_args(argv)
    settings = json.loads(args.settings)
    out: IO[str] = open(os.path.join(args.out, wire.EVENTS_FILE), "a", encoding="utf-8")  # noqa: SIM115

    def emit(event: str, **data: Any) -> None:
        out.write(json.dumps({"event": event, **data}) + "\n")
        out.flush()
        os.fsync(out.fileno())

    emit(wire.STARTED, pid=os.getpid(), uid=os.getuid())
    inputs = Inputs.load(args.suite, args.inputs).with_probe(args.probe)
    emit(wire.INPUTS, n=inputs.timed)
    sock = connect(args.socket, args.connect_timeout)
    session = Session(Client(sock), inputs, settings, emit)
    try:
        session.run()
        session.step = "bye"
        reply, _ = session.call({"op": "bye"})
        emit(wire.READS, **(reply.get("reads") or {}))
    except HarnessGone as exc:
        emit(wire.GONE, step=session.step, message=str(exc))
    emit(wire.RESOURCES, model_peak_rss_mb=_peak_rss_mb(getattr(session, "harness_pid", None)),
         timer_peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
         packages=_packages())
    emit(wire.DONE)
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
