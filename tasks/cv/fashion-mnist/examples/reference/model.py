"""Prediction side of the reference submission: ``load(artifacts_dir)`` returns the model.

Reads only ``<artifacts_dir>/model.pt`` (the network's weights) and ``model.json`` (class names,
pixel scaling, layer sizes), both written by ``train.py``; never touches ``/data``. The network
and the pixel scaling (``to_tensor``) are defined here once and shared with ``train.py``, so
training and serving see identical inputs.
"""

from __future__ import annotations

import os

# One CPU in the sandbox, and threads count against its process limit: no thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(1)

WEIGHTS_FILE = "model.pt"
CONFIG_FILE = "model.json"
IMAGE_SHAPE = (28, 28)
PREDICT_BATCH = 512  # images per forward pass: bounds memory on the whole test split


class Net(nn.Module):
    """Two conv blocks (conv 3x3, batch norm, ReLU, 2x2 max pool), then a small classifier head.

    28x28 -> 14x14 x ``width`` -> 7x7 x ``2 * width`` -> ``hidden`` -> one logit per class.
    """

    def __init__(self, n_classes: int = 10, width: int = 32, hidden: int = 128, dropout: float = 0.3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * width * 7 * 7, hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def as_batch(images: np.ndarray) -> np.ndarray:
    """The input as uint8 of shape (n, 28, 28): also takes one (28, 28) image, or (n, 28, 28, 1)."""
    array = np.asarray(images)
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3 or array.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"expected images of shape (n, 28, 28), got {np.shape(images)}")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.number) or array.size and (array.min() < 0 or array.max() > 255):
            raise ValueError(f"expected uint8 pixels 0-255, got dtype {array.dtype}")
        array = array.astype(np.uint8)
    return array


def to_tensor(images: np.ndarray, mean: float, std: float) -> torch.Tensor:
    """uint8 (n, 28, 28) -> float32 (n, 1, 28, 28), scaled to [0, 1] then standardised."""
    x = torch.from_numpy(np.ascontiguousarray(as_batch(images), dtype=np.float32)) / 255.0
    return ((x - mean) / std).unsqueeze(1)


class FashionModel:
    """The trained network in eval mode, with the class names and pixel scaling it was trained with."""

    def __init__(self, net: Net, classes: list[str], mean: float, std: float) -> None:
        self.net = net.eval()
        self.classes = list(classes)
        self.mean = float(mean)
        self.std = float(std)

    @torch.inference_mode()
    def _logits(self, images: np.ndarray) -> torch.Tensor:
        batch = as_batch(images)
        if len(batch) == 0:
            return torch.zeros((0, len(self.classes)))
        parts = [self.net(to_tensor(batch[i:i + PREDICT_BATCH], self.mean, self.std))
                 for i in range(0, len(batch), PREDICT_BATCH)]
        return torch.cat(parts)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """n x 10, columns in the task's ``classes`` order; float64 rows that sum to 1."""
        proba = torch.softmax(self._logits(images).double(), dim=1).numpy()
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, images: np.ndarray) -> list[str]:
        return [self.classes[i] for i in self._logits(images).argmax(dim=1).tolist()]


def build(config: dict) -> Net:
    return Net(len(config["classes"]), config["width"], config["hidden"], config["dropout"])


def load(artifacts_dir: str) -> FashionModel:
    folder = Path(artifacts_dir)
    config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    net = build(config)
    net.load_state_dict(torch.load(folder / WEIGHTS_FILE, map_location="cpu", weights_only=True))
    return FashionModel(net, config["classes"], config["mean"], config["std"])
