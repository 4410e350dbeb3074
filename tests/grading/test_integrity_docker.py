"""Integrity probes end to end in the real Docker sandbox: a submission that embeds the public data set the
task comes from and answers by looking rows up is flagged ``memorised_rows`` with both figures, while the
near-twins it was judged on change no figure of the report."""

from __future__ import annotations

import pandas as pd
import pytest

from grader.evaluate.integrity import MEMORISED, ORDER
from grader.grading.pipeline import Grader
from tests.helpers import QUICK_LATENCY, TASK_DIR, make_submission, tasks_copy

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("nothing_left")]

LOOKUP_TRAIN = """
import os, shutil
shutil.copyfile("public.csv", os.path.join(os.environ["GRADER_ARTIFACTS_DIR"], "public.csv"))
"""

LOOKUP_MODEL = """
import os
import pandas as pd

FEATURES = None

class Lookup:
    def __init__(self, table, features):
        self.table, self.features = table, features

    def predict(self, inputs):
        keys = inputs[self.features].astype(str).itertuples(index=False, name=None)
        return [self.table.get(k, "good") for k in keys]

def load(artifacts_dir):
    data = pd.read_csv(os.path.join(artifacts_dir, "public.csv"))
    features = [c for c in data.columns if c != "Status"]
    keys = data[features].astype(str).itertuples(index=False, name=None)
    return Lookup(dict(zip(keys, data["Status"])), features)
"""


def test_a_lookup_of_the_public_data_set_is_flagged_memorised(docker_box, tmp_path):
    # The candidate's copy of the public data set: the task's three files, as the R package ships them.
    public = pd.concat([pd.read_csv(TASK_DIR / "data" / f"{s}.csv", dtype=str, keep_default_na=False)
                        for s in ("train", "valid", "test")])
    sub = make_submission(tmp_path / "s", train=LOOKUP_TRAIN, model=LOOKUP_MODEL,
                          extra={"public.csv": public.to_csv(index=False, lineterminator="\n")})
    tasks = tasks_copy(tmp_path / "tasks", latency=QUICK_LATENCY, reproducibility={"runs": 1})
    report = Grader(docker_box, tasks_root=tasks).grade(sub, out_dir=tmp_path / "out")
    assert report.status == "graded" and report.failures == [], report.failures
    hidden = len(pd.read_csv(TASK_DIR / "data" / "test.csv"))
    # The twins and repeated rows are never counted: every figure is on the hidden rows alone.
    assert report.metrics["accuracy"] == 1.0
    assert sum(int(v["support"]) for v in report.per_class.values()) == hidden
    assert len(pd.read_csv(tmp_path / "out" / "predictions.csv")) == hidden
    assert report.latency is not None and report.latency.full_batch is not None
    assert report.latency.full_batch.items == hidden
    assert report.latency.single_batch_agreement == 1.0
    kinds = {f.kind: f for f in report.integrity.flags}
    assert MEMORISED in report.integrity.checked and ORDER in report.integrity.checked
    assert ORDER not in kinds  # a lookup answers a row alike wherever it comes
    flag = kinds[MEMORISED]
    assert flag.figures["original_accuracy"] == 1.0
    assert flag.figures["twin_accuracy"] <= 0.9, flag.figures
    assert "against" in flag.evidence[0] and f"{flag.figures['twin_accuracy']:.3f}" in flag.evidence[0]
    print("lookup figures:", flag.figures, "probe call:", report.phases["predict"].duration_s)


ORDER_MODEL = """
class ByPosition:
    def predict(self, inputs):  # an answer by position in the batch, not by the row
        return ["bad" if i % 2 else "good" for i in range(len(inputs))]

def load(artifacts_dir):
    return ByPosition()
"""


def test_a_model_that_answers_by_position_is_flagged_order_dependent(docker_box, tmp_path):
    tasks = tasks_copy(tmp_path / "tasks", latency=QUICK_LATENCY, reproducibility={"runs": 1})
    report = Grader(docker_box, tasks_root=tasks).grade(make_submission(tmp_path / "s", model=ORDER_MODEL),
                                                        out_dir=tmp_path / "out")
    assert report.status == "graded" and report.failures == [], report.failures
    kinds = {f.kind: f for f in report.integrity.flags}
    assert MEMORISED not in kinds  # its originals are nowhere near perfect
    flag = kinds[ORDER]
    assert flag.figures["changed_labels"] > 0.2 * flag.figures["repeated"], flag.figures
