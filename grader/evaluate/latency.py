"""Latency figures from what the grader's timer measured (``grader/runtime/timer.py``).

The timer sends raw round trips in nanoseconds (typed as :class:`~grader.runtime.wire.TimerEvents`);
every statistic is computed here, on the host, the way MLPerf LoadGen reports single-stream results:
nearest-rank percentiles, no interpolation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from grader.runtime.wire import Batch, TimerEvents
from grader.spec.report import BatchThroughput, FullBatch, Latency, LatencyStats

PERCENTILES = {"p50_ms": 0.50, "p90_ms": 0.90, "p95_ms": 0.95, "p99_ms": 0.99}
CDF_STEPS = [i / 20 for i in range(21)]
CLOCK = ("the grader's timer: a separate process in the sandbox, run as another user than the candidate's "
         "code, timing each query from its side of a unix socket")


def nearest_rank(ordered: Sequence[float], p: float) -> float:
    """LoadGen's percentile: ``sorted[floor(n * p)]``, the last sample for p = 1."""
    if not ordered:
        raise ValueError("no samples")
    return ordered[min(len(ordered) - 1, math.floor(len(ordered) * p))]


def summarize(samples_ns: Sequence[int], duration_s: float | None = None) -> LatencyStats:
    ordered = sorted(s / 1e6 for s in samples_ns)
    return LatencyStats(
        count=len(ordered), duration_s=None if duration_s is None else round(duration_s, 3),
        **{name: round(nearest_rank(ordered, p), 4) for name, p in PERCENTILES.items()},
        max_ms=round(ordered[-1], 4), min_ms=round(ordered[0], 4), mean_ms=round(sum(ordered) / len(ordered), 4),
        cdf_ms=[round(nearest_rank(ordered, p), 4) for p in CDF_STEPS])


def _batch(entry: Batch) -> BatchThroughput:
    if not entry.samples_ns:
        return BatchThroughput(batch_size=entry.batch_size, note=entry.skipped or "not measured")
    total_s = sum(entry.samples_ns) / 1e9
    count = len(entry.samples_ns)
    return BatchThroughput(batch_size=entry.batch_size, batches=count,
                           items_per_s=round(entry.batch_size * count / total_s, 1),
                           mean_batch_ms=round(total_s * 1000 / count, 3), repeated_items=entry.repeated_items)


def build(events: TimerEvents, settings: dict[str, Any], *, sandbox_peak_mb: float | None,
          batch_labels: Sequence[str] | None, inputs: str = "hidden-test") -> Latency:
    """The report's ``latency`` section from the timer's events of one prediction run.

    ``batch_labels`` are the checked predictions of the full batch, to compare the single-item
    answers with (None when the batch predictions were not valid); ``inputs``: the split the timer
    held, as its notes name it (``validation`` in a self-check).
    """
    lat = Latency(settings=settings, clock=CLOCK, sandbox_peak_memory_mb=sandbox_peak_mb)
    load = events.load
    if load is not None and load.ok and load.cold_start_ns is not None:
        lat.cold_start_ms = round(load.cold_start_ns / 1e6, 3)
    floor = events.floor
    if floor is not None and floor.measured:
        lat.floor = summarize(floor.samples_ns, floor.duration_s)
    single = events.latency
    if single is not None and single.measured:
        stats = summarize(single.samples_ns, single.duration_s)
        lat = lat.model_copy(update={**stats.model_dump(), "measured": True, "stopped_by": single.stopped_by,
                                     "repeated_items": single.repeated_items})
        if single.stopped_by == "max_duration":
            lat.notes.append(f"stopped at max_duration_s ({settings.get('max_duration_s')} s) after {stats.count} "
                             f"of the {settings.get('min_queries')} queries asked for: the model is slow")
        if batch_labels is not None:
            answers = [str(a) for a in single.predictions]
            items = single.items
            same = sum(1 for i, a in zip(items, answers, strict=False) if 0 <= i < len(batch_labels)
                       and a == str(batch_labels[i]))
            lat.single_batch_agreement = round(same / len(items), 4) if items else None
            if lat.single_batch_agreement is not None and lat.single_batch_agreement < 1:
                lat.notes.append(
                    f"single-item answers differ from the batch prediction of the same row for "
                    f"{len(items) - same} of {len(items)} queries: the model's answer depends on what else is in "
                    "the batch, or it is not deterministic")
    if lat.repeated_items:
        lat.notes.append(f"{lat.repeated_items} timed queries carried an input already sent (there are fewer "
                         f"{inputs} inputs than queries): a model that caches answers looks faster on those")
    lat.batches = [_batch(b) for b in events.batches or []]
    pred = events.predictions
    if pred is not None and pred.ns:
        seconds = pred.ns / 1e9
        lat.full_batch = FullBatch(items=pred.n, ms=round(seconds * 1000, 3),
                                   items_per_s=round(pred.n / seconds, 1) if seconds > 0 else None)
    if events.resources is not None:
        lat.peak_memory_mb = events.resources.model_peak_rss_mb
        lat.timer_memory_mb = events.resources.timer_peak_rss_mb
    return lat
