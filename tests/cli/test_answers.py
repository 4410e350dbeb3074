"""``grader answers``: written answers graded alone, without running any code."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.paths import rubrics_dir
from tests.helpers import EXAMPLES
from tests.rubric import judge_server

REFERENCE = EXAMPLES / "reference" / "ANSWERS.md"


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200", "GRADER_SECOND_OPINION": "", **(env or {})})


def test_json_has_every_question_with_its_score_points_and_evidence():
    result = invoke("answers", str(REFERENCE), "--rubric", "ml-engineer", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data) == ["questions"]
    assert [q["id"] for q in data["questions"]] == ["serving-latency", "drift-monitoring", "retraining-rollback",
                                                    "explaining-errors"]
    for q in data["questions"]:
        assert set(q) == {"id", "score", "points", "max_points", "explanation", "evidence"}
        assert 0 <= q["score"] <= 1 and q["max_points"] == 7.5 and q["points"] == pytest.approx(q["score"] * 7.5)
        assert q["score"] >= 0.95 and all("matched:" in e for e in q["evidence"])


def test_text_output_and_a_single_question(tmp_path):
    (tmp_path / "ANSWERS.md").write_text("## retraining-rollback\n\nI would not retrain it on a schedule, and a "
                                         "canary is unnecessary: the new model takes all traffic at once.\n")
    result = invoke("answers", str(tmp_path), "--rubric", "ml-engineer", "--question", "retraining-rollback")
    assert result.exit_code == 0, result.output
    assert "retraining-rollback: 0.00 / 7.5 points (0%)" in result.output
    assert "says the opposite" in result.output and "serving-latency" not in result.output


def test_a_rubric_file_being_written_can_be_graded_against(tmp_path):
    draft = tmp_path / "ml-engineer.yaml"
    shutil.copy(rubrics_dir() / "ml-engineer.yaml", draft)
    draft.write_text(draft.read_text().replace("min_words: 30", "min_words: 2000"))
    result = invoke("answers", str(REFERENCE), "--rubric", str(draft), "--json")
    assert result.exit_code == 0, result.output
    assert all(q["score"] < 0.5 for q in json.loads(result.output)["questions"])


@pytest.mark.parametrize("args, message", [
    (["answers", "nowhere/ANSWERS.md", "--rubric", "ml-engineer"], "nowhere/ANSWERS.md: no such file"),
    (["answers", str(REFERENCE), "--rubric", "ml-enginer"], "unknown rubric 'ml-enginer'"),
    (["answers", str(REFERENCE), "--rubric", "ml-engineer", "--question", "drift-monitorng"],
     "rubric 'ml-engineer' has no question 'drift-monitorng'\n  hint: did you mean 'drift-monitoring'"),
    (["answers", str(REFERENCE), "--rubric", "ml-engineer", "--second-opinion", "lm"], "did you mean 'llm'"),
    (["answers", str(REFERENCE), "--rubric", "ml-engineer", "--second-opinion", "llm"], "GRADER_JUDGE_URL"),
])
def test_usage_errors_exit_2_and_say_how_to_fix_them(args, message):
    result = invoke(*args, env={"GRADER_JUDGE_URL": "", "GRADER_JUDGE_MODEL": ""})
    assert result.exit_code == 2, result.output
    assert message in result.output and "hint:" in result.output and "Traceback" not in result.output


def test_a_file_that_answers_none_of_the_questions_is_pointed_out(tmp_path):
    (tmp_path / "ANSWERS.md").write_text("## Latency\n\nIt takes 4 ms per call.\n")
    result = CliRunner().invoke(main, ["answers", str(tmp_path / "ANSWERS.md"), "--rubric", "ml-engineer"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "answers none of the questions" in result.output and "'Latency'" in result.output


def test_the_second_opinion_is_shown_beside_the_automatic_score(tmp_path):
    def judge(body):
        answer = json.loads(body["messages"][1]["content"])["answer"]
        return json.dumps({"verdict": "covered", "quote": answer.split(".")[0], "reason": "said in the first line"})

    with judge_server.serve(judge) as server:
        env = {"GRADER_JUDGE_URL": server.url, "GRADER_JUDGE_MODEL": "judge-model", "GRADER_CACHE_DIR": str(tmp_path)}
        result = invoke("answers", str(REFERENCE), "--rubric", "ml-engineer", "--question", "retraining-rollback",
                        "--json", "--second-opinion", "llm", env=env)
    assert result.exit_code == 0, result.output
    [q] = json.loads(result.output)["questions"]
    assert q["second_opinion"]["grader"] == "llm" and q["second_opinion"]["fraction"] == 1.0
    assert len(q["second_opinion"]["key_points"]) == 5 == len(server.requests)
