"""Tests of the solution's own code: input handling, the model's outputs, reproducible training,
and the service end to end. Run with ``python test_model.py`` or ``python -m pytest test_model.py``."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer
from pathlib import Path

import numpy as np
import torch

import model
import serve

HERE = Path(__file__).resolve().parent
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def untrained() -> model.FashionModel:
    torch.manual_seed(0)
    return model.FashionModel(model.Net(len(CLASSES), width=4, hidden=8), CLASSES, mean=0.29, std=0.35)


def images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def test_as_batch_accepts_one_image_and_a_channel_axis():
    one = images(1)[0]
    assert model.as_batch(one).shape == (1, 28, 28)
    assert model.as_batch(one[None, :, :, None]).shape == (1, 28, 28)
    assert model.as_batch(one.astype(np.int64)).dtype == np.uint8


def test_as_batch_rejects_wrong_shapes_and_pixel_values():
    for bad in (np.zeros((2, 32, 32), np.uint8), np.zeros((2, 28, 28, 3), np.uint8), np.full((1, 28, 28), 300)):
        try:
            model.as_batch(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad.shape} {bad.dtype}")


def test_to_tensor_scales_and_standardises():
    x = model.to_tensor(np.array([[[0] * 28] * 28, [[255] * 28] * 28], dtype=np.uint8), mean=0.5, std=0.5)
    assert x.shape == (2, 1, 28, 28) and x.dtype == torch.float32
    assert torch.allclose(x[0], torch.full_like(x[0], -1.0)) and torch.allclose(x[1], torch.full_like(x[1], 1.0))


def test_outputs_follow_the_contract():
    predictor, batch = untrained(), images(700)  # more than one PREDICT_BATCH
    labels, proba = predictor.predict(batch), predictor.predict_proba(batch)
    assert len(labels) == 700 and set(labels) <= set(CLASSES)
    assert proba.shape == (700, 10) and np.all(proba >= 0) and np.allclose(proba.sum(axis=1), 1, atol=1e-12)
    assert labels == [CLASSES[i] for i in proba.argmax(axis=1)]
    # one image at a time gives the same answers as the whole batch (no batch statistics at serving)
    assert [predictor.predict(batch[i:i + 1])[0] for i in range(20)] == labels[:20]
    assert predictor.predict(np.zeros((0, 28, 28), np.uint8)) == []


def test_validation_scores_match_their_definition():
    sys.path.insert(0, str(HERE))
    import train

    y, pred = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 2, 0])
    got = train.scores(y, pred, 3)
    f1 = [2 * 1 / (2 + 1 + 1), 2 * 2 / (2 + 3), 2 * 1 / (2 + 1)]  # per class: 2 TP / (predicted + true)
    assert abs(got["accuracy"] - 4 / 6) < 1e-12 and abs(got["macro_f1"] - np.mean(f1)) < 1e-12


def _train(data: Path, artifacts: Path) -> None:
    env = {**os.environ, "GRADER_DATA_DIR": str(data), "GRADER_ARTIFACTS_DIR": str(artifacts),
           "GRADER_SEED": "7", "FASHION_EPOCHS": "1", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(HERE / "train.py")], env=env, check=True, capture_output=True, cwd=HERE)


def test_training_is_reproducible_and_loads():
    """One epoch on a small synthetic data set, twice with the same seed: the same bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        (data / "task.json").write_text(json.dumps({"id": "cv/fashion-mnist", "classes": CLASSES}))
        rng = np.random.default_rng(1)
        for split, n in (("train", 200), ("valid", 50)):
            labels = np.array(CLASSES, dtype="<U11")[rng.integers(0, 10, n)]
            np.savez(data / f"{split}.npz", images=images(n, seed=n), labels=labels)
        first, second = Path(tmp) / "a", Path(tmp) / "b"
        _train(data, first)
        _train(data, second)
        for name in (model.WEIGHTS_FILE, model.CONFIG_FILE, "training.json"):
            assert (first / name).read_bytes() == (second / name).read_bytes(), f"{name} differs"
        predictor = model.load(str(first))
        assert predictor.classes == CLASSES and len(predictor.predict(images(3))) == 3


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_service_answers_predictions_and_rejects_bad_input():
    predictor = untrained()
    server = ThreadingHTTPServer(("127.0.0.1", 0), serve.make_handler(predictor))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/predict"
    batch = images(2)
    try:
        status, as_lists = _post(url, {"images": batch.tolist()})
        _, as_b64 = _post(url, {"images_b64": [base64.b64encode(im.tobytes()).decode() for im in batch]})
        bad_shape, _ = _post(url, {"images": [[[0] * 27] * 28]})
        bad_b64, _ = _post(url, {"images_b64": ["AAAA"]})
    finally:
        server.shutdown()
    assert status == 200 and as_lists["predictions"] == predictor.predict(batch) == as_b64["predictions"]
    assert abs(sum(as_lists["probabilities"][0].values()) - 1) < 1e-9
    assert bad_shape == 400 and bad_b64 == 400


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
    print("all tests passed")
