"""Make the train/valid/test splits of cv/fashion-mnist from Debian's ``dataset-fashion-mnist``.

Needs the Debian package (``apt-get install dataset-fashion-mnist``), which installs Zalando's
four idx files, gzipped, in ``/usr/share/datasets/fashion-mnist`` (``$FASHION_MNIST_DIR`` points
elsewhere); numpy; and this checkout's ``grader`` package, for its byte-stable ``write_npz``. The
grader itself never reads the Debian files. Run from anywhere:
``python tasks/cv/fashion-mnist/make_splits.py``

Steps, all deterministic (no random generator, so no dependence on numpy's RNG streams):
1. read the official training set (60,000 images) and test set (10,000 images) from the idx files,
   checking each file's magic number and shape, and print the sha256 of the decompressed bytes;
   labels 0-9 become the standard class names, in the standard order (``CLASSES``);
2. hash each image's 784 pixel bytes (sha256) and drop repeats: an image whose bytes were already
   seen (official train first, then official test) is dropped, and every copy of an image seen
   with two different labels is dropped; so no image can sit in two splits (this release has no
   exact repeats: nothing is dropped, and the script says so);
3. give each image a sort key, ``sha256(f"{SEED}:{pixel hash}")``, a fixed pseudo-random order that
   depends on the pixels only; per class, take the first 700 images of the official training set
   in key order, the first 600 for train and the next 100 for valid, and the first 200 images of
   the official test set for test: 6,000 / 1,000 / 2,000 images, exactly balanced;
4. order each split by the same key (classes interleaved), and write ``data/{train,valid,test}.npz``
   with ``grader.data.files.write_npz``: ``images``, uint8 of shape (n, 28, 28) as in the source,
   and ``labels``, the class names as ``<U11`` strings; the same arrays always give the same bytes;
5. check that no pixel hash is in two splits, and print each file's rows, size and sha256, to be
   copied into ``task.yaml`` and ``data/LICENSE.md``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # this checkout's grader package, wherever the script runs from

from grader.data.checksums import sha256_file  # noqa: E402
from grader.data.files import write_npz  # noqa: E402

SEED = 20261122
SOURCE = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]  # labels 0-9, Zalando's README
PER_CLASS = {"train": 600, "valid": 100, "test": 200}
OUT = HERE / "data"


def read_idx(name: str, magic: int, dims: int) -> np.ndarray:
    """One idx file (gzipped or not): big-endian magic number, ``dims`` sizes, then uint8 data."""
    path = SOURCE / name
    if not path.exists() and (SOURCE / f"{name}.gz").exists():
        path = SOURCE / f"{name}.gz"
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    header = struct.unpack(f">{1 + dims}I", raw[: 4 * (1 + dims)])
    if header[0] != magic:
        raise SystemExit(f"{path}: magic number {header[0]}, expected {magic}")
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * (1 + dims))
    print(f"read {path.name}: shape {header[1:]} sha256(decompressed)={hashlib.sha256(raw).hexdigest()}")
    return data.reshape(header[1:])


def load(kind: str) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(f"{kind}-images-idx3-ubyte", 2051, 3)
    labels = read_idx(f"{kind}-labels-idx1-ubyte", 2049, 1)
    if images.shape[1:] != (28, 28) or len(images) != len(labels) or labels.max() >= len(CLASSES):
        raise SystemExit(f"{kind}: unexpected shapes {images.shape}, {labels.shape} or labels")
    return images, labels


def pixel_hash(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()


def sort_key(digest: str) -> str:
    return hashlib.sha256(f"{SEED}:{digest}".encode()).hexdigest()


def dedupe(pools: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, list[tuple[str, int, int]]]:
    """Per pool, (pixel hash, index, label) of the images kept: first sightings only, and no image
    that appears with two labels."""
    labels_of: dict[str, set[int]] = {}
    for images, labels in pools.values():
        for image, label in zip(images, labels, strict=True):
            labels_of.setdefault(pixel_hash(image), set()).add(int(label))
    seen: set[str] = set()
    kept: dict[str, list[tuple[str, int, int]]] = {}
    repeats = conflicting = 0
    for name, (images, labels) in pools.items():
        kept[name] = []
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            digest = pixel_hash(image)
            if len(labels_of[digest]) > 1:
                conflicting += 1
            elif digest in seen:
                repeats += 1
            else:
                kept[name].append((digest, i, int(label)))
            seen.add(digest)
    total = sum(len(images) for images, _ in pools.values())
    print(f"{total} images; dropped {repeats} exact repeats and {conflicting} images seen with two labels")
    return kept


def draw(kept: list[tuple[str, int, int]], counts: dict[str, int]) -> dict[str, list[tuple[str, int, int]]]:
    """Per class, the first images in sort-key order: ``counts`` of them for each split, in turn."""
    out: dict[str, list[tuple[str, int, int]]] = {split: [] for split in counts}
    for label in range(len(CLASSES)):
        ranked = sorted((row for row in kept if row[2] == label), key=lambda row: sort_key(row[0]))
        if len(ranked) < sum(counts.values()):
            raise SystemExit(f"class {CLASSES[label]!r}: only {len(ranked)} images")
        start = 0
        for split, n in counts.items():
            out[split] += ranked[start:start + n]
            start += n
    return {split: sorted(rows, key=lambda row: sort_key(row[0])) for split, rows in out.items()}


def main() -> None:
    pools = {"official-train": load("train"), "official-test": load("t10k")}
    kept = dedupe(pools)
    chosen = {**draw(kept["official-train"], {"train": PER_CLASS["train"], "valid": PER_CLASS["valid"]}),
              **draw(kept["official-test"], {"test": PER_CLASS["test"]})}
    source = {"train": "official-train", "valid": "official-train", "test": "official-test"}

    hashes = {split: {row[0] for row in rows} for split, rows in chosen.items()}
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        if hashes[a] & hashes[b]:
            raise SystemExit(f"{len(hashes[a] & hashes[b])} images in both {a} and {b}")
    print("no image (pixel bytes) is in two splits")

    OUT.mkdir(exist_ok=True)
    names = np.array(CLASSES, dtype="<U11")
    for split, rows in chosen.items():
        images, labels = pools[source[split]]
        index = np.array([row[1] for row in rows])
        path = OUT / f"{split}.npz"
        write_npz(path, images=images[index], labels=names[labels[index]])
        per_class = np.bincount(labels[index], minlength=len(CLASSES))
        print(f"{path.name:9s} rows={len(rows):5d} per_class={per_class.min()}-{per_class.max()} "
              f"bytes={path.stat().st_size:8d} sha256={sha256_file(path)}")


if __name__ == "__main__":
    main()
