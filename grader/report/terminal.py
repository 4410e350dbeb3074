"""The readable terminal summary of a report (rich)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.report.model import Report

VERDICT = {
    ("graded", True): ("PASSED", "bold green"),
    ("graded", False): ("NOT PASSED", "bold red"),
    ("invalid", False): ("INVALID SUBMISSION", "bold yellow"),
    ("error", False): ("GRADER ERROR", "bold magenta"),
}


def _fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render(report: Report, console: Console | None = None) -> None:
    console = console or Console()
    label, style = VERDICT[(report.status, report.passed)]
    head = Text.assemble((label, style), f"   score {report.score:.1f}/100   task {report.task.id}")
    parts: list = [head]
    if report.metrics:
        table = Table(title="Hidden test metrics", title_justify="left", show_header=True)
        table.add_column("metric")
        table.add_column("value", justify="right")
        for name, value in report.metrics.items():
            table.add_row(name, _fmt(value))
        parts.append(table)
    if report.pass_rule:
        rules = Table(title="Pass rule", title_justify="left")
        rules.add_column("requirement")
        rules.add_column("value", justify="right")
        rules.add_column("", justify="center")
        for r in report.pass_rule:
            rules.add_row(r.rule, _fmt(r.value), "[green]met[/]" if r.met else "[red]not met[/]")
        parts.append(rules)
    if report.confusion_matrix:
        cm = report.confusion_matrix
        table = Table(title="Confusion matrix (rows: true, columns: predicted)", title_justify="left")
        table.add_column("")
        for label_ in cm["labels"]:
            table.add_column(label_, justify="right")
        for label_, row in zip(cm["labels"], cm["matrix"], strict=True):
            table.add_row(label_, *(str(v) for v in row))
        parts.append(table)
    if report.latency.get("p50_ms") is not None:
        lat = report.latency
        parts.append(Text(f"Latency per item: p50 {_fmt(lat.get('p50_ms'))} ms, p95 {_fmt(lat.get('p95_ms'))} ms, "
                          f"p99 {_fmt(lat.get('p99_ms'))} ms over {lat.get('count')} single-item calls; "
                          f"model load {_fmt(lat.get('cold_start_ms'), 1)} ms"))
    if report.phases:
        parts.append(Text("Phases: " + ", ".join(
            f"{name} {run.duration_s:.1f} s (exit {run.exit_code})" for name, run in report.phases.items())))
    box = report.environment.get("sandbox") or {}
    if box:
        image = f", image {box.get('image')} ({str(box.get('image_id', ''))[:19]})" if box.get("image") else ""
        parts.append(Text(f"Sandbox: {box.get('backend')}{image}", style="dim"))
    for f in report.failures:
        body = Text.assemble((f"[{f.phase}] {f.kind}: ", "bold red"), f.message)
        if f.detail:
            body.append("\n" + f.detail, style="dim")
        parts.append(body)
    for w in report.warnings:
        parts.append(Text.assemble(("warning: ", "yellow"), w))
    console.print(Panel(Group(*parts), title="grader report", expand=False))
