"""``grader similarity``: how alike a cohort's code is, pair by pair, the starter template left out."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("similarity")
@click.argument("submissions", nargs=-1, type=click.Path(path_type=Path))
@click.option("--boilerplate", "extra", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="More code every candidate was given (a file or folder), left out like the starter template.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=None,
              help="Flag pairs at or above this score [default: 0.7].")
@click.option("--json", "as_json", is_flag=True, help='Print {"pairs": [{"a", "b", "score", "flagged", "matches"}]}.')
def similarity(submissions: tuple[Path, ...], extra: tuple[Path, ...], threshold: float | None,
               as_json: bool) -> None:
    """Compare the code of every pair of SUBMISSIONS (folders, .zip or .tar.gz) for shared code.

    A flagged pair is for a person to compare, with the matching lines shown; it fails nobody.
    Exits 0 when every submission was read, 1 when some could not be (listed with the reason).
    """
    from rich.markup import escape
    from rich.table import Table

    from grader.authoring.template import starter_boilerplate
    from grader.cli.console import out, print_json
    from grader.compare.similarity import THRESHOLD
    from grader.compare.similarity import similarity as compare_code
    from grader.errors import UsageError

    if len(set(submissions)) < 2:
        raise UsageError("similarity needs at least two submissions", "give two or more submission folders or "
                                                                      "archives: grader similarity alice/ bob.zip")
    boilerplate = starter_boilerplate()
    for path in extra:
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        boilerplate |= {str(f): f.read_text(encoding="utf-8", errors="replace") for f in files}
    result = compare_code(list(dict.fromkeys(submissions)), boilerplate,
                          threshold=THRESHOLD if threshold is None else threshold)
    if as_json:
        print_json(result.model_dump_json())
    else:
        table = Table(title=f"Code similarity (flagged at {result.threshold:.2f}; starter template left out)")
        for col in ("a", "b", "score", "flagged", "matching lines (a ~ b)"):
            table.add_column(col, justify="right" if col == "score" else "left")
        for pair in result.pairs:
            spans = [f"{m.a_file}:{','.join(f'{s}-{e}' for s, e in m.a_lines)} ~ "
                     f"{m.b_file}:{','.join(f'{s}-{e}' for s, e in m.b_lines)}" for m in pair.matches[:5]]
            table.add_row(escape(pair.a), escape(pair.b), f"{pair.score:.2f}",
                          "[bold red]FLAG[/]" if pair.flagged else "no", escape("\n".join(spans)) or "-")
        out.print(table)
        for bad in result.unreadable:
            out.print(f"[red]not compared[/] {escape(bad.path)}: {escape(bad.reason)}")
    sys.exit(1 if result.unreadable else 0)
