"""The harness and the timer talking over their socket, as plain processes (no sandbox): the protocol's
logic, each way a model can misbehave, and what the timer records. The sandboxed runs are in
tests/grading/test_measurement_docker.py."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from grader.grading.prediction import read_events
from grader.runtime import harness
from tests.helpers import TASK_DIR

RUNTIME = Path(harness.__file__).parent
LATENCY = {"warmup_queries": 2, "min_queries": 15, "min_duration_s": 0.0, "max_duration_s": 5.0,
           "floor_min_queries": 10, "floor_min_duration_s": 0.0, "batch_sizes": [8, 5000], "batch_min_batches": 2,
           "batch_min_duration_s": 0.0, "batch_max_duration_s": 5.0}
GOOD = """
class Model:
    def predict(self, inputs):
        return ["good"] * len(inputs)

    def predict_proba(self, inputs):
        return [[0.75, 0.25]] * len(inputs)

def load(artifacts_dir):
    return Model()
"""


def converse(tmp_path: Path, model: str, *, latency: dict | None = LATENCY, files: dict[str, str] | None = None,
             rows: int = 40) -> tuple[dict, subprocess.CompletedProcess]:
    ws, art, inputs, out = (tmp_path / d for d in ("ws", "art", "inputs", "out"))
    for d in (ws, art, inputs, out):
        d.mkdir()
    (ws / "model.py").write_text(textwrap.dedent(model))
    for name, text in (files or {}).items():
        (ws / name).write_text(text)
    (art / "weights.txt").write_text("1")
    test = pd.read_csv(TASK_DIR / "data" / "test.csv").head(rows)
    test.drop(columns=["Status"]).to_csv(inputs / "features.csv", index=False)
    sock = str(tmp_path / "h.sock")
    served = subprocess.Popen([sys.executable, str(RUNTIME / "harness.py"), "--socket", sock, "--entry", "model:load",
                               "--workspace", str(ws), "--artifacts", str(art), "--accept-timeout", "30"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    settings = {"seed": 3, "noop_label": "good", "latency": latency}
    timer = subprocess.run([sys.executable, str(RUNTIME / "timer.py"), "--socket", sock, "--suite", "tabular",
                            "--inputs", str(inputs / "features.csv"), "--out", str(out),
                            "--settings", json.dumps(settings), "--connect-timeout", "30"],
                           capture_output=True, text=True, timeout=120)
    assert timer.returncode == 0, timer.stderr
    stdout, stderr = served.communicate(timeout=60)
    return read_events(out), subprocess.CompletedProcess(served.args, served.returncode, stdout, stderr)


def test_a_whole_conversation(tmp_path):
    events, served = converse(tmp_path, GOOD)
    assert served.returncode == 0, served.stderr
    assert list(events) == ["started", "inputs", "hello", "floor", "load", "latency", "batches", "predictions",
                            "reads", "resources", "done"]
    assert events["hello"]["codec"] == "frame"  # the inputs travel as column blocks (tests/runtime/test_codec.py)
    assert len(events["floor"]["samples_ns"]) >= 10 and events["load"]["ok"] and events["load"]["has_proba"]
    single = events["latency"]
    assert len(single["samples_ns"]) >= 15 and single["predictions"] == ["good"] * len(single["samples_ns"])
    assert single["repeated_items"] == 0 and len(set(single["items"][:38])) == len(single["items"][:38])
    batches = events["batches"]["batches"]
    assert batches[0]["batch_size"] == 8 and len(batches[0]["samples_ns"]) >= 2
    assert batches[1] == {"batch_size": 5000, "skipped": "larger than the 40 inputs"}
    reply = events["predictions"]["reply"]
    assert reply["predictions"] == ["good"] * 40 and reply["proba"] == [[0.75, 0.25]] * 40
    assert (events["reads"]["submission"], events["reads"]["artifacts"]) == ([], [])
    assert events["resources"]["model_peak_rss_mb"] > 10 and "pandas" in events["resources"]["packages"]


def test_without_latency_only_the_predictions_are_asked_for(tmp_path):
    events, served = converse(tmp_path, GOOD, latency=None)
    assert served.returncode == 0
    assert "floor" not in events and "latency" not in events and "batches" not in events
    assert events["predictions"]["n"] == 40 and events["load"]["cold_start_ns"] > 0


def test_a_failing_load_is_reported_with_its_traceback(tmp_path):
    events, served = converse(tmp_path, "def load(artifacts_dir):\n    raise ValueError('no weights here')\n")
    assert served.returncode == harness.EXIT_LOAD_FAILED
    assert events["load"]["ok"] is False and "ValueError: no weights here" in events["load"]["error"]["traceback"]
    assert "predictions" not in events and "done" in events
    assert "no weights here" in served.stderr


def test_a_predict_that_raises_on_one_item_stops_the_loop(tmp_path):
    model = GOOD.replace('return ["good"] * len(inputs)',
                         'if len(inputs) == 1:\n            raise RuntimeError("single rows break me")\n'
                         '        return ["good"] * len(inputs)')
    events, served = converse(tmp_path, model)
    assert served.returncode == harness.EXIT_PREDICT_FAILED
    assert "single rows break me" in events["latency"]["error"]["traceback"] and "predictions" not in events


def test_a_model_that_ends_the_process_leaves_what_was_measured(tmp_path):
    model = GOOD.replace('return ["good"] * len(inputs)', 'import os\n        os._exit(0)')
    events, served = converse(tmp_path, model)
    assert served.returncode == 0
    assert events["gone"]["step"] == "latency" and events["load"]["ok"] and "floor" in events


def test_a_slow_model_stops_at_max_duration(tmp_path):
    model = GOOD.replace('return ["good"] * len(inputs)', 'import time\n        time.sleep(0.05)\n'
                                                           '        return ["good"] * len(inputs)')
    events, _ = converse(tmp_path, model, latency={**LATENCY, "min_queries": 1000, "max_duration_s": 0.5,
                                                   "batch_sizes": []})
    single = events["latency"]
    assert single["stopped_by"] == "max_duration" and 3 <= len(single["samples_ns"]) < 15
    assert min(single["samples_ns"]) >= 50_000_000


def test_reads_of_shipped_files_and_artifacts_are_noted(tmp_path):
    model = GOOD.replace("    return Model()", "    open('shipped.pkl').read()\n"
                                                 "    open(artifacts_dir + '/weights.txt').read()\n"
                                                 "    import helper\n    return Model()")
    events, _ = converse(tmp_path, model, files={"shipped.pkl": "x", "helper.py": "X = 1\n"}, latency=None)
    assert (events["reads"]["submission"], events["reads"]["artifacts"]) == (["shipped.pkl"], ["weights.txt"])


@pytest.mark.parametrize("rows", [3])
def test_more_queries_than_inputs_count_repeats(tmp_path, rows):
    events, _ = converse(tmp_path, GOOD, rows=rows, latency={**LATENCY, "batch_sizes": []})
    single = events["latency"]
    # 2 warm-up queries and 15 timed ones over 3 inputs: every timed query after the first one repeats.
    assert single["repeated_items"] == len(single["samples_ns"]) - 1
