"""The report's figures as inline SVG strings, drawn with matplotlib.

``report.html`` must work offline and be byte-for-byte the same for the same report, so every
figure is vector text in the page (no image files, no fonts to fetch), drawn on a bare
:class:`~matplotlib.figure.Figure` (no pyplot: no global figure state shared between renders), with
the SVG writer's random ids salted and its date left out. Each function returns ``None`` when the
report has nothing to draw, so a failed grading renders without figures rather than with empty ones.
"""

from __future__ import annotations

import functools
import io
import pickle
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import matplotlib
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

from grader.spec.report import Calibration, Latency, PRCurve

if TYPE_CHECKING:
    from grader.spec.report import Report

D = TypeVar("D")
#: Figures kept per kind (:func:`_drawn_once`): a grading's, and a few more for batches.
KEPT = 4

#: rcParams every figure is drawn and saved under: the look, and what makes the SVG deterministic.
STYLE: dict[RcKeyType, Any] = {
    "svg.hashsalt": "grader-report",
    "svg.fonttype": "path",  # glyphs as paths: no font needed on the reader's machine
    "font.family": "DejaVu Sans",  # shipped with matplotlib, so the same on every host
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#8c959f",
    "axes.labelcolor": "#24292f",
    "xtick.color": "#57606a",
    "ytick.color": "#57606a",
    "axes.grid": True,
    "grid.color": "#d0d7de",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
}
MODEL_COLOR = "#0969da"
FLOOR_COLOR = "#8c959f"
MARK_COLOR = "#cf222e"


def _svg(fig: Figure, name: str, title: str) -> str:
    """The figure as an ``<svg>`` element for inlining: no XML prolog, ids prefixed with ``name`` so
    several figures can share a page (matplotlib reuses glyph ids), and a title for screen readers."""
    buf = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)  # RDF boilerplate
    text = re.sub(r'\bid="', f'id="{name}-', text)
    text = re.sub(r"url\(#", f"url(#{name}-", text)
    text = re.sub(r'href="#', f'href="#{name}-', text)
    title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"<svg\b", f'<svg role="img" aria-label="{title}" class="plot plot-{name}"', text,
                  count=1).strip()


def _ms(value: float) -> str:
    return f"{value:,.{2 if value < 10 else 1 if value < 100 else 0}f}"


def _figure(width: float, height: float) -> Figure:
    """A figure outside pyplot (call it under ``rc_context(STYLE)``: axes read the style when made)."""
    return Figure(figsize=(width, height), layout="constrained")


def _drawn_once(draw: Callable[[D], str | None]) -> Callable[[D], str | None]:
    """The same figure for the same data is drawn once: a grading draws its figures while its other
    runs go on (:func:`prerender`), and writing its reports then finds them. Keyed by the data
    itself, so a figure never outlives a change to what it shows."""
    kept: OrderedDict[bytes, str | None] = OrderedDict()
    lock = threading.Lock()  # rc_context changes matplotlib's global settings: one drawing at a time

    @functools.wraps(draw)
    def drawn(data: D) -> str | None:
        key = pickle.dumps(data)
        with lock:
            if key not in kept:
                kept[key] = draw(data)
                while len(kept) > KEPT:
                    kept.popitem(last=False)
            return kept[key]

    return drawn


def prerender(report: Report) -> None:
    """Draw ``report``'s figures now (what :mod:`grader.report.html` shows), e.g. in a thread while
    the rest of the grading runs; they are drawn again only if their data changes."""
    confusion_matrix(report.confusion_matrix)
    pr_curves(report.curves)
    latency_cdf(report.latency)
    reliability(report.calibration)


@_drawn_once
def confusion_matrix(cm: dict[str, Any] | None) -> str | None:
    """Heatmap of the confusion matrix with its counts; colour is the share of each true class's row,
    so a small class's errors show as clearly as a large one's (the caption says so: no colour bar)."""
    if not cm or not cm.get("matrix") or not cm.get("labels"):
        return None
    labels: list[str] = [str(x) for x in cm["labels"]]
    counts: list[list[int]] = cm["matrix"]
    n = len(labels)
    shares = [[v / max(1, sum(row)) for v in row] for row in counts]
    side = min(7.0, 2.2 + 0.5 * n)
    with matplotlib.rc_context(STYLE):
        fig = _figure(side, side)
        ax = fig.add_subplot()
        ax.grid(False)
        edges = [i - 0.5 for i in range(n + 1)]  # pcolormesh, not imshow: vector cells, no embedded bitmap
        ax.pcolormesh(edges, edges, shares, cmap="Blues", vmin=0, vmax=1, edgecolors="white", linewidth=1)
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_aspect("equal")
        size = 10 if n <= 4 else 7
        for i, row in enumerate(counts):
            for j, value in enumerate(row):
                ax.text(j, i, f"{value:,}", ha="center", va="center", fontsize=size,
                        color="white" if shares[i][j] > 0.55 else "#24292f")
        ax.set_xticks(range(n), labels, rotation=45 if n > 4 else 0, ha="right" if n > 4 else "center")
        ax.set_yticks(range(n), labels)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        for spine in ax.spines.values():
            spine.set_visible(False)
    return _svg(fig, "confusion", "Confusion matrix: counts of true against predicted classes")


@_drawn_once
def pr_curves(curves: Sequence[PRCurve]) -> str | None:
    """Precision against recall for every class with a curve, the submitted labels' operating point on
    each, and (for one curve) the precision of a random ranking."""
    if not curves:
        return None
    single = len(curves) == 1
    with matplotlib.rc_context(STYLE):
        fig = _figure(6.4 if single else 9.0, 4.4 if single else 5.2)
        ax = fig.add_subplot()
        colors = matplotlib.color_sequences["tab10"]
        for i, curve in enumerate(curves):
            color = MODEL_COLOR if single else colors[i % len(colors)]
            label = f"{curve.label} (AP {curve.average_precision:.3f})"
            ax.plot(curve.recall, curve.precision, drawstyle="steps-post", color=color, linewidth=1.6,
                    label=label)
            ax.plot([curve.operating_recall], [curve.operating_precision], marker="o", markersize=8 if single else 7,
                    color=MARK_COLOR if single else color, markeredgecolor="white", linestyle="none", zorder=5)
        if single:
            curve = curves[0]
            ax.axhline(curve.prevalence, color=FLOOR_COLOR, linestyle="--", linewidth=1,
                       label=f"random ranking ({curve.prevalence:.2f})")
            ax.annotate(f"submitted labels\nprecision {curve.operating_precision:.3f}, "
                        f"recall {curve.operating_recall:.3f}",
                        (curve.operating_recall, curve.operating_precision), xytext=(-14, -40),
                        textcoords="offset points", fontsize=8, color=MARK_COLOR, ha="right",
                        arrowprops={"arrowstyle": "-", "color": MARK_COLOR, "linewidth": 0.8})
        ax.plot([], [], marker="o", color=MARK_COLOR if single else "#57606a", markeredgecolor="white",
                linestyle="none", label="operating point (submitted labels)")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("recall (share of the class found)")
        ax.set_ylabel("precision (share of flags that are right)")
        if single:
            ax.legend(loc="lower left", fontsize=8)
        else:
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    return _svg(fig, "pr", "Precision-recall curves with the operating point of the submitted labels")


@_drawn_once
def latency_cdf(latency: Latency) -> str | None:
    """Distribution of single-item latency (percentile against milliseconds), the model beside the
    measurement floor, with p50 and p95 marked: how much of a query's time is the model's."""
    if not latency.measured or len(latency.cdf_ms) < 2:
        return None
    percentiles = [100 * i / (len(latency.cdf_ms) - 1) for i in range(len(latency.cdf_ms))]
    floor = latency.floor.cdf_ms if latency.floor and len(latency.floor.cdf_ms) >= 2 else []
    values = [v for v in [*latency.cdf_ms, *floor] if v > 0]
    with matplotlib.rc_context(STYLE):
        fig = _figure(6.4, 3.6)
        ax = fig.add_subplot()
        ax.plot(latency.cdf_ms, percentiles, drawstyle="steps-post", color=MODEL_COLOR, linewidth=1.8,
                label="the candidate's model")
        if floor:
            ax.plot(floor, [100 * i / (len(floor) - 1) for i in range(len(floor))], drawstyle="steps-post",
                    color=FLOOR_COLOR, linewidth=1.4, linestyle="--", label="measurement floor (no-op model)")
        for name, value, percent in (("p50", latency.p50_ms, 50), ("p95", latency.p95_ms, 95)):
            if value is None:
                continue
            ax.plot([value], [percent], marker="o", color=MARK_COLOR, markeredgecolor="white", markersize=7,
                    linestyle="none", zorder=5)
            ax.annotate(f"{name} {_ms(value)} ms", (value, percent), xytext=(8, -12), textcoords="offset points",
                        fontsize=8, color=MARK_COLOR)
        if values and max(values) / min(values) > 20:
            ax.set_xscale("log")
        ax.set_ylim(0, 104)
        ax.set_yticks([0, 25, 50, 75, 95, 100])
        ax.set_xlabel("milliseconds per single-item prediction" + (" (log scale)" if ax.get_xscale() == "log"
                                                                    else ""))
        ax.set_ylabel("share of queries at most this fast (%)")
        ax.legend(loc="upper left", fontsize=8)
    return _svg(fig, "latency", "Latency distribution of the model against the measurement floor")


@_drawn_once
def reliability(calibration: Calibration | None) -> str | None:
    """Reliability diagram: each bin's mean predicted probability against how often it was right, on the
    diagonal of perfect calibration, with the bins' sizes as bars below (a point of three rows says little)."""
    if calibration is None or not calibration.bins:
        return None
    bins = calibration.bins
    with matplotlib.rc_context(STYLE):
        fig = _figure(5.0, 4.6)
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
        top.plot([0, 1], [0, 1], color=FLOOR_COLOR, linestyle="--", linewidth=1, label="perfectly calibrated")
        top.plot([b.mean_predicted for b in bins], [b.observed for b in bins], marker="o", color=MODEL_COLOR,
                 markeredgecolor="white", linewidth=1.6, label=f"the model (Brier {calibration.brier:.3f})")
        top.set_xlim(0, 1)
        top.set_ylim(0, 1.02)
        top.set_ylabel("observed share")
        top.legend(loc="upper left", fontsize=8)
        bottom.bar([(b.low + b.high) / 2 for b in bins], [b.count for b in bins], width=0.09, color=MODEL_COLOR,
                   alpha=0.45)
        bottom.set_ylabel("rows")
        bottom.set_xlabel("predicted probability")
    return _svg(fig, "reliability", "Reliability diagram: predicted probability against observed share")
