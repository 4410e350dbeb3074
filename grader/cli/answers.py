"""``grader answers``: grade written answers alone, without running any code."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.console import Console

    from grader.spec.answers import AnswersGrade


@click.command()
@click.argument("answers_file", metavar="ANSWERS.md", type=click.Path(path_type=Path))
@click.option("--rubric", "rubric_name", required=True, metavar="NAME",
              help="A rubric's name (`grader rubrics list`) or the path of a rubric YAML file being written.")
@click.option("--question", "only", multiple=True, metavar="ID", help="Grade only this question (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the grades as JSON.")
@click.option("--second-opinion", "second", metavar="GRADER", default=None, envvar="GRADER_SECOND_OPINION",
              help="Also ask this question grader (llm: the language-model judge of GRADER_JUDGE_URL); shown beside "
                   "the automatic points, never counted. Default: $GRADER_SECOND_OPINION, else none.")
def answers(answers_file: Path, rubric_name: str, only: tuple[str, ...], as_json: bool, second: str | None) -> None:
    """Grade the written answers in ANSWERS.md (or a submission folder holding one) against a rubric's
    questions, the way a grading would, without running any code: for rubric authors tuning key points.

    Each question gets its score (the share of its points), its points, what was counted and where,
    and what is missing. JSON: {"questions": [{"id", "score", "points", "max_points", "explanation",
    "evidence"}]}.
    """
    from grader.cli.console import err, out, print_json
    from grader.errors import UsageError
    from grader.rubric import written
    from grader.rubric.spec import get_rubric, load_rubric

    path = answers_file / "ANSWERS.md" if answers_file.is_dir() else answers_file
    if not path.is_file():
        raise UsageError(f"{path}: no such file", "pass the path of an ANSWERS.md, or of a submission folder "
                                                  "that holds one")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text", "save the file as UTF-8") from None
    looks_like_path = rubric_name.endswith((".yaml", ".yml")) or "/" in rubric_name
    rubric = load_rubric(Path(rubric_name)) if looks_like_path else get_rubric(rubric_name)
    result = written.grade_text(text, rubric, only, second)
    if as_json:
        import json

        print_json(json.dumps(result.to_json()))
    else:
        _print(result, out)
    questions = written.select(rubric, only)
    if not written.answered(text, questions):
        found = ", ".join(repr(h) for h in written.headings(text)) or "none"
        err.print(f"[yellow]warning:[/] {path} answers none of the questions {', '.join(q.id for q in questions)} "
                  f"(its headings: {found}); each answer goes under '## <question-id>'", highlight=False)


def _print(result: AnswersGrade, out: Console) -> None:
    from rich.markup import escape

    total = sum(q.points for q in result.questions)
    most = sum(q.max_points for q in result.questions)
    for q in result.questions:
        out.print(f"[bold]{q.id}[/]: {q.points:.2f} / {q.max_points:g} points ({q.score:.0%})")
        out.print(f"  {escape(q.explanation)}", highlight=False)
        for line in q.evidence:
            out.print(f"  + {escape(line)}", highlight=False)
        so = q.second_opinion
        if so is not None:
            verdict = "no verdict" if so.fraction is None else f"{so.fraction:.0%} of the points"
            who = so.grader + (f", {so.model}" if so.model else "") + (", cached" if so.cached else "")
            out.print(f"  second opinion ({escape(who)}; not counted): {verdict}", highlight=False)
            for v in so.key_points:
                quote = f': "{escape(v.quote)}"' if v.quote else ""
                out.print(f"    {v.id}: {v.verdict}{quote} {escape(v.reason)}".rstrip(), highlight=False)
            if so.note:
                out.print(f"    [yellow]{escape(so.note)}[/]", highlight=False)
        out.print()
    out.print(f"[bold]written answers[/]: {total:.2f} / {most:g} points")
