"""Grader-owned prediction harness: runs INSIDE the sandbox, next to the candidate's code.

It imports the candidate's ``module:callable``, calls it with the artifacts folder, predicts on
the hidden-test inputs (features only: labels never enter the sandbox) and writes what came
back, raw, to ``<out>/predictions.json``. Every check of the predictions happens on the host.

Standard library + numpy + pandas only: this file is copied into the runtime image's sandbox.
Exit codes tell the host which step failed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import time
import traceback

# Captured before any candidate code is imported, so replacing time.perf_counter later
# does not change what we measure here. (Issue 3 moves the clock out of the process.)
_clock = time.perf_counter_ns

EXIT_LOAD_FAILED = 3
EXIT_PREDICT_FAILED = 4
EXIT_BAD_INPUT = 5


def _load_inputs(suite: str, path: str):
    if suite == "tabular":
        import pandas as pd

        return pd.read_csv(path)
    raise SystemExit(f"harness: unsupported suite {suite!r}")


def _take(inputs, index: int):
    """One item as a batch of one, of the same type the candidate gets for a batch."""
    if hasattr(inputs, "iloc"):
        return inputs.iloc[index:index + 1].reset_index(drop=True)
    return inputs[index:index + 1]


def _plain(values) -> list:
    """Whatever predict returned, as JSON-ready Python values (no judgement: the host checks)."""
    import numpy as np

    try:
        arr = np.asarray(values, dtype=object)
    except Exception:  # noqa: BLE001 - candidate objects may refuse conversion
        arr = np.asarray(list(values), dtype=object)
    if arr.ndim == 0:
        return [_scalar(arr.item())]
    return [_scalar(x) if not isinstance(x, (list, np.ndarray)) else [_scalar(y) for y in x]
            for x in arr.tolist()]


def _scalar(x):
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if isinstance(x, float):
        return None if math.isnan(x) else x
    if hasattr(x, "item"):
        try:
            return _scalar(x.item())
        except Exception:  # noqa: BLE001
            pass
    return repr(x)


def _percentile(sorted_ms: list[float], p: float) -> float:
    """Nearest rank, no interpolation (as MLPerf LoadGen)."""
    return sorted_ms[min(len(sorted_ms) - 1, math.floor(len(sorted_ms) * p))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entry", required=True)
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--suite", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--latency-items", type=int, default=100)
    args = ap.parse_args(argv)
    out_file = os.path.join(args.out, "predictions.json")

    inputs = _load_inputs(args.suite, args.inputs)
    n = len(inputs)
    sys.path.insert(0, args.workspace)
    os.chdir(args.workspace)
    module_name, attr = args.entry.split(":", 1)

    started = _clock()
    try:
        factory = getattr(importlib.import_module(module_name), attr)
        model = factory(args.artifacts)
    except BaseException:  # noqa: BLE001 - anything the candidate raises is reported
        print(f"harness: loading the model with {args.entry}({args.artifacts!r}) failed:", file=sys.stderr)
        traceback.print_exc()
        return EXIT_LOAD_FAILED
    cold_start_ms = (_clock() - started) / 1e6

    started = _clock()
    try:
        predictions = model.predict(inputs)
    except BaseException:  # noqa: BLE001
        print("harness: model.predict(inputs) raised:", file=sys.stderr)
        traceback.print_exc()
        return EXIT_PREDICT_FAILED
    batch_ms = (_clock() - started) / 1e6

    result: dict[str, object] = {"n_inputs": n, "predictions": _plain(predictions),
                                 "proba": None, "proba_error": None}
    if hasattr(model, "predict_proba"):
        try:
            result["proba"] = _plain(model.predict_proba(inputs))
        except BaseException:  # noqa: BLE001
            result["proba_error"] = traceback.format_exc(limit=5)

    samples: list[float] = []
    if n and args.latency_items > 0:
        try:
            model.predict(_take(inputs, 0))  # warm-up, untimed
            for i in range(min(args.latency_items, n)):
                item = _take(inputs, i)
                t0 = _clock()
                model.predict(item)
                samples.append((_clock() - t0) / 1e6)
        except BaseException:  # noqa: BLE001
            print("harness: model.predict on a single item raised:", file=sys.stderr)
            traceback.print_exc()
            return EXIT_PREDICT_FAILED
    latency: dict[str, object] = {"cold_start_ms": cold_start_ms, "batch_ms": batch_ms,
                                  "batch_items_per_s": (n / (batch_ms / 1000)) if batch_ms > 0 else None,
                                  "count": len(samples), "clock": "in-process"}
    if samples:
        ordered = sorted(samples)
        latency.update({f"p{int(p * 100)}_ms": _percentile(ordered, p) for p in (0.5, 0.9, 0.95, 0.99)})
        latency.update({"max_ms": ordered[-1], "mean_ms": sum(ordered) / len(ordered)})
    result["latency"] = latency

    with open(out_file, "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
