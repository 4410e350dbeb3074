"""Latency and reproducibility, measured in the real Docker sandbox on submissions built to be measured.

The latency figures must be right (a predictor that sleeps a known time is reported at that time)
and out of the candidate's reach (a predictor that rewrites the clock in its process changes
nothing). The reproducibility check must tell a deterministic submission from one whose training
depends on the clock or on unseeded randomness, and say why.
"""

from __future__ import annotations

import pytest

from grader.grading.pipeline import Grader
from tests.helpers import MINI_MODEL, MINI_TRAIN, QUICK_LATENCY, make_submission, tasks_copy

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("nothing_left")]

#: Long enough that what a query costs after an idle pause (decoding a one-row DataFrame, replying:
#: a few hundred microseconds with cold caches) stays a few percent of it.
SLEEP_MS = 50.0
#: The sleeping predictor: sleeps SLEEP_MS per call, whatever the batch; answers the majority label.
SLEEPY_MODEL = MINI_MODEL.replace("    def predict(self, inputs):\n",
                                  f"    def predict(self, inputs):\n        _sleep({SLEEP_MS / 1000})\n") \
    .replace("import json, os\n", "import json, os, time\n_sleep = time.sleep\n")

#: Rewrites every clock of its process at import, then sleeps as the sleepy model does. It also tries to
#: reach the timer's inputs and output, and to stop other processes; each attempt's outcome goes to stderr.
CHEATING_MODEL = SLEEPY_MODEL.replace("_sleep = time.sleep\n", """_sleep = time.sleep
import signal, sys
frozen = [0]
def _tick_ns():
    frozen[0] += 1000  # one microsecond per reading, whatever really happened
    return frozen[0]
time.perf_counter_ns = time.monotonic_ns = time.time_ns = _tick_ns
time.perf_counter = time.monotonic = time.time = lambda: _tick_ns() / 1e9
for what, attempt in {
    "read-inputs": lambda: os.listdir("/grader-inputs"),
    "write-results": lambda: open("/grader-out/events.jsonl", "a").write('{"event": "latency"}'),
    "stop-others": lambda: [os.kill(int(p), signal.SIGSTOP) for p in os.listdir("/proc")
                            if p.isdigit() and int(p) not in (1, os.getpid())],
}.items():
    try:
        attempt()
        print(f"CHEAT {what}: done", file=sys.stderr)
    except OSError as exc:
        print(f"CHEAT {what}: {type(exc).__name__}", file=sys.stderr)
""")

LATENCY = {**QUICK_LATENCY, "min_queries": 60, "min_duration_s": 1.0}


def grade(docker_box, tmp_path, submission, **sections):
    tasks = tasks_copy(tmp_path / "tasks", train_timeout_s=120, predict_timeout_s=120, **sections)
    return Grader(docker_box, tasks_root=tasks).grade(submission, out_dir=tmp_path / "out")


def _assert_near_sleep(report) -> None:
    lat = report.latency
    assert lat.measured and lat.count >= 60, lat
    # The model's own time is the sleep; what the timer adds is the round trip measured as the floor.
    # The least-disturbed query shows that bias alone: it must be within the floor (+2 ms) of the
    # sleep. The median also carries the machine's scheduling delays on a busy shared machine
    # (a sleep wakes up late under load), so it gets a few percent more.
    assert lat.floor is not None and 0 < lat.floor.p50_ms < 2.0, lat.floor
    assert SLEEP_MS <= lat.min_ms < SLEEP_MS + lat.floor.p50_ms + 2.0, (lat.min_ms, lat.floor.p50_ms)
    assert SLEEP_MS < lat.p50_ms and (lat.p50_ms - SLEEP_MS) / SLEEP_MS < 0.10, lat.p50_ms


def test_a_sleeping_predictor_is_reported_at_its_sleep(docker_box, tmp_path):
    report = grade(docker_box, tmp_path, make_submission(tmp_path / "s", model=SLEEPY_MODEL), latency=LATENCY,
                   reproducibility={"runs": 1},
                   rubric={"criteria": {"latency-p95": {"gate": 5}}})
    assert report.status == "graded" and report.failures == [], report.failures
    _assert_near_sleep(report)
    assert [b.batch_size for b in report.latency.batches] == [32]
    assert report.latency.batches[0].items_per_s < 32 / (SLEEP_MS / 1000)  # a batch is one sleep
    assert report.latency.single_batch_agreement == 1.0 and report.latency.repeated_items == 0
    assert report.latency.cold_start_ms is not None and report.latency.peak_memory_mb > 10
    # A rubric gate on the latency figure: what passing requires says it is not met, and why.
    assert ("latency.p95_ms <= 5", False) in [(r.rule, r.met) for r in report.pass_rule]
    assert report.passed is False and any("latency-p95" in r for r in report.rubric.not_passed_because)


def test_rewriting_the_clock_in_the_model_changes_nothing(docker_box, tmp_path):
    report = grade(docker_box, tmp_path, make_submission(tmp_path / "s", model=CHEATING_MODEL), latency=LATENCY,
                   reproducibility={"runs": 1})
    assert report.status == "graded" and report.failures == [], report.failures
    _assert_near_sleep(report)
    stderr = (tmp_path / "out" / "logs" / "predict.stderr.log").read_text()
    for what in ("read-inputs", "write-results", "stop-others"):
        assert f"CHEAT {what}: PermissionError" in stderr, stderr


#: Training whose result depends on something other than the seed; the model answers from a salt
#: mixed with each row, so two trainings disagree on about half the rows.
UNSTABLE = {
    "clock": "import time\nsalt = time.perf_counter_ns()\n",
    "unseeded randomness": "import random\nsalt = random.getrandbits(64)\n",
}
SALTED_MODEL = """
import hashlib, json, os

class Model:
    def __init__(self, salt):
        self.salt = salt

    def predict(self, inputs):
        rows = [repr(tuple(r)) for r in inputs.itertuples(index=False)]
        return ["bad" if hashlib.sha256(f"{self.salt}{r}".encode()).digest()[0] % 2 else "good" for r in rows]

def load(artifacts_dir):
    with open(os.path.join(artifacts_dir, "model.json")) as fh:
        return Model(json.load(fh)["salt"])
"""


@pytest.mark.parametrize("cause", sorted(UNSTABLE))
def test_training_that_depends_on_more_than_the_seed_is_not_reproducible(docker_box, tmp_path, cause):
    train = UNSTABLE[cause] + ("import json, os\njson.dump({'salt': salt}, open(os.path.join("
                               "os.environ['GRADER_ARTIFACTS_DIR'], 'model.json'), 'w'))\n")
    report = grade(docker_box, tmp_path, make_submission(tmp_path / "s", train=train, model=SALTED_MODEL),
                   latency=QUICK_LATENCY)
    rep = report.reproducibility
    assert report.status == "graded" and report.failures == [], report.failures
    assert [r.ok for r in rep.training_runs] == [True, True] and rep.runs == 2
    assert rep.prediction_agreement is not None and 0.3 < rep.prediction_agreement < 0.7, rep
    assert rep.artifacts_identical is False and rep.differing_artifacts == ["model.json"]
    assert rep.max_metric_diff is not None and rep.max_metric_diff > 0
    why = " ".join(rep.explanation)
    assert "NOT reproducible" in why and "GRADER_SEED" in why and "model.json" in why, why
    # Single-item answers agree with the batch: the salt is fixed once trained.
    assert report.latency.single_batch_agreement == 1.0


def test_a_model_shipped_in_the_submission_and_mismatched_pins_are_reported(docker_box, tmp_path):
    """Training writes nothing; the model reads a file shipped with the code. Reproducible, but not honest."""
    train = "print('nothing to train: the model ships with the code')\n"
    model = MINI_MODEL.replace('os.path.join(artifacts_dir, "model.json")', '"shipped.json"')
    sub = make_submission(tmp_path / "s", train=train, model=model,
                          extra={"shipped.json": '{"label": "good"}', "requirements.txt": "pandas==2.2.0\n"})
    report = grade(docker_box, tmp_path, sub, latency=QUICK_LATENCY, reproducibility={"runs": 2, "other_seed": 7})
    rep = report.reproducibility
    assert report.status == "graded" and report.failures == [], report.failures
    assert [(r.seed, r.kind) for r in rep.training_runs] == [(report.environment.seed, "same_seed"),
                                                             (report.environment.seed, "same_seed"),
                                                             (7, "other_seed")]
    assert rep.prediction_agreement == 1.0 and rep.artifacts_identical is True
    assert rep.artifacts_empty is True and rep.reads_submission_files == ["shipped.json"]
    assert rep.reads_artifacts is False
    assert rep.seed_check is not None and rep.seed_check.seeds == [report.environment.seed, 7]
    assert rep.seed_check.max_spread == 0.0 and rep.seed_check.prediction_agreement == 1.0
    env = rep.environment
    assert env is not None and env.checked_against == "the runtime image's installed packages"
    assert [(m.name, m.pinned, m.runtime) for m in env.mismatches] == [("pandas", "2.2.0", "3.0.6")]
    why = " ".join(rep.explanation)
    assert "/artifacts empty" in why and "shipped.json" in why and "pandas==2.2.0 (runtime: 3.0.6)" in why, why
    assert any("shipped.json" in w for w in report.warnings)


def test_mini_submission_with_default_settings_is_reproducible(docker_box, tmp_path):
    report = grade(docker_box, tmp_path, make_submission(tmp_path / "s", train=MINI_TRAIN))
    rep = report.reproducibility
    assert report.status == "graded" and report.failures == [], report.failures
    assert rep.runs == 2 and rep.prediction_agreement == 1.0 and rep.artifacts_identical is True
    assert rep.max_metric_diff == 0.0 and rep.artifacts_empty is False and rep.reads_artifacts is True
    assert rep.reads_submission_files == [] and rep.environment is not None and rep.environment.mismatches == []
    assert "reproducible" in rep.explanation[0]
    # Default latency settings: LoadGen-style minimums met, the floor measured in the same run.
    lat = report.latency
    assert lat.count >= 200 and lat.duration_s >= 2.0 and lat.stopped_by == "min_queries_and_duration"
    assert lat.floor is not None and lat.floor.count >= 200
    assert [b.batch_size for b in lat.batches] == [32, 256] and all(b.items_per_s for b in lat.batches)
    assert lat.full_batch is not None and lat.full_batch.items == 891
    assert set(report.phases) == {"train", "predict", "train-2", "predict-2"}
