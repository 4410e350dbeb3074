from pathlib import Path

import pytest

from grader.submission import requirements
from grader.submission.validate import Question, validate

TASKS = {"tabular/credit-default"}
GOOD_MANIFEST = "task: tabular/credit-default\ntrain: python train.py\npredict: model:load\n"
MODEL = "def load(artifacts_dir):\n    return None\n"


def make(tmp_path: Path, **files: str | None) -> Path:
    base = {"submission.yaml": GOOD_MANIFEST, "requirements.txt": "numpy==2.4.6\n",
            "ANSWERS.md": "## serving-latency\nWe serve it behind a queue.\n", "train.py": "", "model.py": MODEL}
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
    assert v.warnings == ["numpy==1.0 is pinned but the sandbox runtime has numpy==2.4.6: pin numpy==2.4.6",
                          "xgboost==2.0 is not installed in the sandbox runtime"]


def test_requirement_names_are_normalised():
    pins, problems_ = requirements.parse("Scikit_Learn==1.8.0  # comment\n# only a comment\n\nnumpy[extra]==2.4.6\n")
    assert problems_ == []
    assert [(p.name, p.version) for p in pins] == [("scikit-learn", "1.8.0"), ("numpy", "2.4.6")]


def entry_problems(tmp_path: Path, predict: str = "model:load", **files: str | None) -> list[str]:
    manifest = GOOD_MANIFEST.replace("model:load", predict)
    return [p for p in problems(tmp_path, **{"submission.yaml": manifest, **files}) if "predict" in p]


def test_a_typo_in_the_callable_is_found_before_any_training(tmp_path):
    found = entry_problems(tmp_path, "model:lod", **{"model.py": MODEL + "\ndef _helper():\n    pass\n"})
    assert len(found) == 1, found
    assert "predict is 'model:lod' but model.py defines no top-level 'lod'; did you mean 'load'?" in found[0]
    assert "Fix the name after the colon in predict" in found[0]


def test_a_missing_callable_without_a_close_name_lists_what_the_module_defines(tmp_path):
    found = entry_problems(tmp_path, "model:build", **{"model.py": "import json\n\nclass Model:\n    pass\n"})
    assert len(found) == 1 and "(it defines Model, json)." in found[0] and "def build(artifacts_dir)" in found[0]


@pytest.mark.parametrize("source", [
    "def load(d):\n    pass\n",
    "async def load(d):\n    pass\n",
    "class load:\n    def __init__(self, d):\n        pass\n",
    "load = lambda d: d\n",
    "a, (b, *load) = 1, (2, 3)\n",
    "from typing import Callable\nload: Callable = print\n",
    "from pickle import load\n",
    "from joblib import load as load\n",
    "import os.path as load\n",
    "import load.sub\n",
    "try:\n    from fast import load\nexcept ImportError:\n    def load(d):\n        pass\n",
    "if True:\n    load = print\nelse:\n    pass\n",
    "with open('x') as load:\n    pass\n",
    "for load in []:\n    pass\n",
    "from helpers import *\n",
    "def __getattr__(name):\n    return print\n",
])
def test_every_top_level_binding_of_the_callable_counts(tmp_path, source):
    assert entry_problems(tmp_path, **{"model.py": source}) == []


@pytest.mark.parametrize("source", [
    "def make():\n    load = print\n    return load\n",  # local to a function
    "class Model:\n    def load(self, d):\n        pass\n",  # a method, not a module attribute
    "load: int\n",  # an annotation without a value binds nothing
    "registry = {}\nregistry[load] = 1\n",  # read, not bound
    "",
])
def test_a_name_that_is_not_bound_at_module_level_is_a_problem(tmp_path, source):
    found = entry_problems(tmp_path, **{"model.py": source})
    assert len(found) == 1 and "defines no top-level 'load'" in found[0], found


def test_the_module_is_parsed_never_run(tmp_path):
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').close()\nraise SystemExit(3)\ndef load(d):\n    pass\n"
    assert entry_problems(tmp_path, **{"model.py": source}) == []
    assert not marker.exists()


def test_a_syntax_error_names_the_file_and_line(tmp_path):
    found = entry_problems(tmp_path, **{"model.py": "import json\n\ndef load(d)\n    return d\n"})
    assert len(found) == 1 and "the predict module model.py line 3 has a syntax error (expected ':')" in found[0]


def test_a_package_entry_point_reads_its_init_and_its_parents(tmp_path):
    (tmp_path / "serve" / "api").mkdir(parents=True)
    (tmp_path / "serve" / "__init__.py").write_text("from serve.api import load\n")
    (tmp_path / "serve" / "api" / "__init__.py").write_text("def load(d):\n    pass\n")
    assert entry_problems(tmp_path, "serve:load") == []
    assert entry_problems(tmp_path, "serve.api:load") == []
    assert "serve/api/__init__.py defines no top-level 'lod'" in entry_problems(tmp_path, "serve.api:lod")[0]
    (tmp_path / "serve" / "__init__.py").write_text("x = (\n")
    assert any("serve/__init__.py line 1 has a syntax error" in p for p in entry_problems(tmp_path, "serve.api:load"))


def test_a_package_comes_before_a_module_of_the_same_name(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "__init__.py").write_text("def build(d):\n    pass\n")
    found = entry_problems(tmp_path, **{"model.py": MODEL})
    assert len(found) == 1 and "model/__init__.py defines no top-level 'load'" in found[0]


QUESTIONS = [Question("serving-latency", "Serving under a latency budget"),
             Question("drift-monitoring", "Detecting data and prediction drift")]


def test_a_question_without_a_section_is_a_warning_naming_it_and_the_fix(tmp_path):
    v = validate(make(tmp_path), known_tasks=TASKS, runtime={"numpy": "2.4.6"}, questions=QUESTIONS)
    assert v.ok
    assert v.warnings == ["ANSWERS.md has no '## drift-monitoring' section, so the written question "
                          "'drift-monitoring' (Detecting data and prediction drift) will get no points: add a "
                          "heading '## drift-monitoring' and write the answer under it"]


def test_questions_may_come_from_the_manifest_task(tmp_path):
    asked: list[str] = []

    def of(task_id: str) -> list[Question]:
        asked.append(task_id)
        return QUESTIONS

    answers = "## 1. Serving latency: p95\nText.\n\n### `drift-monitoring`\nText.\n"
    v = validate(make(tmp_path, **{"ANSWERS.md": answers}), known_tasks=TASKS, questions=of)
    assert asked == ["tabular/credit-default"] and v.warnings == []


def test_a_heading_inside_a_code_fence_is_not_a_section(tmp_path):
    answers = "## serving-latency\nText.\n```\n## drift-monitoring\n```\n"
    v = validate(make(tmp_path, **{"ANSWERS.md": answers}), known_tasks=TASKS, questions=QUESTIONS)
    assert len(v.warnings) == 1 and "'## drift-monitoring'" in v.warnings[0]


def test_no_section_warnings_for_an_unknown_task_or_an_empty_answers_file(tmp_path):
    bad_task = GOOD_MANIFEST.replace("credit-default", "nope")
    v = validate(make(tmp_path, **{"submission.yaml": bad_task}), known_tasks=TASKS,
                 questions=lambda task_id: pytest.fail(f"asked for {task_id}"))
    assert not v.ok and v.warnings == []
    v = validate(make(tmp_path, **{"submission.yaml": GOOD_MANIFEST, "ANSWERS.md": "\n"}), known_tasks=TASKS,
                 questions=QUESTIONS)
    assert any("ANSWERS.md is empty" in p for p in v.problems) and v.warnings == []
