"""The grading pipeline: stage, validate, then train in a sandbox and predict in a fresh one, as many
times as the task's reproducibility check asks; score, time and compare on the host.

The first run is the one that is scored and timed; the others (same seed, then optionally another
seed) only say whether the result is reproducible. Every per-submission problem ends as a
``failures`` entry of a report; only a bug in the grader itself raises. The report is written on
every path, including Ctrl-C.
"""

from __future__ import annotations

import json
import math
import platform
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from grader import rubric
from grader.data import splits
from grader.data.files import sha256_file
from grader.data.splits import Split, write_inputs
from grader.errors import GraderError, SpecError, SubmissionError
from grader.evaluate import latency, reproducibility, scoring
from grader.evaluate.failures import classify
from grader.evaluate.reproducibility import RunRecord
from grader.grading import selfcheck
from grader.grading.prediction import PredictionRun, run_prediction
from grader.integrations.mlflow import Tracking, log_grading
from grader.report.model import Failure, PhaseRun, Report, Reproducibility, SubmissionRef, TaskRef, TrainingRun
from grader.report.write import write_reports
from grader.rubric import review
from grader.rubric.engine import settle_report
from grader.sandbox.base import Limits, Mount, RunResult, RunSpec, Sandbox
from grader.spec.manifest import Manifest
from grader.spec.task import TaskSpec, discover_tasks, load_task, with_overrides
from grader.submission import requirements
from grader.submission.intake import StagedSubmission, stage
from grader.submission.validate import validate
from grader.version import __version__

Progress = Callable[[str], None]


class SubmissionInvalid(SubmissionError):
    """Carries every contract violation found, not just the first."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), "see docs/contract.md for the submission contract")
        self.problems = problems


def runtime_versions() -> dict[str, str] | None:
    """The sandbox runtime's package versions, from the lock the image is built from."""
    from grader.sandbox.docker.image import LOCK_FILE

    return requirements.read_lock(LOCK_FILE) if LOCK_FILE.is_file() else None


def verify_data(task: TaskSpec) -> None:
    """Refuse to grade on data that is not what the task pins: scores would be meaningless."""
    for split in ("train", "valid", "test"):
        spec = getattr(task.data, split)
        path = task.data_path(split)
        if not path.is_file():
            raise SpecError(f"task {task.id}: data file {spec.path} is missing", "restore the task folder")
        if sha256_file(path) != spec.sha256:
            raise SpecError(f"task {task.id}: {spec.path} does not match its sha256 in task.yaml",
                            "the data file was changed; restore it or re-run the task's data script")


def phase_limits(task: TaskSpec, phase: str) -> Limits:
    lim = task.limits
    timeout = lim.train_timeout_s if phase == "train" else lim.predict_timeout_s
    return Limits(timeout_s=timeout, memory_mb=lim.memory_mb, cpus=lim.cpus, pids=lim.pids, tmp_mb=lim.tmp_mb,
                  file_size_mb=lim.file_size_mb, open_files=lim.open_files)


def sandbox_env(task: TaskSpec, seed: int) -> dict[str, str]:
    threads = str(max(1, math.floor(task.limits.cpus)))
    return {
        "GRADER_TASK": task.id, "GRADER_SEED": str(seed), "PYTHONHASHSEED": str(seed),
        "GRADER_ARTIFACTS_DIR": "/artifacts",
        # The CPU quota does not change what the code sees as its core count: keep pools at the quota.
        "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
    }


class Grader:
    """Grades submissions with one sandbox backend. Reusable across a batch."""

    def __init__(self, sandbox: Sandbox, *, tasks_root: Path | None = None, progress: Progress | None = None,
                 seed: int | None = None, task_overrides: Mapping[str, object] | None = None,
                 check: bool = False, tracking: Tracking | None = None) -> None:
        """``task_overrides`` change sections of every task graded (``{"reproducibility": {"runs": 1}}``).

        ``tracking``: log every grading as an MLflow run there (after its reports are written).

        ``check``: the candidate's self-check. Predictions are scored on the public validation split
        (the hidden test split is never used), training runs once, and instead of a rubric score the
        report lists what the candidate can still fix (self-check notes).
        """
        self.sandbox = sandbox
        self.tasks_root = tasks_root
        self.progress = progress or (lambda _msg: None)
        self.seed = seed
        self.task_overrides = dict(task_overrides or {})
        self.check = check
        self.tracking = tracking
        if check:
            self.task_overrides.setdefault("reproducibility", {"runs": 1, "other_seed": None})

    # -- public -------------------------------------------------------------------------------------
    def grade(self, submission: Path, *, task_id: str | None = None, out_dir: Path | None = None,
              candidate: str | None = None) -> Report:
        started = time.monotonic()
        report = Report(status="error", task=TaskRef(id=task_id or "unknown"),
                        evaluated_on="valid" if self.check else "test",
                        submission=SubmissionRef(path=str(submission), candidate=candidate),
                        started_at=datetime.now(UTC).isoformat(timespec="seconds"))
        report.environment = {"grader_version": __version__, "host_python": platform.python_version()}
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
        try:
            with tempfile.TemporaryDirectory(prefix="grader-") as tmp:
                self._grade(Path(submission), task_id, Path(tmp), out_dir, report)
                report.status = "graded"
        except SubmissionInvalid as exc:
            report.status = "invalid"
            report.failures += [Failure(phase="validate", kind="invalid_submission", message=p) for p in exc.problems]
        except SubmissionError as exc:
            report.status = "invalid"
            report.failures.append(Failure(phase="validate", kind="invalid_submission", message=str(exc)))
        except GraderError as exc:
            report.status = "error"
            report.failures.append(Failure(phase="grader", kind="sandbox_error", message=str(exc)))
        except KeyboardInterrupt:
            report.status = "error"
            report.failures.append(Failure(phase="grader", kind="sandbox_error",
                                           message="grading was interrupted (Ctrl-C) before it finished"))
            raise
        except Exception as exc:  # noqa: BLE001 - a grader bug must still produce a report
            report.status = "error"
            report.failures.append(Failure(phase="grader", kind="sandbox_error",
                                           message=f"internal grader error: {type(exc).__name__}: {exc}",
                                           detail=traceback.format_exc(limit=8)))
        finally:
            if report.status != "graded":
                report.passed, report.score, report.rubric = False, 0.0, None
            settle_report(report)
            report.duration_s = round(time.monotonic() - started, 3)
            if out_dir is not None:
                review.apply(report, out_dir)  # a re-grade into a reviewed folder keeps its reviews
                write_reports(report, out_dir)
        if self.tracking is not None:  # not when interrupted: the user wants out, not a half-logged run
            self.progress("logging to MLflow")
            log_grading(report, out_dir, self.tracking)
            if out_dir is not None:  # the run id, or the warning that logging failed
                write_reports(report, out_dir)
        return report

    # -- steps --------------------------------------------------------------------------------------
    def _grade(self, submission: Path, task_id: str | None, tmp: Path, out_dir: Path | None,
               report: Report) -> None:
        self.progress("Checking the submission against the contract")
        staged = stage(submission, tmp)
        report.submission = SubmissionRef(candidate=report.submission.candidate, sha256=staged.sha256,
                                          path=str(submission), files=staged.files, bytes=staged.bytes)
        known = discover_tasks(self.tasks_root)
        found = validate(staged.root, expected_task=task_id, known_tasks=set(known), runtime=runtime_versions())
        report.warnings += found.warnings
        if not found.ok:
            raise SubmissionInvalid(found.problems)
        assert found.manifest is not None
        task = load_task(known[found.manifest.task])
        if self.task_overrides:
            task = with_overrides(task, self.task_overrides)
            report.environment["task_overrides"] = self.task_overrides
        report.task = TaskRef(id=task.id, version=task.version)
        verify_data(task)
        # After validation: an invalid submission is reported as such even with the engine down.
        report.environment["sandbox"] = self.sandbox.describe()
        seed = self.seed if self.seed is not None else task.seed
        report.environment.update({"seed": seed, "limits": task.limits.model_dump(),
                                   "latency_settings": task.latency.model_dump(),
                                   "reproducibility_settings": task.reproducibility.model_dump()})

        split: Split = "valid" if self.check else "test"
        write_inputs(task, split, tmp / "inputs")
        y_true = splits.labels(task, split)
        public = self._public_data(task, tmp)
        same = task.reproducibility.runs
        plan = [("same_seed", seed)] * same
        if task.reproducibility.other_seed is not None:
            plan.append(("other_seed", task.reproducibility.other_seed))
        records: list[RunRecord] = []
        installed: dict[str, str] | None = None
        reads: dict[str, set[str]] = {"submission": set(), "artifacts": set()}
        for index, (kind, run_seed) in enumerate(plan):
            run = _Run(index=index, of=len(plan), kind=kind, seed=run_seed)  # type: ignore[arg-type]
            record, prediction = self._train_and_predict(task, staged, found.manifest, run, public, tmp, out_dir,
                                                         report, y_true)
            records.append(record)
            if prediction is not None:
                installed = installed or (prediction.events.get("resources") or {}).get("packages")
                got = prediction.events.get("reads") or {}
                for key in reads:
                    reads[key].update(str(f) for f in got.get(key) or [])
            if index == 0 and not record.run.ok:
                break  # the submission failed outright: repeating it tells nothing more
        rep = reproducibility.compare(records, seed=seed, same_seed_runs=same)
        rep.environment = reproducibility.environment(found.pins, installed, runtime_versions())
        rep.reads_submission_files = sorted(reads["submission"])
        if records[0].run.ok:
            rep.reads_artifacts = bool(reads["artifacts"])
        self._explain_environment(rep, report)
        report.reproducibility = rep
        context = rubric.Context(report=report, task=task, submission=staged.root, sandbox=self.sandbox)
        building = " (building the Dockerfile offline)" if (staged.root / "Dockerfile").is_file() else ""
        if self.check:
            self.progress("Running the rubric's checks" + building)
            report.self_check = selfcheck.notes(task.rubric_spec(), context)
            return
        self.progress(f"Scoring with the {task.rubric.name} rubric{building}")
        report.rubric = rubric.grade(task.rubric_spec(), context)

    def _public_data(self, task: TaskSpec, tmp: Path) -> Path:
        """``/data`` of the training phase: task.json and the public splits, exactly what candidates get."""
        public = tmp / "public"
        public.mkdir()
        (public / "task.json").write_text(json.dumps(task.public_info, indent=2) + "\n", encoding="utf-8")
        for split in ("train", "valid"):
            shutil.copyfile(task.data_path(split), public / Path(getattr(task.data, split).path).name)
        return public

    def _record(self, phase: str, result: RunResult, out_dir: Path | None, report: Report) -> None:
        report.phases[phase] = PhaseRun(exit_code=result.exit_code, duration_s=round(result.duration_s, 3),
                                        timed_out=result.timed_out, oom_killed=result.oom_killed,
                                        pids_exhausted=result.pids_exhausted, peak_memory_mb=result.peak_memory_mb,
                                        details=result.details)
        if out_dir is not None:
            logs = out_dir / "logs"
            logs.mkdir(exist_ok=True)
            (logs / f"{phase}.stdout.log").write_text(result.stdout, encoding="utf-8")
            (logs / f"{phase}.stderr.log").write_text(result.stderr, encoding="utf-8")
            if result.companion is not None and (result.companion.stderr or result.companion.stdout):
                (logs / f"{phase}.timer.log").write_text(result.companion.stdout + result.companion.stderr,
                                                         encoding="utf-8")

    def _fail(self, report: Report, run: _Run, failure: Failure) -> None:
        """Record a run's failure; failures of repeated runs say which run they come from."""
        if run.index:
            failure = failure.model_copy(update={"message": f"{run.title}: {failure.message}"})
        report.failures.append(failure)

    def _train_and_predict(self, task: TaskSpec, staged: StagedSubmission, manifest: Manifest, run: _Run,
                           public: Path, tmp: Path, out_dir: Path | None, report: Report,
                           y_true: np.ndarray) -> tuple[RunRecord, PredictionRun | None]:
        record = RunRecord(TrainingRun(run=run.index + 1, seed=run.seed, kind=run.kind, ok=False))
        work = tmp / f"run{run.index + 1}"
        work.mkdir()
        artifacts = work / "artifacts"
        limits = phase_limits(task, "train")
        spec = RunSpec(
            argv=manifest.train_argv, workdir="/workspace", label=f"train{run.suffix}", limits=limits,
            env={**sandbox_env(task, run.seed), "GRADER_DATA_DIR": "/data"},
            mounts=[Mount("/workspace", staged.root), Mount("/data", public),
                    Mount("/artifacts", writable=True, size_mb=task.limits.artifacts_mb, collect_to=artifacts)],
        )
        self.progress(f"{run.title}: training in the {self.sandbox.name} sandbox (limit {limits.timeout_s:g} s)")
        result = self.sandbox.run(spec)
        self._record(f"train{run.suffix}", result, out_dir, report)
        record.run.train_s = round(result.duration_s, 3)
        failure = classify("train", result, limits, limits.timeout_s, task.limits.artifacts_mb)
        if failure:
            record.run.failure = failure.message
            self._fail(report, run, failure)
            return record, None
        artifacts.mkdir(exist_ok=True)
        record.artifacts = reproducibility.digest(artifacts)
        record.run.artifacts_sha256 = record.artifacts.sha256
        record.run.artifacts_files = len(record.artifacts.files)
        record.run.artifacts_bytes = record.artifacts.bytes
        if run.index == 0 and not record.artifacts.files:
            report.warnings.append("training left /artifacts empty: the model should be saved there, "
                                   "since only /artifacts survives into the prediction phase")

        measure = run.index == 0
        limits = phase_limits(task, "predict")
        where = "public validation" if self.check else "hidden test"
        self.progress(f"{run.title}: predicting on the {len(y_true)} {where} items in a fresh sandbox"
                      + (" and timing it" if measure and task.latency.enabled else ""))
        prediction = run_prediction(
            self.sandbox, task, workspace=staged.root, artifacts=artifacts, inputs=tmp / "inputs",
            entry=manifest.predict, env=sandbox_env(task, run.seed), limits=limits, work=work,
            label=f"predict{run.suffix}", seed=run.seed, measure_latency=measure)
        self._record(f"predict{run.suffix}", prediction.result, out_dir, report)
        record.run.predict_s = round(prediction.result.duration_s, 3)
        if prediction.failure:
            record.run.failure = prediction.failure.message
            self._fail(report, run, prediction.failure)
            return record, prediction

        checked = scoring.check(prediction.reply or {}, len(y_true), task.classes)
        for problem in checked.problems + checked.proba_problems:
            self._fail(report, run, Failure(phase="predict", kind="invalid_output", message=problem))
        if measure and task.latency.enabled:
            report.latency = latency.build(
                prediction.events, task.latency.model_dump(), sandbox_peak_mb=prediction.result.peak_memory_mb,
                batch_labels=None if checked.labels is None else checked.labels.tolist())
        if checked.labels is None:
            record.run.failure = "; ".join(checked.problems)
            return record, prediction
        metrics, matrix = scoring.score(task, y_true, checked)
        record.run.metrics, record.run.ok = metrics, True
        record.labels = [str(x) for x in checked.labels]
        if run.index == 0:
            report.metrics, report.confusion_matrix = metrics, matrix
            report.per_class = scoring.per_class(task, y_true, checked)
            report.curves = scoring.pr_curves(task, y_true, checked)
            if out_dir is not None:
                frame = pd.DataFrame({"prediction": checked.labels})
                if checked.proba is not None:
                    for i, cls in enumerate(task.classes):
                        frame[f"proba_{cls}"] = checked.proba[:, i]
                frame.to_csv(out_dir / "predictions.csv", index_label="row", lineterminator="\n")
        return record, prediction

    @staticmethod
    def _explain_environment(rep: Reproducibility, report: Report) -> None:
        if rep.artifacts_empty:
            rep.explanation.append("training left /artifacts empty, so the prediction phase cannot be using a model "
                                   "trained here")
        if rep.reads_submission_files:
            files = ", ".join(rep.reads_submission_files[:10])
            message = (f"the prediction phase read files shipped in the submission ({files}) rather than only the "
                       "trained artifacts: a model trained elsewhere would be graded instead of the one trained "
                       "here; the model belongs in /artifacts, written by the training command")
            rep.explanation.append(message)
            report.warnings.append(message)
        if rep.reads_artifacts is False and not rep.artifacts_empty:
            rep.explanation.append("the prediction phase never opened a file in /artifacts: its predictions may not "
                                   "come from the model trained here")
        env = rep.environment
        if env is not None and env.mismatches:
            rep.explanation.append(
                "requirements.txt pins versions the runtime does not have: " + ", ".join(
                    f"{m.name}=={m.pinned} (runtime: {m.runtime or 'not installed'})" for m in env.mismatches)
                + "; the code ran with the runtime's versions, so pin those to reproduce it")


@dataclass(frozen=True)
class _Run:
    """One training run of the plan: its position, whether it reuses the seed, and the seed."""

    index: int
    of: int
    kind: Literal["same_seed", "other_seed"]
    seed: int

    @property
    def suffix(self) -> str:
        """Phase-name suffix: none for the first run (``train``), ``-2``... for the others."""
        return "" if self.index == 0 else f"-{self.index + 1}"

    @property
    def title(self) -> str:
        what = "same seed" if self.kind == "same_seed" else "another seed"
        return f"training run {self.index + 1} of {self.of} (seed {self.seed}, {what})"


def grade(submission: Path, *, task_id: str | None = None, sandbox: Sandbox | str = "docker",
          out_dir: Path | None = None, progress: Progress | None = None, seed: int | None = None,
          task_overrides: Mapping[str, object] | None = None, tracking: Tracking | None = None,
          candidate: str | None = None) -> Report:
    """Grade one submission; the convenience entry point of the public API."""
    from grader.sandbox import get_backend

    box = get_backend(sandbox) if isinstance(sandbox, str) else sandbox
    try:
        return Grader(box, progress=progress, seed=seed, task_overrides=task_overrides, tracking=tracking).grade(
            submission, task_id=task_id, out_dir=out_dir, candidate=candidate)
    finally:
        if isinstance(sandbox, str):
            box.close()
