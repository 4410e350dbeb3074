"""Comparing training runs: agreement, metric differences, artifact bytes, seeds, and the explanation."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.evaluate.reproducibility import RunRecord, agreement, compare, differing_files, digest, environment
from grader.spec.report import TrainingRun
from grader.submission.requirements import Pin


def _record(run: int, labels: list[str] | None, *, seed: int = 1, kind: str = "same_seed", files=None,
            metrics=None, ok: bool = True, trained: bool = True) -> RunRecord:
    """A run as the pipeline records it: artifacts once training finished, ``ok`` and labels once predicted."""
    from grader.evaluate.reproducibility import Digest

    files = files if files is not None else {"model.bin": "aa"}
    return RunRecord(TrainingRun(run=run, seed=seed, kind=kind, ok=ok, metrics=metrics or {"f1": 0.5}),
                     labels=labels, artifacts=Digest("x" + "".join(files.values()), files, 10) if trained else None)


def test_digest_is_content_not_timestamps(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "w.bin").write_bytes(b"weights")
    (a / "meta.json").write_text("{}")
    (b / "meta.json").write_text("{}")
    da, db = digest(a), digest(b)
    assert da.sha256 == db.sha256 and da.bytes == len(b"weights") + 2 and set(da.files) == {"meta.json", "sub/w.bin"}
    (b / "meta.json").write_text('{"t": 1}')
    assert differing_files(da, digest(b)) == ["meta.json"]


def test_agreement():
    assert agreement(["a", "b", "a", "a"], ["a", "b", "b", "a"]) == 0.75
    assert agreement([], []) == 0.0 and agreement(["a"], ["a", "b"]) == 0.0


def test_identical_runs_are_reproducible():
    rep = compare([_record(1, ["a", "b"]), _record(2, ["a", "b"])], seed=1, same_seed_runs=2)
    assert rep.prediction_agreement == 1.0 and rep.max_metric_diff == 0.0 and rep.artifacts_identical is True
    assert rep.explanation == ["reproducible: 2 trainings with the same seed gave identical predictions and "
                               "byte-identical artifacts"]


def test_different_predictions_say_why_and_which_files():
    rep = compare([_record(1, ["a", "b", "a", "a"], seed=7, metrics={"f1": 0.5, "roc_auc": None}),
                   _record(2, ["a", "a", "a", "b"], seed=7, files={"model.bin": "bb"},
                           metrics={"f1": 0.6, "roc_auc": None})],
                  seed=7, same_seed_runs=2)
    assert rep.prediction_agreement == 0.5 and rep.metric_diffs == {"f1": 0.1} and rep.max_metric_diff == 0.1
    assert rep.artifacts_identical is False and rep.differing_artifacts == ["model.bin"]
    why = rep.explanation[0]
    assert why.startswith("NOT reproducible: 2 trainings with the same GRADER_SEED (7)")
    assert "about 2 of 4 hidden-test rows" in why and "model.bin" in why and "random_state" in why


def test_same_predictions_different_bytes_is_harmless_but_said():
    rep = compare([_record(1, ["a"]), _record(2, ["a"], files={"model.bin": "bb"})], seed=1, same_seed_runs=2)
    assert rep.prediction_agreement == 1.0 and rep.artifacts_identical is False
    assert "artifacts' bytes differ" in rep.explanation[0]


def test_other_seed_spread_and_a_failed_repeat():
    rep = compare([_record(1, ["a", "b"], metrics={"f1": 0.5}),
                   _record(2, None, ok=False),
                   _record(3, ["a", "a"], seed=9, kind="other_seed", metrics={"f1": 0.8})], seed=1, same_seed_runs=2)
    assert rep.prediction_agreement is None  # only one same-seed run finished
    assert "only 1 of 2 same-seed runs finished both training and prediction" in rep.explanation[0]
    assert rep.seed_check is not None and rep.seed_check.seeds == [1, 9]
    assert rep.seed_check.metric_spread == {"f1": 0.3} and rep.seed_check.prediction_agreement == 0.5
    assert [r.ok for r in rep.training_runs] == [True, False, True]


def test_one_run_or_none():
    assert compare([_record(1, ["a"])], seed=1, same_seed_runs=1).prediction_agreement is None
    rep = compare([_record(1, None, ok=False, trained=False)], seed=1, same_seed_runs=2)
    assert rep.explanation == ["no training run finished, so nothing could be compared"]
    assert rep.artifacts_empty is None


@pytest.mark.parametrize("files, empty", [({"model.bin": "aa"}, False), ({}, True)])
def test_training_that_finished_before_a_failed_prediction_is_said_so(files, empty):
    rep = compare([_record(1, None, ok=False, files=files)], seed=1, same_seed_runs=2)
    assert rep.explanation == ["training finished but prediction failed, so there are no predictions to compare"]
    assert rep.artifacts_empty is empty and rep.prediction_agreement is None


def test_environment_checks_against_the_image_first():
    pins = [Pin("pandas", "3.0.6", 1), Pin("numpy", "1.26.0", 2), Pin("left-pad", "1.0", 3)]
    env = environment(pins, {"Pandas": "3.0.6", "numpy": "2.4.6"}, {"numpy": "9"})
    assert env.checked_against == "the runtime image's installed packages" and env.requirements_pinned
    assert [(m.name, m.pinned, m.runtime) for m in env.mismatches] == [("numpy", "1.26.0", "2.4.6"),
                                                                      ("left-pad", "1.0", None)]
    assert environment(pins[:1], None, {"pandas": "3.0.6"}).checked_against.startswith("the runtime lock")
