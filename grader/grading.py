"""The grading pipeline: stage, validate, train in a sandbox, predict in a fresh one, score.

Every per-submission problem ends as a ``failures`` entry of a report; only a bug in the
grader itself raises. The report is written on every path, including Ctrl-C.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

import grader
from grader import scoring
from grader.errors import GraderError, SpecError, SubmissionError
from grader.failures import classify
from grader.report.model import Failure, PhaseRun, Report, SubmissionRef, TaskRef
from grader.sandbox.base import Limits, Mount, RunResult, RunSpec, Sandbox
from grader.spec.submission import Manifest
from grader.spec.task import TaskSpec, discover_tasks, load_task
from grader.submission import requirements
from grader.submission.intake import StagedSubmission, stage
from grader.submission.validate import validate

Progress = Callable[[str], None]
HARNESS = Path(__file__).parent / "runtime" / "harness.py"
FEATURES_FILE = "features.csv"
HARNESS_EXIT_MESSAGES = {
    3: "loading the model failed: {entry}('/artifacts') raised an exception.",
    4: "prediction failed: the model's predict(inputs) raised an exception.",
    5: "the prediction harness could not read the inputs (a grader problem).",
}


class SubmissionInvalid(SubmissionError):
    """Carries every contract violation found, not just the first."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), "see docs/contract.md for the submission contract")
        self.problems = problems


def runtime_versions() -> dict[str, str] | None:
    """The sandbox runtime's package versions, from the lock the image is built from."""
    from grader.sandbox.image import LOCK_FILE

    return requirements.read_lock(LOCK_FILE) if LOCK_FILE.is_file() else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_data(task: TaskSpec) -> None:
    """Refuse to grade on data that is not what the task pins: scores would be meaningless."""
    for split in ("train", "valid", "test"):
        spec = getattr(task.data, split)
        path = task.data_path(split)
        if not path.is_file():
            raise SpecError(f"task {task.id}: data file {spec.path} is missing", "restore the task folder")
        if _sha256(path) != spec.sha256:
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
                 seed: int | None = None) -> None:
        self.sandbox = sandbox
        self.tasks_root = tasks_root
        self.progress = progress or (lambda _msg: None)
        self.seed = seed

    # -- public -------------------------------------------------------------------------------------
    def grade(self, submission: Path, *, task_id: str | None = None, out_dir: Path | None = None) -> Report:
        started = time.monotonic()
        report = Report(status="error", task=TaskRef(id=task_id or "unknown"),
                        submission=SubmissionRef(path=str(submission)),
                        started_at=datetime.now(UTC).isoformat(timespec="seconds"))
        report.environment = {"grader_version": grader.__version__, "host_python": platform.python_version()}
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
                report.passed, report.score = False, 0.0
            report.duration_s = round(time.monotonic() - started, 3)
            if out_dir is not None:
                (out_dir / "report.json").write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return report

    # -- steps --------------------------------------------------------------------------------------
    def _grade(self, submission: Path, task_id: str | None, tmp: Path, out_dir: Path | None,
               report: Report) -> None:
        self.progress("Checking the submission against the contract")
        staged = stage(submission, tmp)
        report.submission = SubmissionRef(sha256=staged.sha256, path=str(submission), files=staged.files,
                                          bytes=staged.bytes)
        known = discover_tasks(self.tasks_root)
        found = validate(staged.root, expected_task=task_id, known_tasks=set(known), runtime=runtime_versions())
        report.warnings += found.warnings
        if not found.ok:
            raise SubmissionInvalid(found.problems)
        assert found.manifest is not None
        task = load_task(known[found.manifest.task])
        report.task = TaskRef(id=task.id, version=task.version)
        verify_data(task)
        # After validation: an invalid submission is reported as such even with the engine down.
        report.environment["sandbox"] = self.sandbox.describe()
        seed = self.seed if self.seed is not None else task.seed
        report.environment.update({"seed": seed, "limits": task.limits.model_dump()})
        report.reproducibility = {"runs": 1, "seed": seed, "prediction_agreement": None,
                                  "note": "one training run; agreement between runs needs two or more"}

        artifacts = self._train(task, staged, found.manifest, seed, tmp, out_dir, report)
        if artifacts is None:
            return
        self._predict_and_score(task, staged, found.manifest, seed, artifacts, tmp, out_dir, report)

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

    def _train(self, task: TaskSpec, staged: StagedSubmission, manifest: Manifest, seed: int, tmp: Path,
               out_dir: Path | None, report: Report) -> Path | None:
        public = tmp / "public"
        public.mkdir()
        (public / "task.json").write_text(json.dumps(task.public_info, indent=2) + "\n", encoding="utf-8")
        for split in ("train", "valid"):
            shutil.copyfile(task.data_path(split), public / Path(getattr(task.data, split).path).name)
        artifacts = tmp / "artifacts"
        limits = phase_limits(task, "train")
        spec = RunSpec(
            argv=manifest.train_argv, workdir="/workspace", label="train", limits=limits,
            env={**sandbox_env(task, seed), "GRADER_DATA_DIR": "/data"},
            mounts=[Mount("/workspace", staged.root), Mount("/data", public),
                    Mount("/artifacts", writable=True, size_mb=task.limits.artifacts_mb, collect_to=artifacts)],
        )
        self.progress(f"Training in the {self.sandbox.name} sandbox (limit {limits.timeout_s:g} s)")
        result = self.sandbox.run(spec)
        self._record("train", result, out_dir, report)
        failure = classify("train", result, limits, limits.timeout_s, task.limits.artifacts_mb)
        if failure:
            report.failures.append(failure)
            return None
        artifacts.mkdir(exist_ok=True)
        if not any(artifacts.rglob("*")):
            report.warnings.append("training left /artifacts empty: the model should be saved there, "
                                   "since only /artifacts survives into the prediction phase")
        return artifacts

    def _predict_and_score(self, task: TaskSpec, staged: StagedSubmission, manifest: Manifest, seed: int,
                           artifacts: Path, tmp: Path, out_dir: Path | None, report: Report) -> None:
        test = pd.read_csv(task.data_path("test"), dtype=str, keep_default_na=False)
        y_true = test[task.label_column].to_numpy(dtype=object)
        inputs = tmp / "inputs"
        inputs.mkdir()
        # Labels are dropped here, on the host: only features enter the sandbox.
        test.drop(columns=[task.label_column]).to_csv(inputs / FEATURES_FILE, index=False, lineterminator="\n")
        harness = tmp / "harness"
        harness.mkdir()
        shutil.copyfile(HARNESS, harness / "harness.py")
        output = tmp / "output"
        limits = phase_limits(task, "predict")
        spec = RunSpec(
            argv=["python", "/grader/harness.py", "--entry", manifest.predict, "--workspace", "/workspace",
                  "--artifacts", "/artifacts", "--inputs", f"/inputs/{FEATURES_FILE}", "--suite", task.suite,
                  "--out", "/output"],
            workdir="/workspace", label="predict", limits=limits, env=sandbox_env(task, seed),
            mounts=[Mount("/workspace", staged.root), Mount("/artifacts", artifacts), Mount("/grader", harness),
                    Mount("/inputs", inputs), Mount("/output", writable=True, size_mb=64, collect_to=output)],
        )
        self.progress(f"Predicting on {len(test)} hidden test rows in a fresh sandbox")
        result = self.sandbox.run(spec)
        self._record("predict", result, out_dir, report)
        crash = HARNESS_EXIT_MESSAGES.get(result.exit_code or 0, "").format(entry=manifest.predict) or None
        failure = classify("predict", result, limits, limits.timeout_s, crash_message=crash)
        if failure:
            report.failures.append(failure)
            return

        self.progress("Checking predictions and scoring on the host")
        payload_file = output / "predictions.json"
        try:
            payload = json.loads(payload_file.read_text(encoding="utf-8"))
            if not isinstance(payload, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            report.failures.append(Failure(phase="predict", kind="invalid_output", message=(
                f"the prediction phase ended without readable predictions ({exc}); the model must return "
                "from predict() normally and must not write to /output or end the process")))
            return
        checked = scoring.check(payload, len(test), task.classes)
        report.failures += [Failure(phase="predict", kind="invalid_output", message=p) for p in checked.problems]
        report.failures += [Failure(phase="predict", kind="invalid_output", message=p) for p in checked.proba_problems]
        report.latency = payload.get("latency") or {}
        if checked.labels is None:
            return
        report.metrics, report.confusion_matrix = scoring.score(task, y_true, checked)
        report.score, report.pass_rule = scoring.apply_pass_rule(task, report.metrics)
        report.passed = not report.failures and all(r.met for r in report.pass_rule)
        if out_dir is not None:
            frame = pd.DataFrame({"prediction": checked.labels})
            if checked.proba is not None:
                for i, cls in enumerate(task.classes):
                    frame[f"proba_{cls}"] = checked.proba[:, i]
            frame.to_csv(out_dir / "predictions.csv", index_label="row", lineterminator="\n")


def grade(submission: Path, *, task_id: str | None = None, sandbox: Sandbox | str = "docker",
          out_dir: Path | None = None, progress: Progress | None = None, seed: int | None = None) -> Report:
    """Grade one submission; the convenience entry point of the public API."""
    from grader.sandbox import get_backend

    box = get_backend(sandbox) if isinstance(sandbox, str) else sandbox
    try:
        return Grader(box, progress=progress, seed=seed).grade(submission, task_id=task_id, out_dir=out_dir)
    finally:
        if isinstance(sandbox, str):
            box.close()
