from pathlib import Path

import pytest

from grader.submission import requirements
from grader.submission.validate import validate

TASKS = {"tabular/credit-default"}
GOOD_MANIFEST = "task: tabular/credit-default\ntrain: python train.py\npredict: model:load\n"


def make(tmp_path: Path, **files: str | None) -> Path:
    base = {"submission.yaml": GOOD_MANIFEST, "requirements.txt": "numpy==2.4.6\n",
            "ANSWERS.md": "## serving-latency\nWe serve it behind a queue.\n", "train.py": "", "model.py": ""}
    base.update(files)
    for name, text in base.items():
        if text is not None:
            (tmp_path / name).write_text(text)
    return tmp_path


def problems(tmp_path, **files):
    return validate(make(tmp_path, **files), known_tasks=TASKS).problems


def test_valid_submission_has_no_problems(tmp_path):
    v = validate(make(tmp_path), known_tasks=TASKS, runtime={"numpy": "2.4.6"})
    assert v.ok and v.problems == [] and v.warnings == []
    assert v.manifest.train_argv == ["python", "train.py"]


@pytest.mark.parametrize("files, expected", [
    ({"submission.yaml": None}, "submission.yaml is missing"),
    ({"requirements.txt": None}, "requirements.txt is missing"),
    ({"ANSWERS.md": None}, "ANSWERS.md is missing"),
    ({"ANSWERS.md": "  \n"}, "ANSWERS.md is empty"),
    ({"submission.yaml": "task: [unclosed\n"}, "not valid YAML"),
    ({"submission.yaml": "- a list\n"}, "expected a mapping"),
    ({"submission.yaml": GOOD_MANIFEST + "extra: 1\n"}, "unknown key 'extra'"),
    ({"submission.yaml": "task: tabular/credit-default\npredict: model:load\n"}, "missing required key 'train'"),
    ({"submission.yaml": GOOD_MANIFEST.replace("model:load", "model.load")}, 'is not "module:callable"'),
    ({"submission.yaml": GOOD_MANIFEST.replace("python train.py", "python 'train.py")}, "cannot split"),
    ({"submission.yaml": GOOD_MANIFEST.replace("credit-default", "credit-defualt")},
     "did you mean 'tabular/credit-default'"),
    ({"model.py": None}, "predict module 'model' not found"),
    ({"train.py": None}, "runs 'train.py', which is not in the submission"),
    ({"requirements.txt": "numpy\n"}, "line 1: 'numpy' is not pinned"),
    ({"requirements.txt": "pandas>=2\n"}, "is not pinned"),
    ({"requirements.txt": "--index-url http://x\n"}, "is a pip option"),
    ({"ANSWERS.md": None, "requirements.txt": None}, "requirements.txt is missing"),
])
def test_each_rule_reports_a_specific_problem(tmp_path, files, expected):
    found = problems(tmp_path, **files)
    assert any(expected in p for p in found), found


def test_all_problems_are_reported_together(tmp_path):
    found = problems(tmp_path, **{"ANSWERS.md": None, "requirements.txt": "numpy\n", "model.py": None})
    assert len(found) == 3


def test_non_utf8_file(tmp_path):
    make(tmp_path)
    (tmp_path / "ANSWERS.md").write_bytes(b"\xff\xfe\x00bad")
    assert any("not UTF-8" in p for p in validate(tmp_path, known_tasks=TASKS).problems)


def test_expected_task_mismatch(tmp_path):
    v = validate(make(tmp_path), known_tasks=TASKS | {"nlp/x"}, expected_task="nlp/x")
    assert any("being graded for 'nlp/x'" in p for p in v.problems)


def test_runtime_mismatches_are_warnings_not_problems(tmp_path):
    v = validate(make(tmp_path, **{"requirements.txt": "numpy==1.0\nxgboost==2.0\n"}), known_tasks=TASKS,
                 runtime={"numpy": "2.4.6"})
    assert v.ok
    assert v.warnings == ["numpy==1.0 is pinned but the sandbox runtime has numpy==2.4.6",
                          "xgboost==2.0 is not installed in the sandbox runtime"]


def test_requirement_names_are_normalised():
    pins, problems_ = requirements.parse("Scikit_Learn==1.8.0  # comment\n# only a comment\n\nnumpy[extra]==2.4.6\n")
    assert problems_ == []
    assert [(p.name, p.version) for p in pins] == [("scikit-learn", "1.8.0"), ("numpy", "2.4.6")]
