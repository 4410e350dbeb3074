"""Training side of the reference submission for cv/fashion-mnist.

Reads $GRADER_DATA_DIR/{task.json,train.npz,valid.npz}; writes only $GRADER_ARTIFACTS_DIR/
{model.pt,model.json,training.json}. One thread; about a minute on one CPU.

1. Pixels are scaled to [0, 1] and standardised with the mean and standard deviation of
   train.npz (stored with the model, applied again at prediction by ``model.to_tensor``).
2. The small CNN of ``model.Net`` (two conv blocks, about 0.4 M weights) is trained on train.npz
   with AdamW and a one-cycle learning-rate schedule, in mini-batches of 64, for ``EPOCHS`` epochs.
   Each batch is augmented: random horizontal flips (clothes look the same mirrored) and random
   shifts of up to 2 pixels, which matter with only 600 images per class.
3. After each epoch the network is scored on valid.npz (macro F1); the weights of the best epoch
   are kept (ties go to the later epoch). Valid is used only for this choice.

Deterministic for a given $GRADER_SEED: torch's and the shuffling's generators are seeded from it,
torch runs deterministic algorithms on one thread, and no worker processes are started, so
retraining gives the same weights and byte-identical artifacts.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # write nothing outside the artifacts folder, not even __pycache__

from model import CONFIG_FILE, WEIGHTS_FILE, build, to_tensor  # noqa: E402 - sets the thread variables first

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

DATA = Path(os.environ.get("GRADER_DATA_DIR", "/data"))
ARTIFACTS = Path(os.environ.get("GRADER_ARTIFACTS_DIR", "/artifacts"))
SEED = int(os.environ.get("GRADER_SEED", "0"))
EPOCHS = int(os.environ.get("FASHION_EPOCHS", "12"))  # the tests train for one
BATCH = 64
MAX_LR = 3e-3
WEIGHT_DECAY = 1e-4
SHIFT = 2
ARCH = {"width": 16, "hidden": 128, "dropout": 0.3}


def read_split(name: str, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    with np.load(DATA / f"{name}.npz", allow_pickle=False) as data:
        images, labels = data["images"], data["labels"]
    index = {c: i for i, c in enumerate(classes)}
    return images, np.array([index[str(label)] for label in labels], dtype=np.int64)


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and shifts of up to SHIFT pixels (zero fill), drawn from ``generator``."""
    n = x.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    padded = nn.functional.pad(x, (SHIFT, SHIFT, SHIFT, SHIFT), value=float(x.min()))
    offsets = torch.randint(0, 2 * SHIFT + 1, (n, 2), generator=generator).tolist()
    return torch.stack([padded[i, :, dy:dy + 28, dx:dx + 28] for i, (dy, dx) in enumerate(offsets)])


def scores(y: np.ndarray, pred: np.ndarray, n_classes: int) -> dict[str, float]:
    """Accuracy and macro F1 (the mean of the per-class F1 scores, as the grader averages)."""
    confusion = np.bincount(y * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    hits = np.diag(confusion).astype(float)
    f1 = 2 * hits / np.maximum(confusion.sum(0) + confusion.sum(1), 1)
    return {"accuracy": float(hits.sum() / len(y)), "macro_f1": float(f1.mean())}


def evaluate(net: nn.Module, x: torch.Tensor, y: np.ndarray, n_classes: int) -> dict[str, float]:
    net.eval()
    with torch.inference_mode():
        pred = torch.cat([net(x[i:i + 500]) for i in range(0, len(x), 500)]).argmax(1).numpy()
    return scores(y, pred, n_classes)


def main() -> int:
    started = time.perf_counter()
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    generator = torch.Generator().manual_seed(SEED)

    task = json.loads((DATA / "task.json").read_text(encoding="utf-8"))
    classes = list(task["classes"])
    train_images, y_train = read_split("train", classes)
    valid_images, y_valid = read_split("valid", classes)
    pixels = train_images.astype(np.float64) / 255.0
    mean, std = round(float(pixels.mean()), 6), round(float(pixels.std()), 6)
    x_train = to_tensor(train_images, mean, std)
    x_valid = to_tensor(valid_images, mean, std)
    t_train = torch.from_numpy(y_train)

    config = {"classes": classes, "mean": mean, "std": std, **ARCH}
    net = build(config)
    optimizer = torch.optim.AdamW(net.parameters(), lr=MAX_LR, weight_decay=WEIGHT_DECAY)
    steps = (len(x_train) + BATCH - 1) // BATCH
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=MAX_LR, epochs=EPOCHS, steps_per_epoch=steps)
    loss_fn = nn.CrossEntropyLoss()

    history, best, best_state = [], None, None
    for epoch in range(1, EPOCHS + 1):
        net.train()
        order = torch.randperm(len(x_train), generator=generator)
        total = 0.0
        for start in range(0, len(order), BATCH):
            idx = order[start:start + BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(augment(x_train[idx], generator)), t_train[idx])
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(idx)
        on_valid = evaluate(net, x_valid, y_valid, len(classes))
        history.append({"epoch": epoch, "train_loss": round(total / len(x_train), 4),
                        **{k: round(v, 4) for k, v in on_valid.items()}})
        print(json.dumps({**history[-1], "seconds": round(time.perf_counter() - started, 1)}), flush=True)
        if best is None or on_valid["macro_f1"] >= best["macro_f1"]:
            best = {"epoch": epoch, **on_valid}
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    torch.save(best_state, ARTIFACTS / WEIGHTS_FILE)
    (ARTIFACTS / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    summary = {"seed": SEED, "epochs": EPOCHS, "best_epoch": best["epoch"],
               "valid_at_best": {k: round(v, 4) for k, v in best.items() if k != "epoch"},
               "history": history, "train_rows": len(x_train), "valid_rows": len(x_valid)}
    # The artifacts hold only what the seed determines (no timings): retraining gives the same bytes.
    (ARTIFACTS / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"best_epoch": best["epoch"], "valid": summary["valid_at_best"],
                      "seconds": round(time.perf_counter() - started, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
