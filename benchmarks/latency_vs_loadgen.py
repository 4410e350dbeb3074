"""Our single-stream latency against MLPerf LoadGen's own, for the same predictors on this machine.

For each predictor (sleeps of known length, and the credit-default reference model), prints:
- LoadGen's single-stream result (``mlperf_log_summary.txt``: its 50th and 90th percentiles) with the
  predictor called in-process on the host, inputs preloaded to RAM (LoadGen's QSL), nothing else;
- the grader's figures for the same predictor graded in the Docker sandbox (the timer in another
  process, each input encoded before the loop and decoded by the harness at query time), with the
  same minimum count and duration;
- the grader's measurement floor (its no-op predictor) in that same run.

The difference between the two is what measuring from outside the candidate's process costs: the
round trip through the socket and decoding the input, about the floor (a bit more after a long
prediction, when caches are cold). The last line is the machine's load: on a busy machine every
wake-up is late, which LoadGen's in-process loop pays about once per query and the grader's timer
and harness, handing each query over a socket, several times. Needs ``pip install
mlcommons-loadgen`` (the ``bench`` extra).
Run: `python benchmarks/latency_vs_loadgen.py [--min-queries N] [--min-duration S]`.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import textwrap
from pathlib import Path

import pandas as pd

from benchmarks import _direct, _timeline
from grader.grading.pipeline import Grader
from grader.sandbox import get_backend
from grader.spec.task import get_task

TASK = "tabular/credit-default"
SLEEPER = """
import json, os, time

class Model:
    def predict(self, inputs):
        time.sleep({seconds})
        return ["good"] * len(inputs)

def load(artifacts_dir):
    json.load(open(os.path.join(artifacts_dir, "model.json")))
    return Model()
"""


def sleeper(folder: Path, ms: float) -> Path:
    folder.mkdir(parents=True)
    files = {
        "submission.yaml": f"task: {TASK}\ntrain: python train.py\npredict: model:load\n",
        "requirements.txt": "pandas==3.0.6\n",
        "ANSWERS.md": "## serving-latency\nA benchmark predictor.\n",
        "train.py": "import json, os\njson.dump({}, open(os.path.join(os.environ['GRADER_ARTIFACTS_DIR'], "
                    "'model.json'), 'w'))\n",
        "model.py": textwrap.dedent(SLEEPER.format(seconds=ms / 1000)),
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def loadgen(model, samples: list[pd.DataFrame], min_queries: int, min_duration_s: float, out: Path) -> dict:
    """LoadGen single-stream, PerformanceOnly, the predictor called synchronously in issue_query."""
    import mlperf_loadgen as lg

    def issue(query_samples):
        for q in query_samples:
            model.predict(samples[q.index])
        lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, 0, 0) for q in query_samples])

    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(len(samples), len(samples), lambda _s: None, lambda _s: None)
    settings = lg.TestSettings()
    settings.scenario = lg.TestScenario.SingleStream
    settings.mode = lg.TestMode.PerformanceOnly
    settings.min_query_count = min_queries
    settings.min_duration_ms = int(min_duration_s * 1000)
    out.mkdir(parents=True)
    log = lg.LogSettings()
    log.log_output.outdir = str(out)
    log.log_output.copy_summary_to_stdout = False
    try:
        lg.StartTestWithLogSettings(sut, qsl, settings, log)
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
    summary = (out / "mlperf_log_summary.txt").read_text()

    def ns(label: str) -> float:
        match = re.search(rf"^{re.escape(label)}\s*:\s*(\d+)", summary, re.M)
        assert match, f"{label!r} not in LoadGen's summary"
        return int(match[1]) / 1e6

    return {"p50_ms": ns("50.00 percentile latency (ns)"), "p90_ms": ns("90.00 percentile latency (ns)"),
            "mean_ms": ns("Mean latency (ns)"), "valid": "Result is : VALID" in summary}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--min-queries", type=int, default=500)
    ap.add_argument("--min-duration", type=float, default=5.0, help="seconds")
    ap.add_argument("--sandbox", default="docker")
    args = ap.parse_args()
    task = get_task(TASK)
    overrides = {"reproducibility": {"runs": 1},
                 "latency": {"min_queries": args.min_queries, "min_duration_s": args.min_duration,
                             "max_duration_s": max(60.0, args.min_duration * 4), "batch_sizes": []}}
    features = pd.read_csv(task.data_path("test")).drop(columns=[task.label_column])
    samples = [features.iloc[[i]].reset_index(drop=True) for i in range(len(features))]
    rows = []
    box = get_backend(args.sandbox)
    with tempfile.TemporaryDirectory() as tmp:
        predictors = {"sleep 1 ms": sleeper(Path(tmp, "s1"), 1), "sleep 10 ms": sleeper(Path(tmp, "s10"), 10),
                      "credit reference": task.root / "examples" / "reference"}
        try:
            for name, submission in predictors.items():
                slug = name.replace(" ", "-")
                report = Grader(box, task_overrides=overrides).grade(submission, out_dir=Path(tmp, "out", slug))
                lat = report.latency
                assert lat.measured and lat.floor is not None, report.failures
                artifacts = _direct.train(task, submission, Path(tmp, "direct", slug))
                model = _direct.import_model(submission).load(str(artifacts))
                ours = lat.p50_ms, lat.p90_ms
                theirs = loadgen(model, samples, args.min_queries, args.min_duration, Path(tmp, "lg", slug))
                rows.append((name, theirs, ours, lat.floor.p50_ms, lat.count))
                print(f"{name}: done", flush=True)
        finally:
            box.close()
    print(f"\nsingle-stream latency, ms (min {args.min_queries} queries and {args.min_duration:g} s each; "
          f"grader in the {args.sandbox} sandbox, LoadGen in-process on the host)")
    print(f"{'predictor':18s} {'LoadGen p50':>11s} {'p90':>7s} {'grader p50':>11s} {'p90':>7s} "
          f"{'diff p50':>9s} {'diff %':>7s} {'floor p50':>10s} {'queries':>8s}")
    for name, theirs, ours, floor, count in rows:
        diff = ours[0] - theirs["p50_ms"]
        print(f"{name:18s} {theirs['p50_ms']:11.3f} {theirs['p90_ms']:7.3f} {ours[0]:11.3f} {ours[1]:7.3f} "
              f"{diff:+9.3f} {100 * diff / theirs['p50_ms']:+6.1f}% {floor:10.3f} {count:8d}"
              + ("" if theirs["valid"] else "   (LoadGen: INVALID run)"))
    print(_timeline.load_average())


if __name__ == "__main__":
    main()
