"""One verdict for every renderer: the outcome and exit code the contract gives each kind of report,
the same words in the terminal, report.md, report.html, GitHub annotations and ``grader compare``,
and the typed environment section written back with exactly the keys it was read with."""

from __future__ import annotations

import io
import json
from html import unescape

import pytest
from rich.console import Console

from grader.compare.table import Row, compare
from grader.integrations.github import workflow_commands
from grader.report import html, markdown, terminal
from grader.spec.report import VERDICTS, Environment, Failure, Report, SandboxInfo, TaskRef
from tests.report import FIXTURE_NAMES, fixture_json, load_fixture

#: The contract's exit codes (docs/contract.md, section 4), restated here independently of the model.
EXPECTED = {"reference": ("passed", 0), "reviewed": ("passed", 0), "baseline": ("not_passed", 1),
            "crash": ("not_passed", 1), "multiclass": ("not_passed", 1), "invalid": ("invalid", 3),
            "error": ("error", 4), "selfcheck": ("passed", 0)}


def self_check_with_problems() -> Report:
    report = load_fixture("selfcheck")
    report.failures.append(Failure(phase="train", kind="crash", message="boom"))
    return report


def terminal_text(report: Report) -> str:
    buffer = io.StringIO()
    terminal.render(report, Console(file=buffer, width=200, color_system=None))
    return buffer.getvalue()


def test_every_fixture_has_the_contracts_outcome_and_exit_code():
    assert set(EXPECTED) == set(FIXTURE_NAMES), "a new fixture needs its expected verdict here"
    for name, (outcome, exit_code) in EXPECTED.items():
        verdict = load_fixture(name).verdict
        assert (verdict.outcome, verdict.exit_code) == (outcome, exit_code), name
        assert verdict.self_check == (name == "selfcheck")


def test_a_self_check_with_problems_exits_1_and_is_no_grade():
    verdict = self_check_with_problems().verdict
    assert (verdict.outcome, verdict.exit_code, verdict.self_check) == ("not_passed", 1, True)
    assert verdict.label == "Self-check: problems to fix"


def test_a_status_other_than_graded_decides_whatever_passed_says():
    """``passed`` is only meaningful for a graded report: a hand-edited invalid one stays invalid."""
    report = Report(status="invalid", passed=True, task=TaskRef(id="t/x"))
    assert report.verdict.outcome == "invalid" and report.exit_code == 3


@pytest.mark.parametrize("report", [*(load_fixture(n) for n in FIXTURE_NAMES), self_check_with_problems()],
                         ids=[*FIXTURE_NAMES, "selfcheck-problems"])
def test_every_renderer_shows_the_same_words(report):
    verdict = report.verdict
    page = html.render(report)
    block = unescape(page[page.index('id="verdict"'):page.index("</section>", page.index('id="verdict"'))])
    assert verdict.label in block and f"exit code {verdict.exit_code}: {verdict.meaning}" in block
    assert f"<title>{verdict.label} · " in page
    assert f"**{verdict.label.upper()}**" in [line for line in markdown.render(report).splitlines() if line][2]
    assert verdict.label.upper() in terminal_text(report).splitlines()[1]
    assert workflow_commands(report)[-1].startswith(f"::notice title=grader::{report.task.id}: {verdict.phrase}, ")


def test_words_differ_between_verdicts():
    verdicts = list(VERDICTS.values())
    for field in ("label", "phrase", "meaning"):
        assert len({getattr(v, field) for v in verdicts}) == len(verdicts), field


def test_a_self_check_is_never_annotated_as_not_passed():
    for report in (load_fixture("selfcheck"), self_check_with_problems()):
        assert not [line for line in workflow_commands(report) if "not passed" in line]
    assert any("not passed" in line for line in workflow_commands(load_fixture("baseline")))


def test_compare_names_a_self_check_as_such():
    table = compare([Row.from_report(load_fixture("selfcheck"), "a"), Row.from_report(load_fixture("invalid"), "b")])
    assert sorted(v["status"] for v in table.values) == ["invalid", "self-check"]


# -- the environment section -----------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_the_environment_is_written_back_with_the_keys_it_was_read_with(name):
    raw = fixture_json(name)
    report = Report.model_validate(raw)
    assert json.loads(report.model_dump_json()) == raw
    assert list(json.loads(report.model_dump_json())["environment"]) == list(raw["environment"])


def test_an_early_stop_writes_only_what_it_learnt():
    env = Environment(grader_version="1.0", host_python="3.11.7")
    assert json.loads(env.model_dump_json()) == {"grader_version": "1.0", "host_python": "3.11.7"}
    env.seed = 7
    assert json.loads(env.model_dump_json()) == {"grader_version": "1.0", "host_python": "3.11.7", "seed": 7}
    assert json.loads(Report(status="error", task=TaskRef(id="t/x")).model_dump_json())["environment"] == {}


def test_a_backends_own_facts_are_kept_and_typed_ones_checked():
    described = {"backend": "local", "isolates": False, "namespaces": {"net": True}, "unenforced": ["memory"]}
    info = SandboxInfo.model_validate(described)
    assert info.backend == "local" and info.image is None
    assert json.loads(info.model_dump_json()) == described  # no image, engine or session keys made up
    with pytest.raises(ValueError, match="isolates"):
        SandboxInfo.model_validate({"backend": "docker", "isolates": "maybe"})


def test_the_environment_refuses_unknown_keys():
    with pytest.raises(ValueError, match="surprise"):
        Environment.model_validate({"grader_version": "1", "surprise": 1})
