"""Tests of the solution's own code: stable preprocessing, and the service end to end."""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import ThreadingHTTPServer

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import make_pipeline

import model
import serve

NUMERIC = ["Seniority", "Income"]
CATEGORICAL = ["Home"]


def test_prepare_keeps_types_for_single_rows_and_missing_values():
    row = pd.DataFrame([{"Seniority": "3", "Income": None, "Home": None}])
    out = model.prepare(row, NUMERIC, CATEGORICAL)
    assert out.dtypes.tolist() == [np.dtype("float64"), np.dtype("float64"), np.dtype(object)]
    assert np.isnan(out.loc[0, "Income"]) and pd.isna(out.loc[0, "Home"])


def test_prepare_names_missing_columns():
    try:
        model.prepare(pd.DataFrame([{"Seniority": 1}]), NUMERIC, CATEGORICAL)
    except KeyError as exc:
        assert "Income" in str(exc)
    else:
        raise AssertionError("a missing column must be an error")


def test_service_answers_a_prediction():
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"Seniority": rng.integers(0, 20, 200).astype(float), "Income": rng.normal(100, 30, 200)})
    y = x["Seniority"] < 5
    pipeline = make_pipeline(HistGradientBoostingClassifier(max_iter=20, random_state=0)).fit(x, y)
    predictor = model.CreditModel(pipeline, 0.5, ["good", "bad"], "bad", NUMERIC, [])
    server = ThreadingHTTPServer(("127.0.0.1", 0), serve.make_handler(predictor))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        body = json.dumps({"rows": [{"Seniority": 1, "Income": 90}, {"Seniority": 15, "Income": 120}]}).encode()
        url = f"http://127.0.0.1:{server.server_address[1]}/predict"
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST")) as response:
            answer = json.loads(response.read())
    finally:
        server.shutdown()
    assert answer["predictions"] == ["bad", "good"]
    assert abs(sum(answer["probabilities"][0].values()) - 1) < 1e-9


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
    print("all tests passed")
