"""Rubric files: strict, versioned, every mistake named with the file and how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from grader.errors import SpecError, UnknownNameError
from grader.rubric.spec import discover_rubrics, get_rubric, load_rubric, rubrics_dir

DEFAULT = rubrics_dir() / "ml-engineer.yaml"


def test_default_rubric_has_the_sections_and_questions_the_product_promises():
    rubric = get_rubric("ml-engineer")
    assert [s.id for s in rubric.sections] == ["model-quality", "serving", "reproducibility", "code-and-packaging",
                                               "production-thinking"]
    assert sum(s.weight for s in rubric.sections) == 100
    questions = {q.id for q in rubric.questions()}
    assert questions == {"serving-latency", "drift-monitoring", "retraining-rollback", "explaining-errors"}
    assert all(len(q.key_points) >= 5 for q in rubric.questions())
    assert {c.kind for c in rubric.criteria()} == {"metric", "check", "question"}
    assert "ml-engineer" in discover_rubrics()


def broken(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(DEFAULT.read_text())
    change(data)
    path = tmp_path / "ml-engineer.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _criterion(data: dict, cid: str) -> dict:
    return next(c for s in data["sections"] for c in s["criteria"] if c["id"] == cid)


@pytest.mark.parametrize("change, message", [
    (lambda d: _criterion(d, "recall").update(kind="metrc"),
     "criterion 'recall': unknown criterion kind 'metrc'\n  hint: did you mean 'metric'"),
    (lambda d: d["sections"][0].update(weight=30), r"section weights add up to 95 \(model-quality 30"),
    (lambda d: _criterion(d, "serving-latency").update(key_points=[]), "a question needs at least one key point"),
    (lambda d: _criterion(d, "serving-latency")["key_points"][0].update(terms=[], patterns=[], cues=[]),
     "key point 'measured' has no terms, patterns or cues"),
    (lambda d: _criterion(d, "serving-latency")["key_points"][0].update(cues=["@durations + @timing"]),
     r"cue '@durations \+ @timing': unknown lexicon entry '@durations' \(the question's lexicon has: component"),
    (lambda d: _criterion(d, "serving-latency")["key_points"][0].update(cues=["/(unclosed|x/ + ms"]),
     r"'/\(unclosed\|x/' is not a regular expression"),
    (lambda d: _criterion(d, "serving-latency")["key_points"][0].update(cues=["ms| + timed"]),
     "an empty alternative"),
    (lambda d: d.update(version=1), r"question\(s\) serving-latency, drift-monitoring, retraining-rollback, "
                                    r"explaining-errors use a lexicon or cues, which need `version: 2`"),
    (lambda d: _criterion(d, "serving-latency")["key_points"][0].update(patterns=["(unclosed"]),
     "is not a regular expression"),
    (lambda d: _criterion(d, "recall").update(figure="recal"), "did you mean 'recall'"),
    (lambda d: _criterion(d, "recall").update(zero=0.9, full=0.5), "higher recall is better, so 'full'"),
    (lambda d: _criterion(d, "latency-p95").update(zero=10, full=100), "lower latency.p95_ms is better"),
    (lambda d: _criterion(d, "recall").update(threshold=0.5), "either 'threshold', or both 'zero' and 'full'"),
    (lambda d: _criterion(d, "tests").update(check="test_present"), "did you mean 'tests_present'"),
    (lambda d: _criterion(d, "tests").update(colour="red"), "criterion 'tests': unknown key 'colour'"),
    (lambda d: _criterion(d, "tests").update(id="recall"), "id 'recall' is used twice"),
    (lambda d: d.update(version=3), "'version'"),
    (lambda d: d.update(pass_mark=120), "'pass_mark'"),
])
def test_rubric_errors_are_specific(tmp_path, change, message):
    path = broken(tmp_path, change)
    with pytest.raises(SpecError, match=message) as err:
        load_rubric(path)
    assert str(path) in str(err.value)


def test_id_must_match_the_file(tmp_path):
    path = broken(tmp_path, lambda d: None).rename(tmp_path / "other.yaml")
    with pytest.raises(SpecError, match="does not match the file name 'other'"):
        load_rubric(path)


def test_unknown_rubric_suggests_a_name():
    with pytest.raises(UnknownNameError, match="did you mean 'ml-engineer'"):
        get_rubric("ml-enginer")


def test_exported_schema_knows_every_kind():
    from grader.cli.schema import schema_for

    schema = schema_for("rubric")
    kinds = {d for d in schema["$defs"]["SectionSpec"]["properties"]["criteria"]["items"]["discriminator"]["mapping"]}
    assert kinds == {"metric", "check", "question"}
