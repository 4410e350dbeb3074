import shutil
from pathlib import Path

import pytest
import yaml

from grader.cli.schema import KINDS, SCHEMAS, schema_for
from grader.errors import SpecError, UnknownNameError
from grader.spec.task import discover_tasks, get_task, load_task, tasks_dir

TASK = tasks_dir() / "tabular" / "credit-default"


@pytest.fixture
def task_copy(tmp_path) -> Path:
    dest = tmp_path / "tabular" / "credit-default"
    shutil.copytree(TASK, dest)
    return dest


def edit(folder: Path, change) -> Path:
    spec = yaml.safe_load((folder / "task.yaml").read_text())
    change(spec)
    (folder / "task.yaml").write_text(yaml.safe_dump(spec))
    return folder


def test_bundled_tasks_load():
    assert "tabular/credit-default" in discover_tasks()
    task = get_task("tabular/credit-default")
    assert task.positive_class == "bad" and task.classes == ["good", "bad"]
    assert task.public_info["feature_columns"] == task.feature_columns


def test_unknown_key_names_key_and_file(task_copy):
    edit(task_copy, lambda s: s["limits"].update(gpus=1))
    with pytest.raises(SpecError) as err:
        load_task(task_copy)
    assert "unknown key 'limits.gpus'" in str(err.value) and str(task_copy / "task.yaml") in str(err.value)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(positive_class="ugly"), "positive_class 'ugly' is not one of"),
    (lambda s: s.update(metrics=["precison"]), "did you mean 'precision'"),
    (lambda s: s.update(version=2), "'version'"),
    (lambda s: s.update(id="tabular/other"), "does not match its folder"),
    (lambda s: s.pop("label_column"), "a tabular task needs a label_column"),
    (lambda s: s["rubric"].update(name="ml-engineers"), "rubric: unknown rubric 'ml-engineers'"),
    (lambda s: s["rubric"]["criteria"].update(recal={"zero": 0.1}), "did you mean 'recall'"),
    (lambda s: s["rubric"]["criteria"].update(recall={"zero": 0.9, "full": 0.5}), "must be above 'zero'"),
    (lambda s: s["rubric"]["criteria"].update(recall={"kind": "check"}), "not its id or kind"),
    (lambda s: s["rubric"]["criteria"].update(recall={"figure": "balanced_accuracy"}),
     "scores 'balanced_accuracy', which is not in this task's metrics"),
    (lambda s: s.update(latency={"min_duration_s": 10, "max_duration_s": 5}), "max_duration_s must be at least"),
    (lambda s: s.update(latency={"batch_sizes": [0]}), "batch_sizes must be positive"),
    (lambda s: s.update(reproducibility={"runs": 0}), "'reproducibility.runs'"),
    (lambda s: s.update(reproducibility={"repeats": 2}), "unknown key 'reproducibility.repeats'"),
])
def test_spec_errors_are_specific(task_copy, change, message):
    edit(task_copy, change)
    with pytest.raises(SpecError, match=message):
        load_task(task_copy)


def test_unknown_task_suggests_a_name():
    with pytest.raises(UnknownNameError, match="did you mean 'tabular/credit-default'"):
        get_task("tabular/credit-defualt")


def test_exported_schemas_are_up_to_date():
    import json

    root = SCHEMAS
    for kind in KINDS:  # `grader schema KIND` prints these files
        committed = json.loads((root / f"{kind}.schema.json").read_text())
        assert committed == schema_for(kind), f"run `python -m grader.cli.schema` to refresh {root}/{kind}.schema.json"


def test_task_thresholds_are_applied_to_its_rubric(task_copy):
    edit(task_copy, lambda s: s["rubric"]["criteria"].update(recall={"zero": 0.5, "full": 0.9, "gate": 0.7}))
    rubric = load_task(task_copy).rubric_spec()
    recall = next(c for c in rubric.criteria() if c.id == "recall")
    assert (recall.zero, recall.full, recall.gate) == (0.5, 0.9, 0.7)
    assert recall.gate_rule() == "recall >= 0.7"


def test_overrides_are_validated_like_the_file():
    from grader.spec.task import with_overrides

    task = get_task("tabular/credit-default")
    quick = with_overrides(task, {"reproducibility": {"runs": 1}, "latency": {"min_queries": 5}})
    assert quick.reproducibility.runs == 1 and quick.latency.min_queries == 5 and quick.latency.warmup_queries == 10
    assert quick.root == task.root and quick.data_path("test") == task.data_path("test")
    with pytest.raises(SpecError, match="unknown key 'latency.min_querys'"):
        with_overrides(task, {"latency": {"min_querys": 5}})


@pytest.mark.parametrize("change, field, fix", [
    (lambda s: s.update(positive_class="ugly"), "positive_class", "or to null for a multiclass task"),
    (lambda s: s.update(positive_class=None), "positive_class", "a binary task needs a positive_class: one of "
                                                                 "classes ['good', 'bad']"),
    (lambda s: s.update(label_column=None), "label_column", "set it to the name of the label's column"),
    (lambda s: s.update(feature_columns=[]), "feature_columns", "the CSV files' feature columns, in order"),
    (lambda s: s.update(feature_columns=[*s["feature_columns"], "Status"]), "feature_columns",
     "remove it from feature_columns"),
    (lambda s: s.update(classes=["good", "good"]), "classes", "['good'] is listed twice"),
    (lambda s: s.update(expected={"reference": {"balanced_accuracy": 0.7}}), "expected",
     "add it to metrics, or remove it from expected"),
])
def test_a_consistency_error_names_its_field_and_the_fix(task_copy, change, field, fix):
    edit(task_copy, change)
    with pytest.raises(SpecError) as err:
        load_task(task_copy)
    assert f"{task_copy / 'task.yaml'}: '{field}': " in err.value.message and fix in err.value.message
    assert "(top level)" not in err.value.message


def test_a_misspelt_key_gets_the_key_meant(task_copy):
    edit(task_copy, lambda s: (s.update(clases=s.pop("classes")), s["data"].update(lisence=s["data"].pop("licence"))))
    with pytest.raises(SpecError) as err:
        load_task(task_copy)
    assert "unknown key 'clases'" in err.value.message and "unknown key 'data.lisence'" in err.value.message
    assert err.value.hint.startswith("did you mean clases -> classes, data.lisence -> data.licence?")


def test_a_field_of_the_wrong_type_names_the_field_and_where_the_format_is(task_copy):
    edit(task_copy, lambda s: s.update(classes="good, bad"))
    with pytest.raises(SpecError) as err:
        load_task(task_copy)
    assert f"{task_copy / 'task.yaml'}: 'classes': Input should be a valid list" in err.value.message
    assert "`grader schema task`" in err.value.hint
