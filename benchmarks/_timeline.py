"""Where a grading's wall time goes: spans of the grader's steps, recorded by wrapping its functions.

The benchmarks wrap functions by name (in the module that calls them), so the grader carries no
timing code of its own; a name the code does not have (an older or newer layout) is skipped and
listed as not instrumented. Every span is taken with ``time.perf_counter`` (CLOCK_MONOTONIC on
Linux, shared by all processes), so a grading run in a child process lines up with its parent's
clock. Spans from other threads (work run side by side) are kept with their thread's name.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Span:
    name: str
    start: float
    end: float
    thread: str
    #: For a sandbox run: the command's own time (the engine's start-to-finish), the candidate's work.
    candidate_s: float | None = None


@dataclass
class Timeline:
    spans: list[Span] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    #: When the recording process reached its first line of Python.
    python_started: float | None = None

    def add(self, span: Span) -> None:
        self.spans.append(span)  # list.append is atomic under the GIL: threads may add at once

    def to_json(self) -> str:
        return json.dumps({"spans": [asdict(s) for s in self.spans], "missing": self.missing,
                           "python_started": self.python_started})

    @classmethod
    def from_json(cls, text: str) -> Timeline:
        data = json.loads(text)
        return cls([Span(**s) for s in data["spans"]], data["missing"], data["python_started"])


#: What is timed, as ``module:attribute[.method]`` -> span name. The module is the one that CALLS
#: the function (``from x import f`` binds ``f`` there). The first of alternatives that exists wins.
TARGETS: dict[str, tuple[str, ...]] = {
    "sandbox: connect": ("grader.sandbox:get_backend",),
    "sandbox: describe (engine, image)": ("grader.sandbox.docker.backend:DockerSandbox.describe",),
    "sandbox: close (prune the session)": ("grader.sandbox.docker.backend:DockerSandbox.close",),
    "terminal summary": ("grader.report.terminal:render",),
    "staging": ("grader.grading.pipeline:stage",),
    "validation": ("grader.grading.pipeline:validate",),
    "data checks": ("grader.grading.pipeline:verify_data",),
    "hidden inputs": ("grader.grading.pipeline:write_inputs",),
    "public data": ("grader.grading.pipeline:Grader._public_data", "grader.grading.pipeline:public_folder",
                    "grader.grading.pipeline:build_public"),
    "rubric criteria graded ahead (background)": ("grader.grading.pipeline:grade_ahead",),
    "rubric": ("grader.rubric:grade",),
    "self-check notes": ("grader.grading.selfcheck:notes",),
    "Dockerfile build": ("grader.sandbox.docker.build:Builder.build", "grader.rubric.dockerfile:Builder.build"),
    "report writing": ("grader.grading.pipeline:write_reports",),
    "MLflow logging": ("grader.grading.pipeline:log_grading",),
    "MLflow store opened (background)": ("grader.grading.pipeline:open_store",),
    "MLflow run created": ("grader.grading.pipeline:start_run",),
    "MLflow figures and files logged": ("grader.grading.pipeline:finish_run",),
    "MLflow import + client": ("grader.integrations.mlflow:_client",),
}


def _resolve(path: str) -> tuple[Any, str] | None:
    module_name, _, attr = path.partition(":")
    try:
        owner: Any = importlib.import_module(module_name)
    except ImportError:
        return None
    *parents, name = attr.split(".")
    for part in parents:
        owner = getattr(owner, part, None)
        if owner is None:
            return None
    return (owner, name) if hasattr(owner, name) else None


def _wrap(timeline: Timeline, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            timeline.add(Span(name, started, time.perf_counter(), threading.current_thread().name))

    return timed


def _wrap_run(timeline: Timeline, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A sandbox's ``run``: the span is named after the phase and carries the command's own time."""
    @functools.wraps(fn)
    def timed(self: Any, spec: Any) -> Any:
        started = time.perf_counter()
        result = None
        try:
            result = fn(self, spec)
            return result
        finally:
            timeline.add(Span(f"sandbox {spec.label}", started, time.perf_counter(), threading.current_thread().name,
                              candidate_s=None if result is None else result.duration_s))

    return timed


def install(sandbox_classes: list[type] | None = None) -> Timeline:
    """Wrap every target that exists, and the ``run`` of the given sandbox classes (default: docker, local)."""
    timeline = Timeline()
    for name, paths in TARGETS.items():
        for path in paths:
            found = _resolve(path)
            if found is not None:
                owner, attr = found
                setattr(owner, attr, _wrap(timeline, name, getattr(owner, attr)))
                break
        else:
            timeline.missing.append(name)
    if sandbox_classes is None:
        sandbox_classes = []
        for path in ("grader.sandbox.docker.backend:DockerSandbox", "grader.sandbox.local.backend:LocalSandbox"):
            found = _resolve(path)
            if found is not None:
                sandbox_classes.append(getattr(*found))
    for cls in sandbox_classes:
        cls.run = _wrap_run(timeline, cls.run)  # type: ignore[method-assign]
    return timeline


def record_to(path: str, python_started: float, preload: tuple[str, ...] = ()) -> Timeline:
    """In a child process: install, and write the timeline to ``path`` when the process exits.

    ``preload``: modules the command imports before it starts grading anyway, timed with the
    grader's own as "grader imports".
    """
    started = time.perf_counter()
    timeline = install()
    for name in preload:
        importlib.import_module(name)
    timeline.python_started = python_started
    timeline.add(Span("grader imports", started, time.perf_counter(), threading.current_thread().name))

    def dump() -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(timeline.to_json())

    atexit.register(dump)
    return timeline


# -- reading a timeline ------------------------------------------------------------------------------

def union_s(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by at least one interval."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


@dataclass
class Breakdown:
    """One grading's wall time by what it was spent on (seconds)."""

    wall: float
    candidate: float
    rows: dict[str, float]
    phases: list[tuple[str, float, float, float | None, str]]
    #: How many spans a row adds up (reports written twice show 2).
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.wall / self.candidate if self.candidate else float("nan")


def breakdown(timeline: Timeline, started: float, ended: float) -> Breakdown:
    """Figures of one grading that ran from ``started`` to ``ended`` (perf_counter seconds)."""
    spans = [s for s in timeline.spans if started - 1 <= s.start <= ended]
    runs = [s for s in spans if s.name.startswith("sandbox ")]
    candidate = sum(s.candidate_s or 0.0 for s in runs)
    rows: dict[str, float] = {}
    counts: dict[str, int] = {}
    if timeline.python_started is not None:
        rows["python start-up (interpreter, site)"] = timeline.python_started - started
    for name in ["grader imports", *TARGETS]:
        chosen = [s for s in spans if s.name == name]
        if chosen:
            rows[name] = sum(s.end - s.start for s in chosen)
            counts[name] = len(chosen)
    rows["sandbox runs: the candidate's phases"] = candidate
    rows["sandbox runs: containers, archives, keeper (run wall - phase)"] = sum(
        (s.end - s.start) - (s.candidate_s or 0.0) for s in runs)
    covered = union_s([(s.start, s.end) for s in spans])
    last = max((s.end for s in spans), default=started)
    rows["not in any span (host-side scoring, between steps, exit)"] = (ended - started) - covered
    rows["  of which after the last span (interpreter exit)"] = ended - last
    phases = [(s.name.removeprefix("sandbox "), s.start - started, s.end - started, s.candidate_s, s.thread)
              for s in sorted(runs, key=lambda s: s.start)]
    return Breakdown(wall=ended - started, candidate=candidate, rows=rows, phases=phases, counts=counts)


def print_breakdown(title: str, b: Breakdown, missing: list[str]) -> None:
    print(f"\n{title}")
    print(f"  {'phase (sandbox run)':<22} {'starts':>7} {'ends':>7} {'wall':>7} {'phase':>7} {'thread':>12}")
    for name, start, end, cand, thread in b.phases:
        phase = "-" if cand is None else f"{cand:7.2f}"
        print(f"  {name:<22} {start:7.2f} {end:7.2f} {end - start:7.2f} {phase:>7} {thread[:12]:>12}")
    print(f"  {'where the wall time goes':<64} {'s':>7}")
    for name, seconds in b.rows.items():
        count = b.counts.get(name, 1)
        label = name if count == 1 else f"{name} (x{count})"
        print(f"  {label:<64} {seconds:7.2f}")
    print(f"  {'wall':<64} {b.wall:7.2f}")
    print(f"  {'sum of the candidate phases':<64} {b.candidate:7.2f}")
    print(f"  {'wall / candidate phases':<64} {b.ratio:7.2f} x")
    if missing:
        print(f"  (not instrumented in this layout: {', '.join(missing)})")


def median_breakdown(items: list[Breakdown]) -> Breakdown:
    """Row by row medians (the phases of the median-wall run)."""
    import statistics

    rows: dict[str, float] = {}
    for name in items[0].rows:
        values = [b.rows[name] for b in items if name in b.rows]
        rows[name] = statistics.median(values)
    mid = sorted(items, key=lambda b: b.wall)[len(items) // 2]
    return Breakdown(wall=statistics.median(b.wall for b in items),
                     candidate=statistics.median(b.candidate for b in items), rows=rows, phases=mid.phases,
                     counts=mid.counts)


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"
