"""Latency statistics from the timer's raw samples: LoadGen's nearest-rank percentiles and the report section."""

from __future__ import annotations

import math

import pytest

from grader.evaluate.latency import build, nearest_rank, summarize
from grader.runtime.wire import TimerEvents


def test_nearest_rank_is_loadgens_definition():
    values = list(range(1, 101))  # 1..100
    assert nearest_rank(values, 0.5) == values[50] == 51  # sorted[floor(n * p)], no interpolation
    assert nearest_rank(values, 0.9) == 91
    assert nearest_rank(values, 0.99) == 100
    assert nearest_rank(values, 1.0) == 100  # capped at the last sample
    assert nearest_rank([7.0], 0.5) == 7.0
    with pytest.raises(ValueError):
        nearest_rank([], 0.5)


def test_summarize_in_milliseconds():
    samples_ns = [int(ms * 1e6) for ms in (5, 1, 3, 2, 4)]
    stats = summarize(samples_ns, duration_s=1.23456)
    assert (stats.count, stats.min_ms, stats.max_ms, stats.mean_ms) == (5, 1.0, 5.0, 3.0)
    assert stats.p50_ms == 3.0 and stats.p90_ms == 5.0  # floor(5 * 0.9) = 4: the fifth sample
    assert stats.duration_s == 1.235
    assert len(stats.cdf_ms) == 21 and stats.cdf_ms[0] == 1.0 and stats.cdf_ms[-1] == 5.0
    assert stats.cdf_ms == sorted(stats.cdf_ms)


def _raw(**over):
    events = {
        "load": {"ok": True, "cold_start_ns": 1_500_000_000},
        "floor": {"samples_ns": [200_000] * 10, "duration_s": 0.5},
        "latency": {"samples_ns": [10_000_000, 12_000_000, 11_000_000], "items": [2, 0, 1],
                    "predictions": ["bad", "good", "good"], "repeated_items": 0, "duration_s": 2.1,
                    "stopped_by": "min_queries_and_duration"},
        "batches": {"batches": [{"batch_size": 32, "samples_ns": [100_000_000, 100_000_000], "repeated_items": 3},
                                {"batch_size": 2048, "skipped": "larger than the 3 inputs"}]},
        "predictions": {"ns": 30_000_000, "n": 3, "reply": {"ok": True}},
        "resources": {"model_peak_rss_mb": 150.0, "timer_peak_rss_mb": 60.0},
    }
    events.update(over)
    return events


def _events(**over):
    return TimerEvents.parse(_raw(**over))


def test_build_reads_every_figure():
    lat = build(_events(), {"min_queries": 3, "max_duration_s": 30}, sandbox_peak_mb=140.0,
                batch_labels=["good", "good", "bad"])
    assert lat.measured and lat.count == 3 and lat.p50_ms == 11.0 and lat.max_ms == 12.0
    assert lat.cold_start_ms == 1500.0
    assert lat.floor is not None and lat.floor.p50_ms == 0.2 and lat.floor.count == 10
    assert lat.single_batch_agreement == 1.0 and lat.notes == []
    assert [(b.batch_size, b.batches, b.items_per_s) for b in lat.batches] == [(32, 2, 320.0), (2048, 0, None)]
    assert lat.batches[1].note == "larger than the 3 inputs"
    assert lat.full_batch is not None and lat.full_batch.items_per_s == 100.0
    assert (lat.peak_memory_mb, lat.sandbox_peak_memory_mb, lat.timer_memory_mb) == (150.0, 140.0, 60.0)
    assert "another user" in (lat.clock or "")


def test_build_explains_what_weakens_the_figures():
    single = {**_raw()["latency"], "repeated_items": 2, "stopped_by": "max_duration"}
    lat = build(_events(latency=single), {"min_queries": 200, "max_duration_s": 30}, sandbox_peak_mb=None,
                batch_labels=["good", "bad", "good"])  # only item 0's answer ("good") matches
    assert lat.single_batch_agreement == round(1 / 3, 4)
    notes = " ".join(lat.notes)
    assert "max_duration_s (30 s) after 3 of the 200 queries" in notes
    assert "differ from the batch prediction of the same row for 2 of 3" in notes
    assert "2 timed queries carried an input already sent" in notes


def test_build_without_a_latency_loop():
    lat = build(TimerEvents.parse({"load": {"ok": False}, "predictions": {"ns": 0, "n": 0}}), {}, sandbox_peak_mb=None,
                batch_labels=None)
    assert not lat.measured and lat.p50_ms is None and lat.cold_start_ms is None and lat.floor is None
    assert lat.full_batch is None or lat.full_batch.items_per_s is None or math.isfinite(lat.full_batch.items_per_s)
