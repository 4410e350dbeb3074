"""The terminal summary of a report (rich), as ``grader grade`` and ``grader check`` print it.

By default a short summary that fits an 80-column terminal: the verdict and score, why, the
failures with their messages, the headline figures (the task's metrics with their intervals,
latency p50/p95, reproducibility in one line). ``verbose`` adds everything else: the rubric
criterion by criterion, per-class figures, the confusion matrix, every latency percentile, each
training run, phases and the sandbox. Long text wraps; no cell is cut.
"""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.report import selfcheck
from grader.report.format import failure_reason, points, points_of, signed_points, submission_label, why_not_passed
from grader.spec.report import Outcome, Report

#: The verdict's colour, by its outcome.
STYLES: dict[Outcome, str] = {"passed": "bold green", "not_passed": "bold red", "invalid": "bold yellow",
                              "error": "bold magenta"}


def _fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render(report: Report, console: Console | None = None, verbose: bool = False) -> None:
    """Print the summary of ``report``: the short one, or with ``verbose`` every section."""
    console = console or Console()
    if not verbose:
        console.print(Panel(Group(*summary(report)), title="grader report", expand=False))
        return
    parts: list = [_head(report), *selfcheck.terminal(report, verbose=True)]
    if report.baseline is not None:
        parts.append(_baseline(report))
    parts += _flags(report, evidence=True)  # before the figures: they say whether to trust them
    if report.metrics:
        where = "Validation (public split)" if report.evaluated_on == "valid" else "Hidden test"
        table = Table(title=f"{where} metrics", title_justify="left", show_header=True)
        table.add_column("metric")
        table.add_column("value", justify="right")
        ci = report.metrics_ci
        if ci:
            table.add_column(f"{next(iter(ci.values())).level:.0%} interval", justify="right")
        for name, value in report.metrics.items():
            interval = [f"{ci[name].low:.3f} – {ci[name].high:.3f}" if name in ci else ""] if ci else []
            table.add_row(name, _fmt(value), *interval)
        if report.calibration is not None:
            table.caption = (f"calibration: Brier {report.calibration.brier:.4f} (lower is better), expected "
                             f"calibration error {report.calibration.expected_calibration_error:.4f}")
            table.caption_justify = "left"
        parts.append(table)
    parts += _borderline(report)
    if report.rubric is not None:
        parts.append(_rubric(report))
    if report.per_class and len(report.per_class) > 2:
        table = Table(title="Per class", title_justify="left")
        for col in ("class", "precision", "recall", "f1", "support"):
            table.add_column(col, justify="left" if col == "class" else "right")
        for name, row in report.per_class.items():
            table.add_row(escape(name), _fmt(row["precision"]), _fmt(row["recall"]), _fmt(row["f1"]),
                          str(int(row["support"])))
        parts.append(table)
    if report.confusion_matrix:
        cm = report.confusion_matrix
        table = Table(title="Confusion matrix (rows: true, columns: predicted)", title_justify="left")
        table.add_column("")
        for label_ in cm["labels"]:
            table.add_column(label_, justify="right")
        for label_, row in zip(cm["labels"], cm["matrix"], strict=True):
            table.add_row(label_, *(str(v) for v in row))
        parts.append(table)
    if report.latency.measured:
        parts.append(_latency(report))
    runs = report.reproducibility.training_runs
    if len(runs) > 1 and any(run.ok for run in runs):
        parts.append(_reproducibility(report))
    if report.phases:
        parts.append(Text("Phases: " + ", ".join(
            f"{name} {run.duration_s:.1f} s (exit {run.exit_code})" for name, run in report.phases.items())))
    box = report.environment.sandbox
    if box is not None:
        image = f", image {box.image} ({(box.image_id or '')[:19]})" if box.image else ""
        parts.append(Text(f"Sandbox: {box.backend}{image}", style="dim"))
    for f in report.failures:
        body = Text.assemble((f"[{f.phase}] {f.kind}: ", "bold red"), f.message)
        if f.detail:
            body.append("\n" + f.detail, style="dim")
        parts.append(body)
    parts += _notes(report)
    for part in parts:
        _fold(part)
    console.print(Panel(Group(*parts), title="grader report", expand=False))


def _flags(report: Report, *, evidence: bool) -> list[Text]:
    """The integrity flags, for a person to review (``evidence``: with each flag's evidence)."""
    return [Text.assemble((f"integrity flag ({flag.severity}), for a person to review: ", "bold magenta"),
                          f"{flag.kind}: {flag.message}", *(f"\n  - {e}" for e in flag.evidence if evidence))
            for flag in report.integrity.flags]


def _borderline(report: Report) -> list[Text]:
    """The pass rules within sampling noise of their bound: a person should decide."""
    return [Text.assemble(("borderline: ", "bold yellow"), f"{r.rule} is {_fmt(r.value, 4)}, "
                          f"{'met' if r.met else 'not met'}, within sampling noise: a person should decide")
            for r in report.pass_rule if r.borderline]


def _notes(report: Report) -> list[Text]:
    """What a self-check says is left to fix, and the report's warnings."""
    return ([Text.assemble(("to fix: ", "bold yellow"), note) for note in report.self_check]
            + [Text.assemble(("warning: ", "yellow"), w) for w in report.warnings])


def _fold(part: RenderableType) -> None:
    """Make every column of a table wrap its text instead of cutting it with "…" on a narrow console."""
    if isinstance(part, Group):
        for inner in part.renderables:
            _fold(inner)
    elif isinstance(part, Table):
        for column in part.columns:
            column.overflow = "fold"


def _head(report: Report) -> Text:
    """The verdict, the score out of 100 with the pass mark, the task and the submission."""
    verdict = report.verdict
    label, style = verdict.label.upper(), STYLES[verdict.outcome]
    who = f"   task {report.task.id}   submission {submission_label(report)}"
    if report.evaluated_on == "valid":
        return Text.assemble((label, style), who, "\non the PUBLIC validation split: an estimate to fix problems "
                                                  "with, not a grade")
    if report.status != "graded":
        return Text.assemble((label, style), "   not scored", who)
    mark = f" (passes at {report.rubric.pass_mark:g})" if report.rubric is not None else ""
    return Text.assemble((label, style), f"   score {points(report.score)}/100{mark}", who)


#: The short summary shows the last lines of the first failures' stderr: the traceback's last line names the bug.
DETAILED_FAILURES, DETAIL_LINES = 2, 4


def summary(report: Report) -> list[RenderableType]:
    """The short summary: what a reader needs to know the outcome and trust it, in about 20 lines."""
    parts: list[RenderableType] = [_head(report), *selfcheck.terminal(report)]
    reasons = why_not_passed(report)
    if reasons:  # the root cause first, "the total is below the pass mark" last
        parts.append(Text.assemble(("why: ", "bold"), reasons[0],
                                   *(Text.assemble("\n     ", r) for r in reasons[1:])))
    elif report.status == "graded" and report.passed and report.evaluated_on == "test":
        parts.append(Text.assemble(("why: ", "bold"), "every requirement to pass is met"))
    elif report.verdict.outcome in ("invalid", "error"):
        parts.append(Text.assemble(("why: ", "bold"), report.verdict.meaning))
    shown = set(reasons)
    for f in report.failures:
        if failure_reason(f.phase, f.kind, f.message) not in shown:
            parts.append(Text.assemble((f"[{f.phase}] {f.kind}: ", "bold red"), f.message))
    for f in [f for f in report.failures if f.detail][:DETAILED_FAILURES]:  # what the message calls "the detail"
        tail = f.detail.strip().splitlines()[-DETAIL_LINES:] if f.detail else []
        parts.append(Text.assemble((f"end of [{f.phase}] stderr:\n", "bold"),
                                   ("\n".join(f"  {line}" for line in tail), "dim")))
    parts += _flags(report, evidence=False)
    parts += _borderline(report)
    if report.baseline is not None:
        base = report.baseline
        parts.append(Text(f"baseline {base.source}: score {signed_points(base.score.delta)} "
                          f"({'passed' if base.passed else 'not passed'} there)"))
    if report.metrics:
        parts.append(_metric_lines(report))
    lat = report.latency
    if lat.measured:
        parts.append(Text(f"latency: p50 {_ms(lat.p50_ms)} ms, p95 {_ms(lat.p95_ms)} ms (single item, {lat.count} "
                          f"queries); cold start {_fmt(lat.cold_start_ms, 1)} ms"))
    if (line := _reproducibility_line(report)) is not None:
        parts.append(Text(line))
    parts += _notes(report)
    if report.rubric is not None and report.rubric.needs_review:
        parts.append(Text(f"to review by an interviewer: {', '.join(report.rubric.needs_review)}", style="dim"))
    parts.append(Text("every criterion, per-class figures and each run: --verbose, or report.html", style="dim"))
    return parts


def _metric_lines(report: Report) -> Text:
    """The task's metrics, one a line, with their interval: three short columns, never wider than 60."""
    where = "validation (public split)" if report.evaluated_on == "valid" else "hidden test"
    ci = report.metrics_ci
    level = f", {next(iter(ci.values())).level:.0%} interval" if ci else ""
    width = max(len(name) for name in report.metrics)
    text = Text.assemble((f"{where} metrics{level}:", "bold"))
    for name, value in report.metrics.items():
        interval = f"  {ci[name].low:.3f} – {ci[name].high:.3f}" if name in ci else ""
        text.append(f"\n  {name.ljust(width)}  {_fmt(value):>6}{interval}")
    return text


def _reproducibility_line(report: Report) -> str | None:
    rep = report.reproducibility
    runs = [run for run in rep.training_runs if run.kind == "same_seed"]
    if len(runs) < 2 and not rep.explanation:
        return None
    if len(runs) < 2:
        return f"reproducibility: {rep.explanation[0]}"
    identical = "n/a" if rep.artifacts_identical is None else "yes" if rep.artifacts_identical else "no"
    return (f"reproducibility: {len(runs)} runs with seed {rep.seed}, prediction agreement "
            f"{_fmt(rep.prediction_agreement, 4)}, largest metric difference {_fmt(rep.max_metric_diff, 4)}, "
            f"artifacts identical: {identical}")


def _baseline(report: Report) -> Table:
    base = report.baseline
    assert base is not None
    table = Table(title=f"Change from the baseline {escape(base.source)} "
                        f"({'passed' if base.passed else 'not passed'}; metrics with a paired 95% interval)",
                  title_justify="left")
    for col in ("figure", "baseline", "this", "change", "95% interval", ""):
        table.add_column(col, justify="left" if col in ("figure", "") else "right")
    score = base.score
    table.add_row("score", "n/a" if score.other is None else points(score.other),
                  "n/a" if score.value is None else points(score.value), signed_points(score.delta), "", "")
    for name, d in base.metrics.items():
        interval = f"{d.low:+.3f} – {d.high:+.3f}" if d.low is not None and d.high is not None else ""
        verdict = "" if d.distinguishable is None else "[bold]real[/]" if d.distinguishable else "[dim]noise[/]"
        table.add_row(name, _fmt(d.other, 4), _fmt(d.value, 4), "n/a" if d.delta is None else f"{d.delta:+.4f}",
                      interval, verdict)
    for name, d in base.figures.items():
        table.add_row(name, _fmt(d.other), _fmt(d.value), "n/a" if d.delta is None else f"{d.delta:+.3f}", "", "")
    table.caption = escape("\n".join(base.notes))
    return table


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _latency(report: Report) -> Table:
    lat = report.latency
    table = Table(title=f"Latency (single item; {lat.count} queries over {_fmt(lat.duration_s, 1)} s, timed outside "
                        "the model's process)", title_justify="left")
    for col in ("", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="right" if col else "left")
    table.add_row("model", _ms(lat.p50_ms), _ms(lat.p90_ms), _ms(lat.p95_ms), _ms(lat.p99_ms), _ms(lat.max_ms))
    if lat.floor:
        f = lat.floor
        table.add_row("[dim]floor (no-op)[/]", *(f"[dim]{_ms(v)}[/]" for v in (f.p50_ms, f.p90_ms, f.p95_ms, f.p99_ms,
                                                                            f.max_ms)))
    extra = [f"cold start {_fmt(lat.cold_start_ms, 1)} ms"]
    extra += [f"batch {b.batch_size}: {_fmt(b.items_per_s, 0)} items/s" for b in lat.batches if b.items_per_s]
    if lat.full_batch and lat.full_batch.items_per_s:
        extra.append(f"all {lat.full_batch.items}: {_fmt(lat.full_batch.items_per_s, 0)} items/s")
    if lat.peak_memory_mb is not None:
        extra.append(f"peak memory {_fmt(lat.peak_memory_mb, 1)} MB")
    table.caption = escape("; ".join(extra) + "".join(f"\n{note}" for note in lat.notes))
    table.caption_justify = "left"
    return table


def _reproducibility(report: Report) -> Table:
    rep = report.reproducibility
    head = (f"Reproducibility: prediction agreement {_fmt(rep.prediction_agreement, 4)}, largest metric difference "
            f"{_fmt(rep.max_metric_diff, 4)}, artifacts identical: "
            f"{'n/a' if rep.artifacts_identical is None else 'yes' if rep.artifacts_identical else 'no'}")
    table = Table(title=head, title_justify="left")
    names = [n for n in ("precision", "recall", "f1") if n in report.metrics]
    for col in ("run", "seed", "train s", "predict s", *names, "artifacts"):
        table.add_column(col, justify="left" if col in ("run", "artifacts") else "right")
    for run in rep.training_runs:
        label = f"{run.run}" + ("" if run.kind == "same_seed" else " (other seed)")
        artifacts = (run.artifacts_sha256 or "")[:12] if run.ok else f"[red]{escape(run.failure or 'failed')}[/]"
        table.add_row(label, str(run.seed), _fmt(run.train_s, 1), _fmt(run.predict_s, 1),
                      *(_fmt(run.metrics.get(n)) for n in names), artifacts)
    table.caption = escape("\n".join(rep.explanation))
    table.caption_justify = "left"
    return table


def _rubric(report: Report) -> Group:
    rubric = report.rubric
    assert rubric is not None
    reviewed = any(c.review for s in rubric.sections for c in s.criteria)
    title = f"Rubric {rubric.id}: {points(rubric.total)} of 100"
    if reviewed:
        title += f" (automatic {points(rubric.automatic_total)}, with interviewers' reviews {points(rubric.total)})"
    table = Table(show_lines=False)
    table.add_column("criterion", overflow="fold")
    table.add_column("points", justify="right", overflow="fold")
    table.add_column("why", overflow="fold")
    for section in rubric.sections:
        table.add_row(f"[bold]{escape(section.title)}[/]", f"[bold]{points_of(section.points, section.max_points)}[/]",
                      "")
        for c in section.criteria:
            shown = points_of(c.points, c.max_points)
            if c.review is not None:
                shown = f"{points(c.automatic_points)} -> {shown}"
            why = escape(c.explanation)  # whole: it wraps, a cut explanation would hide the reason
            if c.review is not None:
                why += escape(f" [reviewed by {c.review.reviewer}: {c.review.note}]")
            elif c.needs_review:
                why += " [dim](to review)[/]"
            table.add_row(f"  {c.id}", shown, why)
    notes = [f"not passed: {reason}" for reason in why_not_passed(report)]
    notes += [f"review not applied: {r}" for r in rubric.reviews_not_applied]
    return Group(Text(title, style="bold"), table, *(Text(note) for note in notes))
