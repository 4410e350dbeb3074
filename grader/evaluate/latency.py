"""Latency figures from what the grader's timer measured (``grader/runtime/timer.py``).

The timer sends raw round trips in nanoseconds; every statistic is computed here, on the host, the
way MLPerf LoadGen reports single-stream results: nearest-rank percentiles, no interpolation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from grader.report.model import BatchThroughput, FullBatch, Latency, LatencyStats

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


def _batch(entry: dict[str, Any]) -> BatchThroughput:
    size = int(entry.get("batch_size", 0))
    samples = [int(s) for s in entry.get("samples_ns") or []]
    if not samples:
        return BatchThroughput(batch_size=size, note=entry.get("skipped") or "not measured")
    total_s = sum(samples) / 1e9
    return BatchThroughput(batch_size=size, batches=len(samples), items_per_s=round(size * len(samples) / total_s, 1),
                           mean_batch_ms=round(total_s * 1000 / len(samples), 3),
                           repeated_items=int(entry.get("repeated_items", 0)))


def build(events: dict[str, dict[str, Any]], settings: dict[str, Any], *, sandbox_peak_mb: float | None,
          batch_labels: Sequence[str] | None) -> Latency:
    """The report's ``latency`` section from the timer's events of one prediction run.

    ``batch_labels`` are the checked predictions of the full batch, to compare the single-item
    answers with (None when the batch predictions were not valid).
    """
    lat = Latency(settings=settings, clock=CLOCK, sandbox_peak_memory_mb=sandbox_peak_mb)
    load = events.get("load") or {}
    if load.get("ok"):
        lat.cold_start_ms = round(load["cold_start_ns"] / 1e6, 3)
    floor = events.get("floor") or {}
    if floor.get("samples_ns") and "error" not in floor:
        lat.floor = summarize(floor["samples_ns"], floor.get("duration_s"))
    single = events.get("latency") or {}
    if single.get("samples_ns") and "error" not in single:
        stats = summarize(single["samples_ns"], single.get("duration_s"))
        lat = lat.model_copy(update={**stats.model_dump(), "measured": True, "stopped_by": single.get("stopped_by"),
                                     "repeated_items": int(single.get("repeated_items", 0))})
        if single.get("stopped_by") == "max_duration":
            lat.notes.append(f"stopped at max_duration_s ({settings.get('max_duration_s')} s) after {stats.count} "
                             f"of the {settings.get('min_queries')} queries asked for: the model is slow")
        if batch_labels is not None:
            answers = [str(a) for a in single.get("predictions") or []]
            items = [int(i) for i in single.get("items") or []]
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
                         "hidden-test inputs than queries): a model that caches answers looks faster on those")
    lat.batches = [_batch(b) for b in (events.get("batches") or {}).get("batches") or []]
    pred = events.get("predictions") or {}
    if pred.get("ns"):
        seconds = pred["ns"] / 1e9
        lat.full_batch = FullBatch(items=int(pred.get("n", 0)), ms=round(seconds * 1000, 3),
                                   items_per_s=round(pred.get("n", 0) / seconds, 1) if seconds > 0 else None)
    res = events.get("resources") or {}
    lat.peak_memory_mb = res.get("model_peak_rss_mb")
    lat.timer_memory_mb = res.get("timer_peak_rss_mb")
    return lat
