"""``grader similarity``: a renamed copy of a real solution is flagged with its matching lines, two independent
solutions started from the same starter template are not, and the template itself never counts."""

from __future__ import annotations

import ast
import io
import json
import shutil
import tokenize
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.authoring.template import TEMPLATE, starter_sources
from grader.cli import main
from grader.compare.similarity import THRESHOLD, compare_sources, read_sources, similarity
from tests.helpers import EXAMPLES

COHORT = Path(__file__).parent / "cohort"
REFERENCE = EXAMPLES / "reference"


def renamed(code: str) -> str:
    """``code`` with every name it defines renamed (functions, classes, arguments, variables, attributes it
    assigns) and its comments dropped: the cheapest disguise of a copy."""
    tree = ast.parse(code)
    defined: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
    defined -= {"self", "__init__", "_"}
    names = {name: f"thing_{i}" for i, name in enumerate(sorted(defined))}
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.COMMENT:
            continue
        if tok.type == tokenize.NAME and tok.string in names:
            tok = tok._replace(string=names[tok.string])
        out.append((tok.type, tok.string))
    return tokenize.untokenize(out)


@pytest.fixture()
def cohort(tmp_path) -> dict[str, Path]:
    """alice and bob wrote their own solutions from the template; mallory renamed a copy of the reference."""
    shutil.copytree(COHORT / "alice", tmp_path / "alice")
    shutil.copytree(COHORT / "bob", tmp_path / "bob")
    shutil.copytree(REFERENCE, tmp_path / "reference")
    mallory = tmp_path / "mallory"
    shutil.copytree(REFERENCE, mallory)
    for path in list(mallory.glob("*.py")):
        code = renamed(path.read_text(encoding="utf-8"))
        path.unlink()
        (mallory / f"my_{path.name}").write_text(code, encoding="utf-8")
    return {p.name: p for p in (tmp_path / n for n in ("alice", "bob", "reference", "mallory"))}


def pair(report, a: Path, b: Path):
    return next(p for p in report.pairs if {p.a, p.b} == {str(a), str(b)})


def test_the_renamer_really_renames():
    code = (REFERENCE / "model.py").read_text(encoding="utf-8")
    disguised = renamed(code)
    ast.parse(disguised)
    names = {t.string for t in tokenize.generate_tokens(io.StringIO(disguised).readline) if t.type == tokenize.NAME}
    assert not names & {"CreditModel", "threshold", "prepare", "load", "df"} and "thing_0" in names
    assert "# One CPU" not in disguised


def test_a_renamed_copy_is_flagged_and_independent_solutions_are_not(cohort):
    report = similarity(list(cohort.values()), starter_sources())
    copy = pair(report, cohort["reference"], cohort["mallory"])
    assert copy.flagged and copy.score > 0.9, copy.score
    # the matching spans name the files on both sides, with line ranges inside them
    match = next(m for m in copy.matches if m.a_file.endswith("train.py") and m.b_file.endswith("train.py"))
    assert {match.a_file, match.b_file} == {"train.py", "my_train.py"}
    assert match.a_lines and all(1 <= s <= e for s, e in match.a_lines + match.b_lines)
    independent = pair(report, cohort["alice"], cohort["bob"])
    assert not independent.flagged and independent.score < THRESHOLD / 2, independent.score
    flagged = [(Path(p.a).name, Path(p.b).name) for p in report.pairs if p.flagged]
    assert [set(f) for f in flagged] == [{"reference", "mallory"}]
    assert report.pairs == sorted(report.pairs, key=lambda p: -p.score)


def test_the_starter_template_is_boilerplate(cohort):
    """alice and bob both kept the template's docstring and settings: without the template as boilerplate
    that shared code counts; with it, it does not. The template compared to itself scores nothing."""
    sources = {name: read_sources(cohort[name]) for name in ("alice", "bob")}
    with_template = compare_sources(sources, starter_sources())[0]
    without = compare_sources(sources, {})[0]
    assert without.score > with_template.score
    template_only = compare_sources({"a": starter_sources(), "b": starter_sources()}, starter_sources())[0]
    assert template_only.score == 0 and not template_only.flagged and template_only.matches == []
    assert sorted(starter_sources()) == sorted(p.name for p in TEMPLATE.glob("*.py"))


def test_cli_json_and_archives(cohort, tmp_path):
    archive = tmp_path / "mallory.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in cohort["mallory"].rglob("*"):
            zf.write(path, path.relative_to(cohort["mallory"]).as_posix())
    result = CliRunner().invoke(main, ["similarity", str(cohort["reference"]), str(archive), str(cohort["alice"]),
                                       "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert len(doc["pairs"]) == 3
    top = doc["pairs"][0]
    assert {top["a"], top["b"]} == {str(cohort["reference"]), str(archive)}
    assert top["flagged"] is True and top["matches"]
    assert {"a", "b", "score", "flagged", "matches"} <= set(top)
    assert not any(p["flagged"] for p in doc["pairs"][1:])


def test_cli_table_and_unreadable_submissions(cohort, tmp_path):
    missing = tmp_path / "nobody"
    result = CliRunner().invoke(main, ["similarity", str(cohort["reference"]), str(cohort["mallory"]), str(missing)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "FLAG" in result.output and "my_train.py" in result.output
    assert f"not compared {missing}" in result.output and "no such file or folder" in result.output


def test_cli_needs_two_submissions(cohort):
    result = CliRunner().invoke(main, ["similarity", str(cohort["alice"])])
    assert result.exit_code == 2 and "at least two submissions" in result.output
