"""Is the trained model a function of the code, the data and ``GRADER_SEED`` only?

The grader trains the submission several times, each in a fresh sandbox, and compares: the
predictions on the hidden test split (the figure that matters), the metrics, and the artifacts'
bytes. This module does the comparing and says in plain words what the figures mean.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.spec.report import EnvironmentCheck, PinMismatch, Reproducibility, SeedCheck, TrainingRun
from grader.spec.task import ReproducibilitySettings
from grader.submission.requirements import Pin, canonical, satisfies

SEED_HINT = ("seed every source of randomness from GRADER_SEED (random.seed, numpy's Generator, torch.manual_seed, "
             "and random_state= of every scikit-learn estimator and split), and keep the clock, file listing order "
             "and thread scheduling out of what the model learns")


@dataclass
class Digest:
    """A folder's content: one sha256 over (path, file sha256) pairs, and each file's sha256."""

    sha256: str
    files: dict[str, str] = field(default_factory=dict)
    bytes: int = 0


def digest(folder: Path) -> Digest:
    files: dict[str, str] = {}
    total = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
                total += len(chunk)
        files[path.relative_to(folder).as_posix()] = h.hexdigest()
    whole = hashlib.sha256("".join(f"{name}\0{sha}\n" for name, sha in files.items()).encode()).hexdigest()
    return Digest(whole, files, total)


def agreement(a: Sequence[str], b: Sequence[str]) -> float:
    """Share of positions where two prediction sequences are the same label."""
    if len(a) != len(b) or not len(a):
        return 0.0
    return float(np.mean(np.asarray(a, dtype=object) == np.asarray(b, dtype=object)))


def differing_files(a: Digest, b: Digest) -> list[str]:
    return sorted(name for name in set(a.files) | set(b.files) if a.files.get(name) != b.files.get(name))


def environment(pins: Sequence[Pin], installed: dict[str, str] | None, lock: dict[str, str] | None,
                unpinned: Sequence[str] = ()) -> EnvironmentCheck:
    """Each pin against what the runtime image really has installed (else against its lock), as PEP 440
    ``==`` compares: ``torch==2.13.0`` is met by an installed ``2.13.0+cpu``."""
    runtime = {canonical(k): v for k, v in (installed or lock or {}).items()}
    mismatches = [PinMismatch(name=p.name, pinned=p.version, runtime=runtime.get(p.name))
                  for p in pins if (have := runtime.get(p.name)) is None or not satisfies(p.version, have)]
    return EnvironmentCheck(requirements_pinned=not unpinned, unpinned=list(unpinned), mismatches=mismatches,
                            checked_against="the runtime image's installed packages" if installed
                            else "the runtime lock (sandbox/requirements.lock)")


@dataclass
class RunRecord:
    """What one training run produced, as the grading pipeline saw it."""

    run: TrainingRun
    labels: list[str] | None = None
    artifacts: Digest | None = None


def compare(records: Sequence[RunRecord], *, seed: int, same_seed_runs: int,
            graded: ReproducibilitySettings | None = None) -> Reproducibility:
    """The reproducibility section from every run (same-seed runs first, then other seeds).

    ``graded``: a self-check, which trains once whatever the task says; these are the task's own
    settings, what ``grader grade`` will train, so the explanation says that rather than that the task
    trains once.
    """
    rep = Reproducibility(runs=same_seed_runs, seed=seed, training_runs=[r.run for r in records])
    # A run's artifacts are digested once its training finished; ``ok`` once its predictions were scored.
    trained = [r for r in records if r.artifacts is not None]
    same = [r for r in records if r.run.kind == "same_seed" and r.run.ok and r.labels is not None]
    base = same[0] if same else None
    if base is None:
        if not trained:
            rep.explanation.append("no training run finished, so nothing could be compared")
            return rep
        assert trained[0].artifacts is not None
        rep.artifacts_empty = not trained[0].artifacts.files
        rep.explanation.append("training finished but prediction failed, so there are no predictions to compare")
        return rep
    assert base.labels is not None
    if base.artifacts is not None:
        rep.artifacts_empty = not base.artifacts.files
    others = same[1:]
    if len(same) < same_seed_runs:
        rep.explanation.append(f"only {len(same)} of {same_seed_runs} same-seed runs finished both training and "
                               "prediction; the comparison uses those")
    if not others:
        if graded is not None and (graded.runs > 1 or graded.other_seed is not None):
            other = f" and once with seed {graded.other_seed}" if graded.other_seed is not None else ""
            rep.explanation.append(f"a self-check trains once; `grader grade` trains {graded.runs} time(s) with the "
                                   f"same seed{other} and compares the runs (same-seed agreement is not estimated "
                                   "here)")
        elif same_seed_runs < 2:
            rep.explanation.append("the task trains once (reproducibility.runs: 1): nothing to compare")
    else:
        pairs = [agreement(base.labels, o.labels or []) for o in others]
        rep.prediction_agreement = round(min(pairs), 4)
        diffs: dict[str, float] = {}
        for name, value in base.run.metrics.items():
            values = [o.run.metrics.get(name) for o in others]
            if value is not None and all(v is not None for v in values):
                diffs[name] = round(max(abs(value - v) for v in values if v is not None), 6)
        rep.metric_diffs = diffs
        rep.max_metric_diff = max(diffs.values()) if diffs else None
        if base.artifacts is not None and all(o.artifacts is not None for o in others):
            changed = sorted({f for o in others for f in differing_files(base.artifacts, o.artifacts)})  # type: ignore[arg-type]
            rep.artifacts_identical = not changed
            rep.differing_artifacts = changed
        _explain_same_seed(rep, base, others)
    seeded = [r for r in records if r.run.kind == "other_seed" and r.run.ok and r.labels is not None]
    if seeded:
        group = [base, *seeded]
        spread = {}
        for name in base.run.metrics:
            values = [g.run.metrics.get(name) for g in group]
            if all(v is not None for v in values):
                spread[name] = round(max(values) - min(values), 6)  # type: ignore[type-var,operator]
        rep.seed_check = SeedCheck(seeds=[g.run.seed for g in group], metric_spread=spread,
                                   max_spread=max(spread.values()) if spread else None,
                                   prediction_agreement=round(min(agreement(base.labels, s.labels or [])
                                                                  for s in seeded), 4))
        rep.explanation.append(
            f"across seeds {', '.join(str(s) for s in rep.seed_check.seeds)} the metrics move by at most "
            f"{rep.seed_check.max_spread}: a large spread means the score owes much to a lucky seed")
    return rep


def _explain_same_seed(rep: Reproducibility, base: RunRecord, others: Sequence[RunRecord]) -> None:
    n = len(base.labels or [])
    agree = rep.prediction_agreement
    if agree is not None and agree < 1:
        differ = round((1 - agree) * n)
        what = f"; the artifacts that differ: {', '.join(rep.differing_artifacts[:10])}" \
            if rep.differing_artifacts else ""
        rep.explanation.append(
            f"NOT reproducible: {len(others) + 1} trainings with the same GRADER_SEED ({base.run.seed}) gave different "
            f"predictions on about {differ} of {n} hidden-test rows (agreement {agree}), so training depends on "
            f"something besides the code, the data and the seed{what}. To fix: {SEED_HINT}.")
    elif rep.artifacts_identical is False:
        rep.explanation.append(
            "reproducible predictions, but the artifacts' bytes differ between trainings "
            f"({', '.join(rep.differing_artifacts[:10])}): usually timestamps or object ids in the saved file, "
            "harmless for the predictions, though a byte-identical model is easier to audit")
    elif agree == 1:
        same = " and byte-identical artifacts" if rep.artifacts_identical else ""
        rep.explanation.append(f"reproducible: {len(others) + 1} trainings with the same seed gave identical "
                               f"predictions{same}")
