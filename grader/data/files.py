"""Helpers for the scripts that make a task's data files: byte-stable outputs (their checksums come
from :func:`grader.data.checksums.sha256_file`).

``numpy.savez_compressed`` stamps the current time into its zip entries, so the same arrays give
different bytes (and checksums) on every run; :func:`write_npz` writes the same arrays to the same
bytes, and :func:`read_npz` reads them back without pickles.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """A compressed ``.npz`` (readable by ``numpy.load``) whose bytes depend on the arrays only."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            array = np.asarray(arrays[name])
            if array.dtype == object:
                raise ValueError(f"{name}: object arrays need pickles; use a fixed-width string or numeric dtype")
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buf.getvalue(), compresslevel=9)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}
