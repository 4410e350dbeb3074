"""The inputs' codec (what a request body carries) and the timer's events as the host reads them.

Whatever way the harness assembles a frame, the candidate's code must get exactly what
``frame.iloc[rows].reset_index(drop=True)`` of the inputs file is: same values, dtypes, labels.
"""

from __future__ import annotations

import io
import pickle

import numpy as np
import pandas as pd
import pytest

from grader.runtime import codec, wire
from grader.runtime.wire import TimerEvents
from tests.helpers import TASK_DIR


def read_features(storage: str) -> pd.DataFrame:
    """The hidden-test features as the timer reads them, with a row of missing values; strings
    stored as ``storage`` says (the runtime image has no pyarrow: "python")."""
    lines = (pd.read_csv(TASK_DIR / "data" / "test.csv").drop(columns=["Status"])
             .to_csv(index=False).splitlines())
    lines[3] = ",".join("" for _ in lines[3].split(","))
    with pd.option_context("future.infer_string", True, "mode.string_storage", storage):
        return pd.read_csv(io.StringIO("\n".join(lines) + "\n"))


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return read_features("python")


def same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert list(got.dtypes) == list(want.dtypes) and type(got.index) is type(want.index)


@pytest.mark.parametrize("build", codec.BUILDS)
@pytest.mark.parametrize("rows", [[0], [2], [5, 1, 3], list(range(40))], ids=["first", "missing", "three", "batch"])
def test_a_frame_travels_exactly(features, build, rows):
    encoder = codec.FrameEncoder(features, build)
    decode = codec.decoder(*encoder.spec())
    same(decode(encoder.encode(rows)), features.iloc[rows].reset_index(drop=True))


def test_the_fastest_exact_way_is_chosen_and_decoded_frames_are_the_candidates_own(features):
    encoder = codec.frame_encoder(features)
    assert isinstance(encoder, codec.FrameEncoder) and encoder.build == codec.BUILDS[0]
    decode = codec.decoder(*encoder.spec())
    body = encoder.encode([7])
    first = decode(body)
    first.iloc[0, 0] = -1  # the candidate's code may write to its input ...
    first["extra"] = 1
    same(decode(body), features.iloc[[7]].reset_index(drop=True))  # ... without touching the next one


def test_strings_stored_by_pyarrow_take_their_public_constructor():
    pytest.importorskip("pyarrow")
    frame = read_features("pyarrow")
    encoder = codec.frame_encoder(frame)
    assert isinstance(encoder, codec.FrameEncoder) and encoder.build == "internals"
    same(codec.decoder(*encoder.spec())(encoder.encode([2, 0])), frame.iloc[[2, 0]].reset_index(drop=True))


def test_the_schema_travels_without_a_row(features):
    spec, schema = codec.frame_encoder(features).spec()
    template = pickle.loads(schema)
    assert len(template) == 0 and list(template.columns) == list(features.columns)
    assert spec["name"] == "frame" and sorted(sum(spec["numeric"], []) + spec["other"]) == list(range(13))


def test_columns_the_codec_does_not_carry_fall_back_to_pickles(features):
    frame = features.assign(when=pd.Timestamp("2026-01-01"))
    encoder = codec.frame_encoder(frame)
    assert isinstance(encoder, codec.PickleEncoder) and encoder.spec() == ({"name": "pickle"}, b"")
    same(codec.decoder(*encoder.spec())(encoder.encode([4, 2])), frame.iloc[[4, 2]].reset_index(drop=True))


def test_other_inputs_are_pickles():
    images = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    encoder = codec.PickleEncoder(lambda idx: images[list(idx)])
    decode = codec.decoder(*encoder.spec())
    assert np.array_equal(decode(encoder.encode([1])), images[[1]])


# -- the timer's events, typed -----------------------------------------------------------------------

def test_events_are_typed_and_a_line_cut_short_is_dropped():
    lines = [
        '{"event": "started", "pid": 7}',
        '{"event": "floor", "samples_ns": [200000, 300000], "items": [0, 1], "predictions": ["good", "good"], '
        '"duration_s": 0.5, "stopped_by": "min_queries_and_duration"}',
        '{"event": "load", "ok": true, "cold_start_ns": 1500, "has_proba": false, "error": null}',
        '{"event": "latency", "samples_ns": [1], "error": {"ok": false, "error": "predict"}}',
        '{"event": "batches", "batches": [{"batch_size": 32, "samples_ns": [5, 6], "repeated_items": 3}, '
        '{"batch_size": 2048, "skipped": "larger than the 40 inputs"}]}',
        '{"event": "predictions", "ns": 9, "n": 2, "reply": ["not", "an", "object"]}',
        '{"event": "gone", "step": "latency", "message": "closed"}',
        '{"event": "resources", "model_peak_rss_mb": 12.5, "packag',
    ]
    events = TimerEvents.parse(wire.read_lines(lines))
    assert events.steps == ["started", "floor", "load", "latency", "batches", "predictions", "gone"]
    assert events.floor is not None and events.floor.measured and events.floor.samples_ns == [200000, 300000]
    assert events.load == wire.Load(ok=True, cold_start_ns=1500, has_proba=False)
    assert events.latency is not None and not events.latency.measured and events.latency.error is not None
    assert events.batches == [wire.Batch(batch_size=32, samples_ns=[5, 6], repeated_items=3),
                              wire.Batch(batch_size=2048, skipped="larger than the 40 inputs")]
    assert events.predictions == wire.Predictions(ns=9, n=2, reply=None)  # the candidate's side sent a list
    assert events.gone == wire.Gone(step="latency", message="closed")
    assert events.resources is None and events.reads is None


def test_no_events_at_all():
    events = TimerEvents.parse({})
    assert events.steps == [] and events.load is None and events.predictions is None
