"""``report.md``: the report as GitHub-flavoured Markdown, for a pull-request comment or a job summary.

The verdict and why come first, so a reviewer who reads one line knows the outcome. Every text the
candidate controls (messages, stderr, written answers quoted as evidence, notes) goes through
:func:`inline`, :func:`cell` or :func:`fenced`, so it can neither break a table nor inject HTML,
links, images or math. The first line is an HTML comment that a bot can search for to update its
comment in place.
"""

from __future__ import annotations

import html
import re

from grader.report import selfcheck
from grader.report.format import points, points_of, signed_points, why_not_passed
from grader.spec.report import Failure, Latency, Outcome, Report, RubricResult, SecondOpinion, SectionResult, Verdict

MARKER = "<!-- grader-report -->"

#: The verdict's mark, by its outcome; a self-check, which is not a grade, has its own.
_MARKS: dict[Outcome, str] = {"passed": "✅", "not_passed": "❌", "invalid": "⚠️", "error": "🛑"}
_SELF_CHECK_MARK = "🔎"
#: Why a report without a score has none, after its verdict.
_UNSCORED = {"invalid": "the submission breaks the contract, so it was not graded",
             "error": "the grader or its infrastructure failed, not the submission; grade it again"}
#: Characters with a meaning in GitHub Markdown inline text; a backslash makes each literal.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")
#: A pull-request comment holds at most 65,536 characters: each stderr tail gets a bounded share.
_STDERR_TAIL_LINES = 40
_STDERR_TAIL_CHARS = 4000


def inline(text: str) -> str:
    """``text`` as literal Markdown on one line: HTML escaped, Markdown punctuation escaped."""
    text = html.escape(text, quote=False)
    return " ".join(_MD_SPECIAL.sub(r"\\\1", text).split("\n")).replace("\r", "")


def cell(text: str) -> str:
    """``text`` as literal content of a table cell: like :func:`inline`, line breaks kept as ``<br>``."""
    lines = [_MD_SPECIAL.sub(r"\\\1", html.escape(line, quote=False)) for line in text.replace("\r", "").split("\n")]
    return "<br>".join(lines)


def fenced(text: str, lang: str = "text") -> str:
    """A code block showing ``text`` verbatim, its fence longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def code(text: str) -> str:
    """An identifier as inline code, or escaped text when it holds a backtick or a line break."""
    return f"`{text}`" if "`" not in text and "\n" not in text else inline(text)


def num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def render(report: Report) -> str:
    parts = [MARKER, _head(report), _baseline(report)]
    parts.append(selfcheck.markdown(report, inline=inline, cell=cell, code=code))  # a self-check's estimate
    parts += [_why(report), _integrity(report), _borderline(report), _failures(report), _self_check(report),
              _rubric(report), _metrics(report),
              _per_class(report), _latency(report.latency), _reproducibility(report), _warnings(report),
              _footer(report)]
    return "\n\n".join(p for p in parts if p) + "\n"


def _verdict(verdict: Verdict) -> str:
    mark = _SELF_CHECK_MARK if verdict.self_check else _MARKS[verdict.outcome]
    return f"{mark} **{verdict.label.upper()}**"


def _head(report: Report) -> str:
    verdict = _verdict(report.verdict)
    task = f"{code(report.task.id)}" + (f" v{report.task.version}" if report.task.version is not None else "")
    title = f"## Grader report: {task}"
    if report.verdict.outcome in _UNSCORED:
        return f"{title}\n\n{verdict}: {_UNSCORED[report.verdict.outcome]}"
    if report.verdict.self_check:
        return f"{title}\n\n{verdict}"
    mark = f" (passes at {report.rubric.pass_mark:g})" if report.rubric is not None else ""
    line = f"{verdict}: score **{points(report.score)}** / 100{mark}"
    if report.rubric is not None and report.rubric.total != report.rubric.automatic_total:
        line += f", {points(report.rubric.automatic_total)} before interviewers' reviews"
    sub = report.submission
    who = [code(sub.path)] if sub.path else []
    who += [f"sha256 {code(sub.sha256[:12])}"] if sub.sha256 else []
    by = f" by **{inline(sub.candidate)}**" if sub.candidate else ""
    return f"{title}\n\n{line}" + (f"\n\nSubmission{by}: {', '.join(who)}" if who else "")


def _why(report: Report) -> str:
    if report.verdict.outcome != "not_passed" or report.verdict.self_check:
        return ""
    reasons = why_not_passed(report)  # the root cause first, the total below the pass mark last
    if not reasons:
        return ""
    return "### Why it did not pass\n\n" + "\n".join(f"- {inline(r)}" for r in reasons)


def _failures(report: Report) -> str:
    if not report.failures:
        return ""
    return "### Failures\n\n" + "\n".join(_failure(f) for f in report.failures)


def _failure(f: Failure) -> str:
    item = f"- **{f.phase}**, {f.kind}: {inline(f.message)}"
    if not f.detail:
        return item
    lines = f.detail.rstrip().split("\n")[-_STDERR_TAIL_LINES:]
    tail = "\n".join(lines)[-_STDERR_TAIL_CHARS:]
    summary = f"stderr tail (last {len(tail.splitlines())} lines)"
    block = f"<details><summary>{summary}</summary>\n\n{fenced(tail)}\n\n</details>"
    return item + "\n\n" + "\n".join(f"  {line}" if line else "" for line in block.split("\n"))


def _self_check(report: Report) -> str:
    if not report.self_check:
        return ""
    return "### To fix before handing it in\n\n" + "\n".join(f"- {inline(note)}" for note in report.self_check)


def _rubric(report: Report) -> str:
    rubric = report.rubric
    if rubric is None:
        return ""
    head = f"### Rubric {code(rubric.id)} v{rubric.version}: {points(rubric.total)} of 100 points"
    if rubric.total != rubric.automatic_total:
        head += f" ({points(rubric.automatic_total)} automatic, then interviewers' reviews)"
    parts = [head, *(_section(section) for section in rubric.sections)]
    notes = _rubric_notes(rubric)
    return "\n\n".join(parts + ([notes] if notes else []))


def _section(section: SectionResult) -> str:
    rows = [f"#### {inline(section.title)}: {points_of(section.points, section.max_points)}",
            "", "| criterion | points | why |", "| --- | ---: | --- |"]
    for c in section.criteria:
        shown = points_of(c.points, c.max_points)
        why = cell(c.explanation)
        if c.review is not None:
            shown = f"**{shown}** (automatic {points(c.automatic_points)})"
            why += f"<br>**Reviewed by {cell(c.review.reviewer)}**: {cell(c.review.note)}"
        elif c.needs_review:
            why += "<br>_(to review by an interviewer)_"
        if c.second_opinion is not None:
            why += "<br>" + _second_opinion(c.second_opinion)
        name = code(c.id) + (" (required)" if c.required else "")
        rows.append(f"| {name} | {shown} | {why} |")
    return "\n".join(rows)


def _second_opinion(so: SecondOpinion) -> str:
    """Another grader's verdict on a written answer, beside the automatic one and never counted."""
    who = so.grader + (f", {so.model}" if so.model else "") + (", cached" if so.cached else "")
    verdict = "no verdict" if so.fraction is None else f"{so.fraction:.0%} of the points"
    points = ", ".join(f"{v.id} {v.verdict}" for v in so.key_points)
    return cell(f"Second opinion ({who}; not counted): {verdict}" + (f" ({points})" if points else "")
                + (f". {so.note}" if so.note else ""))


def _rubric_notes(rubric: RubricResult) -> str:
    notes = []
    if rubric.needs_review:
        notes.append("To review by an interviewer: " + ", ".join(code(c) for c in rubric.needs_review))
    notes += [f"Review not applied: {inline(note)}" for note in rubric.reviews_not_applied]
    return "\n".join(f"- {note}" for note in notes)


def _metrics(report: Report) -> str:
    if not report.metrics:
        return ""
    where = "public validation split" if report.evaluated_on == "valid" else "hidden test split"
    names = list(report.metrics)
    table = (f"### Metrics on the {where}\n\n| | {' | '.join(code(n) for n in names)} |\n"
             f"| --- |{' ---: |' * len(names)}\n| value | {' | '.join(num(report.metrics[n], 4) for n in names)} |")
    if not report.metrics_ci:
        return table + _calibration(report)
    ci = report.metrics_ci
    first = next(iter(ci.values()))
    table += "\n| " + f"{first.level:.0%} interval | " + " | ".join(
        f"{ci[n].low:.4f} – {ci[n].high:.4f}" if n in ci else "" for n in names) + " |"
    table += (f"\n\n<sub>Intervals: {first.method}, {first.resamples:,} resamples of the split's rows "
              "(fixed seed): how far each figure could move by sampling noise alone.</sub>")
    return table + _calibration(report)


def _calibration(report: Report) -> str:
    cal = report.calibration
    if cal is None:
        return ""
    return (f"\n\nCalibration of `predict_proba`: Brier score {num(cal.brier, 4)} (lower is better), expected "
            f"calibration error {num(cal.expected_calibration_error, 4)}.")


def _baseline(report: Report) -> str:
    """The change of every figure from the baseline: what a pull request did, and whether it is real."""
    base = report.baseline
    if base is None:
        return ""
    from grader.evaluate.figures import get_figure

    who = f" by **{inline(base.candidate)}**" if base.candidate else ""
    sha = f", sha256 {code(base.submission_sha256[:12])}" if base.submission_sha256 else ""
    lines = [f"### Change from the baseline\n\nAgainst {code(base.source)}{who}{sha}, which "
             f"{'passed' if base.passed else 'did not pass'}. Metrics: the 95% interval of the change comes from a "
             "paired bootstrap on the same hidden rows; a change whose interval holds 0 is within sampling noise.",
             "", "| figure | baseline | this | change | 95% interval | |",
             "| --- | ---: | ---: | ---: | ---: | --- |",
             f"| score | {_points(base.score.other)} | {_points(base.score.value)} | {signed_points(base.score.delta)} "
             "| | |"]
    for name, d in base.metrics.items():
        interval = f"{d.low:+.4f} – {d.high:+.4f}" if d.low is not None and d.high is not None else ""
        verdict = "" if d.distinguishable is None else "**real change**" if d.distinguishable else "within noise"
        lines.append(f"| {code(name)} | {num(d.other, 4)} | {num(d.value, 4)} | {_signed(d.delta, 4)} | {interval} "
                     f"| {verdict} |")
    for name, d in base.figures.items():
        digits = get_figure(name).digits
        lines.append(f"| {code(name)} | {num(d.other, digits)} | {num(d.value, digits)} | {_signed(d.delta, digits)} "
                     "| | |")
    lines += [f"\n- {inline(note)}" for note in base.notes]
    return "\n".join(lines)


def _points(value: float | None) -> str:
    return "n/a" if value is None else points(value)


def _signed(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:+,.{digits}f}"


def _borderline(report: Report) -> str:
    """Gates decided within sampling noise: the verdict follows the point estimate, a person should decide."""
    gates = [r for r in report.pass_rule if r.borderline]
    if not gates:
        return ""
    lines = []
    for r in gates:
        interval = f", interval {r.interval[0]:.4f} – {r.interval[1]:.4f}" if r.interval else ""
        lines.append(f"- {code(r.rule)}: {num(r.value, 4)}{interval}, {'met' if r.met else 'not met'} by the "
                     "point estimate, but the bound is inside the interval")
    return ("### ⚖️ Within sampling noise: a person should decide\n\n" + "\n".join(lines)
            + "\n\nThe verdict follows the point estimate; another sample of the same size could have gone "
              "the other way.")


def _per_class(report: Report) -> str:
    if len(report.per_class) <= 2:
        return ""
    rows = ["### Per class", "", "| class | precision | recall | f1 | support |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, row in report.per_class.items():
        rows.append(f"| {cell(name)} | {num(row.get('precision'))} | {num(row.get('recall'))} | {num(row.get('f1'))} "
                    f"| {int(row.get('support', 0))} |")
    return "\n".join(rows)


def _latency(lat: Latency) -> str:
    if not lat.measured:
        return ""
    rows = [f"### Latency (single item, {lat.count} queries, timed outside the model's process)", "",
            "| | p50 ms | p95 ms | p99 ms |", "| --- | ---: | ---: | ---: |",
            f"| model | {num(lat.p50_ms)} | {num(lat.p95_ms)} | {num(lat.p99_ms)} |"]
    if lat.floor is not None:
        f = lat.floor
        rows.append(f"| floor (no-op predictor) | {num(f.p50_ms)} | {num(f.p95_ms)} | {num(f.p99_ms)} |")
    extra = [f"Cold start {num(lat.cold_start_ms, 1)} ms"]
    if lat.full_batch is not None and lat.full_batch.items_per_s:
        extra.append(f"all {lat.full_batch.items} items in one call: {num(lat.full_batch.items_per_s, 0)} items/s")
    if lat.peak_memory_mb is not None:
        extra.append(f"peak memory {num(lat.peak_memory_mb, 1)} MB")
    rows += ["", "; ".join(extra)]
    rows += [f"- {inline(note)}" for note in lat.notes]
    return "\n".join(rows)


def _reproducibility(report: Report) -> str:
    rep = report.reproducibility
    if rep.runs < 2 and not rep.explanation:
        return ""
    identical = "n/a" if rep.artifacts_identical is None else "yes" if rep.artifacts_identical else "no"
    head = (f"### Reproducibility\n\n{rep.runs} training run(s) with seed {rep.seed}: prediction agreement "
            f"{num(rep.prediction_agreement, 4)}, largest metric difference {num(rep.max_metric_diff, 4)}, "
            f"artifacts identical: {identical}")
    env = rep.environment
    if env is not None and (env.unpinned or env.mismatches):
        pins = [f"{p.name}=={p.pinned} (runtime {p.runtime or 'not installed'})" for p in env.mismatches]
        head += "\n\nPins: " + inline("; ".join([*(f"{u} unpinned" for u in env.unpinned), *pins]))
    lines = "\n".join(f"- {inline(line)}" for line in rep.explanation)
    return f"{head}\n\n{lines}" if lines else head


def _warnings(report: Report) -> str:
    if not report.warnings:
        return ""
    return "### Warnings\n\n" + "\n".join(f"- {inline(w)}" for w in report.warnings)


def _integrity(report: Report) -> str:
    """Flags for a person to judge, near the top: they do not change the score, but they say whether to trust it."""
    flags = report.integrity.flags
    if not flags:
        return ""
    lines = [f"> [!WARNING]\n> **Integrity: {len(flags)} flag{'s' if len(flags) > 1 else ''} for a person to "
             "review.** The score and verdict are unchanged; read the evidence before trusting them.", ""]
    for f in flags:
        lines.append(f"- **{f.kind}** ({f.severity}): {inline(f.message)}")
        lines += [f"  - {inline(e)}" for e in f.evidence]
    return "### Integrity\n\n" + "\n".join(lines)


def _footer(report: Report) -> str:
    env = report.environment
    box = env.sandbox
    bits = [f"grader {env.grader_version}"] if env.grader_version else []
    if box is not None:
        bits.append(f"sandbox {box.backend}" + (f", image {box.image}" if box.image else ""))
    if (job := env.queue) is not None:
        bits.append(f"queue job {job.job_id}, attempt {job.attempt} of {job.attempts_allowed} on {job.worker}")
    if report.started_at:
        bits.append(f"started {report.started_at}")
    if report.duration_s is not None:
        bits.append(f"took {report.duration_s:.0f} s")
    bits.append("every figure is in report.json")
    return f"<sub>{inline(' · '.join(str(b) for b in bits))}</sub>"
