"""Tests of the solution's own code: text cleaning, the threshold rule, and the service end to end."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

import numpy as np

import model
import serve
import train


def test_prepare_strips_html_and_keeps_one_string_per_item():
    out = model.prepare(['Good<br /><br />but stale &quot;fresh&quot; <a href="http://x">link</a>', None,
                         float("nan"), 3, "5 < 6"])
    assert [" ".join(t.split()) for t in out] == ['Good but stale "fresh" link', "", "", "3", "5 < 6"]


def test_prepare_refuses_a_lone_string():
    try:
        model.prepare("one review")
    except TypeError:
        pass
    else:
        raise AssertionError("a lone string must be refused, not split into characters")


def test_threshold_is_inside_the_flat_top_of_f1():
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.45, 0.6, 0.7, 0.9])
    t = train.choose_threshold(y, p)
    assert 0.3 < t <= 0.6


def _tiny_model() -> model.ReviewModel:
    texts = ["love it great", "great taste love", "the best ever", "perfect and great"] * 5 + \
            ["stale not good", "bad taste not worth", "not fresh but ok", "would not buy"] * 5
    y = np.array([False] * 20 + [True] * 20)
    pipeline = train.build(seed=0).set_params(features__words__min_df=1, features__chars__min_df=1)
    return model.ReviewModel(pipeline.fit(model.prepare(texts), y), 0.5, ["great", "other"], "other")


def test_predict_and_proba_follow_the_class_order_on_single_texts():
    m = _tiny_model()
    assert m.predict(["not good, stale"]) == ["other"]
    assert m.predict(["love it, great"]) == ["great"]
    proba = m.predict_proba(["love it, great", ""])
    assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1)
    assert proba[0, 0] > proba[0, 1]  # column 0 is P(great)


def test_service_answers_a_prediction_and_rejects_bad_requests():
    server = ThreadingHTTPServer(("127.0.0.1", 0), serve.make_handler(_tiny_model()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/predict"

    def post(body: bytes) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST")) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    try:
        status, answer = post(json.dumps({"texts": ["would not buy, stale", "great taste, love it"]}).encode())
        bad_status, bad = post(json.dumps({"texts": "not a list"}).encode())
    finally:
        server.shutdown()
    assert status == 200 and answer["predictions"] == ["other", "great"]
    assert abs(sum(answer["probabilities"][0].values()) - 1) < 1e-9
    assert bad_status == 400 and "texts" in bad["error"]


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
    print("all tests passed")
