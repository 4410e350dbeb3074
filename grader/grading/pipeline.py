"""The grading pipeline: stage, validate, then train in a sandbox and predict in a fresh one, as many
times as the task's reproducibility check asks; score, time and compare on the host.

The first run is the one that is scored and timed; the others (same seed, then optionally another
seed) only say whether the result is reproducible. Work that does not depend on each other runs
side by side where the host's cores allow (the trainings, the other runs, the Dockerfile build,
opening the MLflow store), except the timed prediction, which always runs alone (see
:meth:`Grader._execute`). Every per-submission problem ends as a ``failures`` entry of a report;
only a bug in the grader itself raises. The report is written once, on every path, including Ctrl-C.
"""

from __future__ import annotations

import contextlib
import math
import platform
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np

from grader import rubric
from grader.data import splits, twins
from grader.data.checksums import verify_data
from grader.data.public import public_folder
from grader.data.splits import Split, write_inputs
from grader.errors import GraderError, SubmissionError
from grader.evaluate import integrity, latency, reproducibility, scoring, uncertainty
from grader.evaluate.failures import classify
from grader.evaluate.reproducibility import RunRecord
from grader.grading import selfcheck, workers
from grader.grading.prediction import PredictionRun, run_prediction
from grader.integrations.mlflow import LoggedRun, Tracking, finish_run, open_store, start_run
from grader.report import baseline as baselines
from grader.report.write import write_predictions, write_reports
from grader.rubric import review
from grader.rubric.engine import grade_ahead, settle_report
from grader.sandbox.base import IMAGE_BUILD, Limits, Mount, RunResult, RunSpec, Sandbox
from grader.spec.manifest import Manifest
from grader.spec.probes import ProbePlan
from grader.spec.report import (
    Environment,
    Failure,
    PhaseRun,
    QueueJob,
    Report,
    Reproducibility,
    SandboxInfo,
    SubmissionRef,
    TaskRef,
    TrainingRun,
)
from grader.spec.task import TaskSpec, discover_tasks, load_task, with_overrides
from grader.submission import requirements
from grader.submission.intake import StagedSubmission, stage
from grader.submission.validate import Question, validate
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
                 check: bool = False, tracking: Tracking | None = None, baseline: Path | None = None,
                 latency_lock: bool | workers.MachineLock = True, queue_job: QueueJob | None = None) -> None:
        """``task_overrides`` change sections of every task graded (``{"reproducibility": {"runs": 1}}``).

        ``tracking``: log every grading as an MLflow run there. The store is opened while the
        candidate's code runs and the run is created before the reports are written, so they carry
        its id; the figures and files are logged after.

        ``check``: the candidate's self-check. Predictions are scored on the public validation split
        (the hidden test split is never used), training runs once, and instead of a rubric score the
        report has an estimate (``report.estimate``: the rubric's gates and points on those figures, written
        answers left out) and lists what the candidate can still fix (self-check notes).

        ``baseline``: the report folder of a previous grading of the same task; the report gets the change
        of every figure from it (:mod:`grader.report.baseline`). One of another task, or without
        predictions, is a :class:`UsageError` raised once the submission's task is known.

        ``latency_lock``: the machine-wide lock (:class:`workers.MachineLock`) the timed prediction holds,
        so the timed phases of gradings side by side (``grader batch`` workers, another ``grader grade``)
        never overlap. True: that lock in the cache dir; ``MachineLock(quiet=True)`` also holds it shared
        around every other sandbox run, so none runs beside a timed phase (the figures it restores are in
        ``benchmarks/batch_latency.py``; a timed phase then waits for every training already running, with
        no bound yet, so it is not the default); False only to measure what the lock prevents.

        ``queue_job``: the queue job these gradings are (``grader worker``), recorded in their reports.
        """
        self.sandbox = sandbox
        self.tasks_root = tasks_root
        self.progress = progress or (lambda _msg: None)
        self.seed = seed
        self.task_overrides = dict(task_overrides or {})
        self.check = check
        self.tracking = tracking
        self.baseline = baseline
        self.latency_lock = workers.MachineLock() if latency_lock is True else latency_lock or None
        self.queue_job = queue_job
        self._base: baselines.Baseline | None = None
        if check:
            self.task_overrides.setdefault("reproducibility", {"runs": 1, "other_seed": None})

    # -- public -------------------------------------------------------------------------------------
    def grade(self, submission: Path, *, task_id: str | None = None, out_dir: Path | None = None,
              candidate: str | None = None, origin: str | None = None) -> Report:
        """``origin``: where the submission came from, when ``submission`` is a copy (a queue job's)."""
        started = time.monotonic()
        self._base = None  # loaded against this submission's task
        report = Report(status="error", task=TaskRef(id=task_id or "unknown"),
                        evaluated_on="valid" if self.check else "test",
                        submission=SubmissionRef(path=origin or str(submission), candidate=candidate),
                        started_at=datetime.now(UTC).isoformat(timespec="seconds"))
        report.environment = Environment(grader_version=__version__, host_python=platform.python_version())
        if self.queue_job is not None:
            report.environment.queue = self.queue_job
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
        tracking_log = _Logging(self.tracking) if self.tracking is not None else None
        finished = False  # not when interrupted: the user wants out, not a half-logged run
        logged: LoggedRun | None = None
        try:
            try:
                with tempfile.TemporaryDirectory(prefix="grader-") as tmp:
                    self._grade(Path(submission), task_id, Path(tmp), out_dir, report,
                                beside=[tracking_log.open] if tracking_log else None)
                    report.status = "graded"
            except baselines.BaselineError as exc:  # the command was wrong, not the submission: exit 2
                report.status = "error"
                report.failures.append(Failure(phase="grader", kind="sandbox_error", message=str(exc)))
                raise
            except SubmissionInvalid as exc:
                report.status = "invalid"
                report.failures += [Failure(phase="validate", kind="invalid_submission", message=p)
                                    for p in exc.problems]
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
            finished = True
        finally:
            if report.status != "graded":
                report.passed, report.score, report.rubric, report.estimate = False, 0.0, None, None
            settle_report(report)
            report.duration_s = round(time.monotonic() - started, 3)
            if out_dir is not None:
                review.apply(report, out_dir)  # a re-grade into a reviewed folder keeps its reviews
            if self._base is not None and report.status == "graded":
                baselines.finish(report, self._base)
            try:
                if tracking_log is not None and finished:
                    self.progress("logging to MLflow")
                    logged = tracking_log.start(report)  # first, so that the reports carry the run id
            finally:  # written once, whatever happened (a Ctrl-C while MLflow answers slowly included)
                if out_dir is not None:
                    write_reports(report, out_dir)
        if logged is not None and not finish_run(logged, report, out_dir) and out_dir is not None:
            write_reports(report, out_dir)  # the warning that logging failed
        return report

    # -- steps --------------------------------------------------------------------------------------
    def _grade(self, submission: Path, task_id: str | None, tmp: Path, out_dir: Path | None,
               report: Report, beside: Sequence[Callable[[], object]] | None = None) -> None:
        """``beside``: the grader's own work to do while the candidate's code runs (see :meth:`_execute`)."""
        self.progress("Checking the submission against the contract")
        staged = stage(submission, tmp)
        report.submission = SubmissionRef(candidate=report.submission.candidate, sha256=staged.sha256,
                                          path=report.submission.path, files=staged.files, bytes=staged.bytes)
        known = discover_tasks(self.tasks_root)
        loaded: dict[str, TaskSpec] = {}  # the task, loaded once: for its questions, then for the grading

        def questions(named: str) -> list[Question]:
            """The written questions of the task, as the contract checks ANSWERS.md for them; none when the
            task does not load (its own error follows when the grading loads it)."""
            try:
                loaded[named] = load_task(known[named])
            except GraderError:
                return []
            return [Question(q.id, q.title) for q in loaded[named].rubric_spec().questions()]

        found = validate(staged.root, expected_task=task_id, known_tasks=set(known), runtime=runtime_versions(),
                         questions=questions)
        report.warnings += found.warnings
        if not found.ok:
            # Filed under the task it names, known to this grader or not (its problems say so), so that a
            # cohort lists it beside the others and MLflow files it with them.
            report.task = TaskRef(id=task_id or found.task or "unknown")
            raise SubmissionInvalid(found.problems)
        assert found.manifest is not None
        task = loaded.get(found.manifest.task) or load_task(known[found.manifest.task])
        graded_runs = task.reproducibility  # what `grader grade` would train, before a self-check's override
        if self.task_overrides:
            task = with_overrides(task, self.task_overrides)
            report.environment.task_overrides = self.task_overrides
        report.task = TaskRef(id=task.id, version=task.version)
        verify_data(task)
        self._base = baselines.load(self.baseline, task) if self.baseline is not None else None
        # After validation: an invalid submission is reported as such even with the engine down.
        report.environment.sandbox = SandboxInfo.model_validate(self.sandbox.describe())
        seed = self.seed if self.seed is not None else task.seed
        env = report.environment
        env.seed, env.limits, env.latency_settings = seed, task.limits, task.latency
        env.reproducibility_settings = task.reproducibility

        split: Split = "valid" if self.check else "test"
        # Near-twins and repeated rows for the untimed probe call (test split only; the plan stays here).
        probe_plan = twins.write_probe_inputs(task, split, tmp / "inputs", task.seed) if split == "test" else None
        if split != "test":
            write_inputs(task, split, tmp / "inputs")
        y_true = splits.labels(task, split)
        job = _Job(task=task, staged=staged, manifest=found.manifest, public=public_folder(task, tmp / "public"),
                   inputs=tmp / "inputs", tmp=tmp, out_dir=out_dir, report=report, y_true=y_true, plan=probe_plan)
        plan = [("same_seed", seed)] * task.reproducibility.runs
        if task.reproducibility.other_seed is not None:
            plan.append(("other_seed", task.reproducibility.other_seed))
        runs = [_Run(index=i, of=len(plan), kind=kind, seed=s) for i, (kind, s) in enumerate(plan)]  # type: ignore[arg-type]
        context = rubric.Context(report=report, task=task, submission=staged.root, sandbox=self.sandbox)
        rubric_spec = task.rubric_spec()
        ahead = Future[dict[str, rubric.Outcome]]()
        def build_ahead() -> None:  # the Dockerfile build among them: sandbox work, kept off a timed phase
            with self._shared():
                ahead.set_result(grade_ahead(rubric_spec, context))

        background = [build_ahead]
        if (staged.root / "Dockerfile").is_file() and IMAGE_BUILD in self.sandbox.capabilities:
            self.progress("The Dockerfile is built offline beside the runs")
        done = self._execute(job, runs, background, beside or ())
        records = [record for record, _ in done]
        installed: dict[str, str] | None = None
        reads: dict[str, set[str]] = {"submission": set(), "artifacts": set()}
        for _, prediction in done:
            if prediction is not None:
                resources, got = prediction.events.resources, prediction.events.reads
                installed = installed or (resources.packages if resources else None) or None
                if got is not None:
                    reads["submission"].update(got.submission)
                    reads["artifacts"].update(got.artifacts)
        rep = reproducibility.compare(records, seed=seed, same_seed_runs=task.reproducibility.runs,
                                      graded=graded_runs if self.check else None)
        rep.environment = reproducibility.environment(found.pins, installed, runtime_versions())
        rep.reads_submission_files = sorted(reads["submission"])
        if records[0].run.ok:
            rep.reads_artifacts = bool(reads["artifacts"])
        self._explain_environment(rep, report)
        report.reproducibility = rep
        report.integrity = integrity.check(task, report, job.probes.get(0))
        if ahead.done():  # a failure ahead (a bug) leaves those criteria to be graded here, as the others
            context.ready = ahead.result()
        if self.check:
            self.progress("Estimating the rubric on the public validation split")
            report.estimate = selfcheck.estimate(rubric_spec, context)
            report.self_check = selfcheck.notes(rubric_spec, context, report.estimate)
            return
        self.progress(f"Scoring with the {task.rubric.name} rubric")
        report.rubric = rubric.grade(rubric_spec, context)

    def _execute(self, job: _Job, runs: list[_Run], background: Sequence[Callable[[], object]],
                 beside: Sequence[Callable[[], object]]) -> list[tuple[RunRecord, PredictionRun | None]]:
        """Every run of the plan, side by side where the host's cores allow; the outcomes in plan order.

        Run 1 trains while runs 2..k train beside it (k: how many runs of the task's ``cpus`` fit in
        the cores); its prediction, the timed one, runs alone; then the other runs finish side by side
        while run 1 is scored and its figures drawn. ``background`` (work of the sandbox: the
        Dockerfile build) runs beside the trainings when they leave a core free, else beside the
        other runs; ``beside`` (the grader's own: opening the MLflow store, mostly importing) starts
        at once, beside the trainings. Neither ever runs beside the timed phase. The report is
        written to from this thread only, in plan order, as if the runs had gone one by one.
        """
        timed = job.task.latency.enabled
        fits = workers.slots(job.task.limits.cpus)
        slots = min(len(runs), fits)
        pool = workers.Pool(slots, "sandbox") if len(runs) > 1 else None
        side = workers.Pool(len(background) + len(beside) + 1, "background")
        started: list[Future[object]] = [side.submit(fn) for fn in beside]
        done: list[tuple[RunRecord, PredictionRun | None]] = []
        early = not timed or slots < fits  # a core free beside the trainings, or no timed phase to keep clear
        try:
            if early:
                started += [side.submit(fn) for fn in background]
            # Runs 2..k train beside run 1, which trains in this thread (signals reach a run here).
            trained = {r.index: pool.submit(self._train_box, job, r) for r in runs[1:slots]} if pool else {}
            first, limit = runs[0], phase_limits(job.task, "train").timeout_s
            self.progress(f"training runs 1-{slots} of {len(runs)} side by side in the {self.sandbox.name} sandbox "
                          f"(limit {limit:g} s each)" if trained else
                          f"{first.title}: training in the {self.sandbox.name} sandbox (limit {limit:g} s)")
            record = self._trained(job, first, self._train_box(job, first))
            prediction, checked = None, None
            if record.run.failure is None:
                if timed:  # nothing else of this grading runs while the latency is measured
                    workers.wait([*trained.values(), *started])
                self.progress(self._predicting(job, first))
                prediction = self._predict_box(job, first)
                checked = self._checked(job, prediction)
            rest = runs[1:] if checked is not None and checked.labels is not None else []
            if pool and not rest:  # the submission failed outright: repeating it tells nothing more
                pool.stop(wait=True)
            if not early:
                started += [side.submit(fn) for fn in background]
            # The other runs start before run 1 is scored (scoring is the host's work, not theirs).
            finishing = {r.index: pool.submit(self._finish_box, job, r, trained.get(r.index))
                         for r in rest} if pool else {}  # more than one run, or no rest
            if rest:
                self.progress(f"{'runs 2-' if len(rest) > 1 else 'run '}{len(runs)} of {len(runs)}: the "
                              "reproducibility check" + (", side by side" if len(rest) > 1 < slots else ""))
            if prediction is not None:
                self._predicted(job, first, record, prediction, checked)
            done.append((record, prediction))
            if rest and job.out_dir is not None:
                started.append(side.submit(_render_ahead, job.report))
            for r in rest:
                result, predicted = finishing[r.index].result()
                record = self._trained(job, r, result)
                if predicted is not None:
                    self._predicted(job, r, record, predicted, self._checked(job, predicted))
                done.append((record, predicted))
            workers.wait(started)
            return done
        except Exception:
            if pool:  # nothing of this grading may outlive it (its files are about to go)
                pool.stop(wait=True)
            workers.wait(started)
            raise
        except BaseException:
            if pool:  # interrupted: the user wants out; closing the sandbox ends what still runs
                pool.stop(wait=False)
            raise
        finally:
            if pool:
                pool.close()
            side.close()

    # -- one run: the sandbox's part (any thread), then what the report says (main thread) ---------
    def _train_box(self, job: _Job, run: _Run) -> RunResult:
        work = job.tmp / f"run{run.index + 1}"
        work.mkdir()
        spec = RunSpec(
            argv=job.manifest.train_argv, workdir="/workspace", label=f"train{run.suffix}",
            limits=phase_limits(job.task, "train"),
            env={**sandbox_env(job.task, run.seed), "GRADER_DATA_DIR": "/data"},
            mounts=[Mount("/workspace", job.staged.root), Mount("/data", job.public),
                    Mount("/artifacts", writable=True, size_mb=job.task.limits.artifacts_mb,
                          collect_to=work / "artifacts")],
        )
        with self._shared():
            return self.sandbox.run(spec)

    def _shared(self, *, timed: bool = False) -> contextlib.AbstractContextManager[None]:
        """What a sandbox run holds of the machine lock: the timed prediction, the lock itself; any other
        run, its shared side (which only a quiet lock has)."""
        if self.latency_lock is None:
            return contextlib.nullcontext()
        return self.latency_lock.timed() if timed else self.latency_lock.shared()

    def _train_failure(self, job: _Job, result: RunResult) -> Failure | None:
        limits = phase_limits(job.task, "train")
        return classify("train", result, limits, limits.timeout_s, job.task.limits.artifacts_mb)

    def _predict_box(self, job: _Job, run: _Run) -> PredictionRun:
        work = job.tmp / f"run{run.index + 1}"
        artifacts = work / "artifacts"
        artifacts.mkdir(exist_ok=True)
        with self._shared(timed=run.index == 0 and job.task.latency.enabled):
            return self._run_prediction(job, run, work, artifacts)

    def _run_prediction(self, job: _Job, run: _Run, work: Path, artifacts: Path) -> PredictionRun:
        return run_prediction(
            self.sandbox, job.task, workspace=job.staged.root, artifacts=artifacts, inputs=job.inputs,
            entry=job.manifest.predict, env=sandbox_env(job.task, run.seed), limits=phase_limits(job.task, "predict"),
            work=work, label=f"predict{run.suffix}", seed=run.seed, measure_latency=run.index == 0)

    def _finish_box(self, job: _Job, run: _Run,
                    trained: Future[RunResult] | None) -> tuple[RunResult, PredictionRun | None]:
        """A repeated run's training (unless it ran already) and, when it did not fail, its prediction."""
        result = trained.result() if trained is not None else self._train_box(job, run)
        return result, None if self._train_failure(job, result) else self._predict_box(job, run)

    def _predicting(self, job: _Job, run: _Run) -> str:
        where = "public validation" if self.check else "hidden test"
        return (f"{run.title}: predicting on the {len(job.y_true)} {where} items in a fresh sandbox"
                + (" and timing it" if run.index == 0 and job.task.latency.enabled else ""))

    def _trained(self, job: _Job, run: _Run, result: RunResult) -> RunRecord:
        report = job.report
        record = RunRecord(TrainingRun(run=run.index + 1, seed=run.seed, kind=run.kind, ok=False))
        self._record(f"train{run.suffix}", result, job.out_dir, report)
        record.run.train_s = round(result.duration_s, 3)
        failure = self._train_failure(job, result)
        if failure:
            record.run.failure = failure.message
            self._fail(report, run, failure)
            return record
        artifacts = job.tmp / f"run{run.index + 1}" / "artifacts"
        artifacts.mkdir(exist_ok=True)
        record.artifacts = reproducibility.digest(artifacts)
        record.run.artifacts_sha256 = record.artifacts.sha256
        record.run.artifacts_files = len(record.artifacts.files)
        record.run.artifacts_bytes = record.artifacts.bytes
        if run.index == 0 and not record.artifacts.files:
            report.warnings.append("training left /artifacts empty: the model should be saved there, "
                                   "since only /artifacts survives into the prediction phase")
        return record

    @staticmethod
    def _checked(job: _Job, prediction: PredictionRun) -> scoring.Checked | None:
        """The predictions of a run whose sandbox did not fail, checked against the contract."""
        if prediction.failure:
            return None
        return scoring.check(prediction.reply or {}, len(job.y_true), job.task.classes)

    def _predicted(self, job: _Job, run: _Run, record: RunRecord, prediction: PredictionRun,
                   checked: scoring.Checked | None) -> None:
        task, report, y_true, out_dir = job.task, job.report, job.y_true, job.out_dir
        measure = run.index == 0
        self._record(f"predict{run.suffix}", prediction.result, out_dir, report)
        record.run.predict_s = round(prediction.result.duration_s, 3)
        if prediction.failure:
            record.run.failure = prediction.failure.message
            self._fail(report, run, prediction.failure)
            return
        assert checked is not None  # checked whenever the sandbox did not fail
        for problem in checked.problems + checked.proba_problems:
            self._fail(report, run, Failure(phase="predict", kind="invalid_output", message=problem))
        if measure and task.latency.enabled:
            report.latency = latency.build(
                prediction.events, task.latency.model_dump(), sandbox_peak_mb=prediction.result.peak_memory_mb,
                batch_labels=None if checked.labels is None else checked.labels.tolist(),
                inputs="validation" if self.check else "hidden-test")
        if checked.labels is None:
            record.run.failure = "; ".join(checked.problems)
            return
        if run.index == 0 and job.plan is not None:  # judged apart, never part of a figure
            answers = integrity.probe_answers(job.plan, checked, prediction.probe_reply, y_true, task.classes)
            if answers is not None:
                job.probes[0] = answers
        metrics, matrix = scoring.score(task, y_true, checked)
        record.run.metrics, record.run.ok = metrics, True
        record.labels = [str(x) for x in checked.labels]
        if run.index == 0:
            report.metrics, report.confusion_matrix = metrics, matrix
            outcome = scoring.outcome_of(task, y_true, checked)
            report.metrics_ci = uncertainty.intervals(outcome, task.metrics)
            report.calibration = uncertainty.calibration(outcome)
            if self._base is not None:
                report.baseline = baselines.versus(self._base, outcome, task.metrics)
            report.per_class = scoring.per_class(task, y_true, checked)
            report.curves = scoring.pr_curves(task, y_true, checked)
            if out_dir is not None:
                write_predictions(out_dir, checked.labels, checked.proba, task.classes)

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


class _Logging:
    """One grading's MLflow logging: the store is opened beside the sandbox runs (:meth:`open`, a
    background job), the run is created before the reports are written (:meth:`start`)."""

    def __init__(self, tracking: Tracking) -> None:
        self.tracking = tracking
        self.opened: Future[Exception | None] = Future()

    def open(self) -> None:
        if self.opened.set_running_or_notify_cancel():
            self.opened.set_result(open_store(self.tracking))

    def start(self, report: Report) -> LoggedRun | None:
        # Not opened beside the runs (an invalid submission, a failed first run): open it now.
        failed = self.opened.result() if not self.opened.cancel() else open_store(self.tracking)
        return start_run(report, self.tracking, failed=failed)


@dataclass(frozen=True)
class _Job:
    """What every run of one grading shares."""

    task: TaskSpec
    staged: StagedSubmission
    manifest: Manifest
    #: ``/data`` of the trainings, and the prediction inputs (for the timer).
    public: Path
    inputs: Path
    tmp: Path
    out_dir: Path | None
    report: Report
    y_true: np.ndarray
    #: The probe call's rows (host only), and what run 1 answered on them, for the integrity checks.
    plan: ProbePlan | None = None
    probes: dict[int, integrity.ProbeAnswers] = field(default_factory=dict)


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


def _render_ahead(report: Report) -> None:
    """Load the report's renderers and draw its figures (final once run 1 is scored) while the
    other runs go on, so that writing the reports at the end only assembles them."""
    import importlib

    from grader.report import plots
    from grader.report.write import RENDERERS

    for module in RENDERERS.values():
        importlib.import_module(module)
    plots.prerender(report)


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
