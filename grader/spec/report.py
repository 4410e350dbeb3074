"""``report.json``: the contract's report (section 4), as a pydantic model with a JSON Schema."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from grader.spec.task import LatencySettings, ReproducibilitySettings, ResourceLimits

Status = Literal["graded", "invalid", "error"]
Phase = Literal["validate", "prepare", "train", "predict", "score", "grader"]
FailureKind = Literal[
    "timeout", "oom", "crash", "invalid_output", "invalid_submission", "limit_exceeded", "sandbox_error"
]
SCHEMA_VERSION: Literal["1"] = "1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _AsRecorded(_Model):
    """A section whose keys are the facts the grader recorded: a field never set is left out of the
    JSON (not written as null), so a grading stopped early writes the few keys it got to."""

    @model_serializer(mode="wrap")
    def _recorded_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if k in self.model_fields_set}


class Failure(_Model):
    """Something that went wrong, written for the candidate to act on."""

    phase: Phase
    kind: FailureKind
    message: str
    #: The tail of the candidate's stderr (or other raw evidence), when there is one.
    detail: str | None = None


class TaskRef(_Model):
    id: str
    version: int | None = None


class SubmissionRef(_Model):
    candidate: str | None = Field(default=None, description="Who submitted it, when the grader was told "
                                                            "(`grader grade --candidate`).")
    sha256: str | None = None
    path: str | None = None
    files: int | None = None
    bytes: int | None = None


class Requirement(_Model):
    rule: str
    value: float | None
    met: bool
    borderline: bool = Field(default=False, description="The bound lies inside the figure's 95% interval: met or "
                                                        "not, the difference is within sampling noise and a person "
                                                        "should decide. `met` still follows the point estimate.")
    interval: list[float] | None = Field(default=None, description="[low, high] of the figure's interval "
                                                                   "(`metrics_ci`), when it has one.")


class MetricInterval(_Model):
    """A figure's confidence interval on the evaluated split: how far it could move by sampling noise alone."""

    low: float
    high: float
    level: float = Field(description="Coverage, 0.95 for a 95% interval.")
    method: str = Field(description="How it was computed: `stratified percentile bootstrap` (resampling rows "
                                    "within each true class, so every resample keeps the split's class counts).")
    resamples: int


class PairedDifference(_Model):
    """The change of a figure from another grading (``value - other``). For a metric, with the interval of
    that change from a paired bootstrap on the same rows (the same resampled rows score both); for other
    figures (score, latency) the change alone."""

    value: float | None = Field(description="The metric here.")
    other: float | None = Field(description="The metric of the other predictions.")
    delta: float | None = Field(description="value - other.")
    low: float | None = None
    high: float | None = None
    level: float = 0.95
    resamples: int = 0
    distinguishable: bool | None = Field(default=None, description="The interval of the change excludes 0: the "
                                                                   "difference is more than sampling noise.")


class LatencyStats(_Model):
    """One latency distribution, in milliseconds; percentiles are nearest-rank (``sorted[floor(n*p)]``)."""

    count: int
    duration_s: float | None = None
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    min_ms: float
    cdf_ms: list[float] = Field(default_factory=list, description="Nearest-rank percentiles 0, 5, 10, ..., 100.")


class BatchThroughput(_Model):
    batch_size: int
    batches: int = 0
    items_per_s: float | None = None
    mean_batch_ms: float | None = None
    repeated_items: int = 0
    note: str | None = None


class FullBatch(_Model):
    """The whole hidden-test input in one call: the predictions that are scored."""

    items: int
    ms: float
    items_per_s: float | None = None


class Latency(_Model):
    """Serving figures of the prediction phase, all timed by the grader's timer, outside the candidate's
    process. The flat ``p*_ms`` fields are single-item queries to the candidate's model; ``floor``
    is the same loop against a grader-owned no-op predictor in the same sandbox and run."""

    measured: bool = False
    count: int | None = None
    duration_s: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None
    min_ms: float | None = None
    cdf_ms: list[float] = Field(default_factory=list, description="Nearest-rank percentiles 0, 5, ..., 100.")
    stopped_by: str | None = Field(default=None, description="min_queries_and_duration, or max_duration.")
    cold_start_ms: float | None = Field(default=None, description="Importing the module and calling load().")
    floor: LatencyStats | None = None
    batches: list[BatchThroughput] = Field(default_factory=list)
    full_batch: FullBatch | None = None
    peak_memory_mb: float | None = Field(
        default=None, description="Peak resident memory (VmHWM) of the model's process, shared libraries included.")
    sandbox_peak_memory_mb: float | None = Field(
        default=None, description="Peak memory charged to the prediction sandbox's cgroup, the grader's timer "
                                  "included; library pages already cached by earlier sandboxes are not charged again.")
    timer_memory_mb: float | None = Field(default=None, description="The grader's timer's own peak memory.")
    repeated_items: int = Field(default=0, description="Timed queries whose input had been sent before.")
    single_batch_agreement: float | None = Field(
        default=None, description="Share of single-item answers equal to the batch prediction of the same row.")
    clock: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


class TrainingRun(_Model):
    """One training (and the prediction with its model) of the reproducibility check."""

    run: int
    seed: int
    kind: Literal["same_seed", "other_seed"] = "same_seed"
    ok: bool
    train_s: float | None = None
    predict_s: float | None = None
    artifacts_sha256: str | None = None
    artifacts_files: int = 0
    artifacts_bytes: int = 0
    metrics: dict[str, float | None] = Field(default_factory=dict)
    failure: str | None = None


class PinMismatch(_Model):
    name: str
    pinned: str
    runtime: str | None = Field(description="The version in the runtime image; null when it is not installed.")


class EnvironmentCheck(_Model):
    requirements_pinned: bool = True
    unpinned: list[str] = Field(default_factory=list)
    mismatches: list[PinMismatch] = Field(default_factory=list)
    checked_against: str = Field(default="", description="runtime image (its installed packages) or the lock.")


class SeedCheck(_Model):
    seeds: list[int]
    metric_spread: dict[str, float] = Field(default_factory=dict, description="max - min across the seeds.")
    max_spread: float | None = None
    prediction_agreement: float | None = None


class Reproducibility(_Model):
    runs: int = 0
    seed: int | None = None
    prediction_agreement: float | None = Field(
        default=None, description="Share of identical predictions between same-seed runs (the lowest pair).")
    max_metric_diff: float | None = None
    metric_diffs: dict[str, float] = Field(default_factory=dict)
    artifacts_identical: bool | None = None
    differing_artifacts: list[str] = Field(default_factory=list)
    training_runs: list[TrainingRun] = Field(default_factory=list)
    seed_check: SeedCheck | None = None
    environment: EnvironmentCheck | None = None
    artifacts_empty: bool | None = None
    reads_submission_files: list[str] = Field(default_factory=list)
    reads_artifacts: bool | None = None
    explanation: list[str] = Field(default_factory=list, description="What the figures mean, in plain words.")


class BaselineComparison(_Model):
    """``grader grade --baseline``: every figure against a previous grading of the same task (an earlier
    revision, the main branch), metrics with the paired interval of their change."""

    source: str = Field(description="The baseline's report folder.")
    candidate: str | None = None
    submission_sha256: str | None = None
    started_at: str | None = None
    passed: bool = Field(description="Whether the baseline passed.")
    score: PairedDifference
    metrics: dict[str, PairedDifference] = Field(default_factory=dict)
    figures: dict[str, PairedDifference] = Field(default_factory=dict, description="Latency, reproducibility: "
                                                                                   "the change, no interval.")
    notes: list[str] = Field(default_factory=list)


class Review(_Model):
    """An interviewer's judgement of one criterion, on top of the automatic one."""

    points: float
    note: str
    reviewer: str
    at: str = Field(description="When, ISO 8601 with time zone.")


class KeyPointVerdict(_Model):
    """One grader's verdict on one key point of a written answer."""

    id: str
    verdict: Literal["covered", "partial", "missing", "contradicted"]
    quote: str | None = Field(default=None, description="The answer's words the verdict rests on.")
    reason: str = ""
    quote_found: bool | None = Field(default=None, description="Whether the quote is in the answer (a verdict "
                                                               "quoting words the answer does not have is void).")


class SecondOpinion(_Model):
    """Another grader's view of a written answer (a language model's, when one is configured), shown beside
    the automatic points. It never changes them."""

    grader: str = Field(description="The question grader's registered name.")
    model: str | None = None
    fraction: float | None = Field(description="The share of the points it would give; null: no verdict.")
    key_points: list[KeyPointVerdict] = Field(default_factory=list)
    note: str = Field(default="", description="Why there is no verdict, or what to be wary of.")
    cached: bool = False


class CriterionResult(_Model):
    id: str
    kind: str
    title: str
    points: float = Field(description="The points that count: the review's when there is one, else automatic.")
    max_points: float
    automatic_points: float
    fraction: float | None = Field(description="Share of the points earned automatically; null: not gradable.")
    explanation: str
    evidence: list[str] = Field(default_factory=list)
    needs_review: bool = False
    required: bool = Field(default=False, description="The submission passes only with this criterion's full points.")
    gate: Requirement | None = Field(default=None, description="A figure the submission must reach to pass.")
    review: Review | None = None
    second_opinion: SecondOpinion | None = Field(default=None, description="Written answers: another grader's "
                                                 "verdict, shown beside the automatic one; never counted.")


class SectionResult(_Model):
    id: str
    title: str
    weight: float
    points: float
    max_points: float
    automatic_points: float
    criteria: list[CriterionResult]


class RubricResult(_Model):
    """The explained score: every point of ``score`` comes from one criterion below."""

    id: str
    version: int
    title: str
    pass_mark: float
    total: float
    automatic_total: float
    passed: bool
    automatic_passed: bool
    sections: list[SectionResult]
    needs_review: list[str] = Field(default_factory=list, description="Criteria whose automatic score a person "
                                                                      "should check (not yet reviewed).")
    not_passed_because: list[str] = Field(default_factory=list)
    reviews_not_applied: list[str] = Field(default_factory=list)


class PRCurve(_Model):
    """Precision against recall of one class as the decision threshold on its predict_proba column moves
    (binary: the positive class; multiclass: that class against the rest), and where the submitted labels
    sit on it: the curve shows what another threshold would have traded."""

    label: str = Field(description="The class scored as positive.")
    support: int = Field(description="Items of this class in the evaluated split.")
    prevalence: float = Field(description="Their share of the split: the precision of a random ranking.")
    average_precision: float
    precision: list[float] = Field(description="At most 200 points, from the lowest threshold (recall 1) to the "
                                               "highest (recall 0).")
    recall: list[float]
    operating_precision: float = Field(description="Precision of the submitted labels for this class.")
    operating_recall: float = Field(description="Recall of the submitted labels for this class.")


IntegrityKind = Literal["implausible_score", "memorised_rows", "order_dependent"]


class IntegrityFlag(_Model):
    """Something about a result a person should look at before trusting it. A flag never fails a submission."""

    kind: IntegrityKind
    severity: Literal["warning", "high"] = Field(description="high: hard to explain without access to the answers.")
    message: str
    evidence: list[str] = Field(default_factory=list, description="The figures behind the flag, in words.")
    figures: dict[str, float] = Field(default_factory=dict, description="The same figures, by name.")
    needs_review: bool = True


class Integrity(_Model):
    """Flags that put a grading in front of a person, with the evidence; the score and verdict are unchanged."""

    flags: list[IntegrityFlag] = Field(default_factory=list)
    checked: list[str] = Field(default_factory=list, description="The checks that ran.")
    notes: list[str] = Field(default_factory=list, description="Checks that could not run, and why.")

    @property
    def needs_review(self) -> bool:
        return any(f.needs_review for f in self.flags)


class ReliabilityBin(_Model):
    """Predictions whose probability fell in ``[low, high)`` (the last bin includes 1): how sure they were
    on average, and how often they were right."""

    low: float
    high: float
    count: int
    mean_predicted: float
    observed: float


class Calibration(_Model):
    """Whether ``predict_proba`` means what it says: of the items given 0.8, are 80% positive?"""

    brier: float = Field(description="Mean squared error of the probabilities; lower is better, 0 is perfect. "
                                     "Binary: of the positive class's column (a constant at the base rate scores "
                                     "rate * (1 - rate)); multiclass: summed over the classes (0 to 2).")
    scored: str = Field(description="What the bins are of: the positive class's probability (binary), or each "
                                    "row's highest probability against whether that class was right (multiclass).")
    bins: list[ReliabilityBin] = Field(default_factory=list, description="Ten equal-width bins; empty ones left out.")
    expected_calibration_error: float = Field(description="Mean gap between `observed` and `mean_predicted`, "
                                                          "weighted by the bins' counts.")


class PhaseRun(_Model):
    """One sandbox run: how it ended and what it cost."""

    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    oom_killed: bool = False
    pids_exhausted: bool = False
    peak_memory_mb: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class SandboxInfo(_AsRecorded):
    """The backend that ran the phases, as it describes itself (``Sandbox.describe()``). Facts only one
    backend has (the local backend's namespaces and uids) are kept as further keys."""

    model_config = ConfigDict(extra="allow")

    backend: str
    isolates: bool
    engine_version: str | None = None
    api_version: str | None = None
    cgroup_version: str | None = None
    storage_driver: str | None = None
    engine_security: list[str] = Field(default_factory=list)
    image: str | None = Field(default=None, description="The runtime image's tag.")
    image_id: str | None = None
    session: str | None = Field(default=None, description="The grader session its containers are labelled with.")
    hardening: list[str] = Field(default_factory=list, description="The isolation in force, one item each.")


class MlflowRun(_Model):
    """Where the grading was logged (``grader grade`` with MLflow on)."""

    tracking_uri: str = Field(description="Without its password.")
    experiment_id: str
    run_id: str


class QueueJob(_Model):
    """The queue job a grading was (``grader worker``): attempt 2 or more means an earlier attempt was lost to
    the infrastructure (a worker that died, an engine that failed), never to the candidate's code."""

    job_id: str
    attempt: int = Field(ge=1)
    attempts_allowed: int = Field(ge=1, description="Attempts the job may take before its error is the result.")
    worker: str = Field(description="The RQ worker that graded it.")
    host: str


class Environment(_AsRecorded):
    """What the grading ran with. Written as the pipeline learns it: a submission found invalid has
    only the grader's own facts, one graded has them all."""

    grader_version: str | None = None
    host_python: str | None = None
    task_overrides: dict[str, Any] | None = Field(
        default=None, description="Task sections changed for this grading (`grader check`, benchmarks).")
    sandbox: SandboxInfo | None = None
    seed: int | None = Field(default=None, description="GRADER_SEED of the scored training run.")
    limits: ResourceLimits | None = None
    latency_settings: LatencySettings | None = None
    reproducibility_settings: ReproducibilitySettings | None = None
    mlflow: MlflowRun | None = None
    queue: QueueJob | None = Field(default=None, description="Set when a `grader worker` graded it from a queue.")


class EstimatedGate(Requirement):
    """A figure gate of the rubric as the public validation split has it: what passing would require of it."""

    criterion: str = Field(description="The rubric criterion the gate belongs to.")
    figure: str
    bound: float = Field(description="The value the figure must reach (`>=` when higher is better, else `<=`).")
    message: str = Field(description="The gate in words: the figure on validation against its bound.")


class EstimatedCriterion(_Model):
    """One rubric criterion graded on the validation figures, or why it is not part of the estimate."""

    id: str
    kind: str
    title: str
    section: str = Field(description="The id of the rubric section it belongs to.")
    max_points: float
    points: float | None = Field(description="Estimated points; null: not part of the estimate (see `explanation`).")
    explanation: str
    required: bool = False


class SelfCheckEstimate(_Model):
    """``grader check``: where the submission is heading, from the PUBLIC validation split. An estimate for the
    candidate to act on, never a grade: the hidden test split decides the grade, and what cannot be judged on
    public data (written answers, reproducibility across trainings) is left out, with its points."""

    basis: str = Field(default="public validation split, an estimate",
                       description="What the estimate rests on: never the hidden test split.")
    score: float = Field(ge=0, le=100, description="Estimated points of the criteria that could be estimated.")
    not_estimated_points: float = Field(ge=0, le=100, description="Points of the criteria left out of the "
                                                                  "estimate: the score can reach at most "
                                                                  "`score + not_estimated_points`.")
    pass_mark: float
    gates: list[EstimatedGate] = Field(default_factory=list, description="Each gate with its validation value.")
    required: list[Requirement] = Field(default_factory=list, description="Criteria that need full points to pass, "
                                                                           "as estimated.")
    criteria: list[EstimatedCriterion] = Field(default_factory=list)
    not_estimated: list[str] = Field(default_factory=list, description="What the estimate leaves out, and why.")

    @property
    def failing(self) -> list[Requirement]:
        """Gates and required criteria the validation figures do not meet: what would fail a grading."""
        return [r for r in [*self.gates, *self.required] if not r.met]

    @property
    def ceiling(self) -> float:
        """The highest score the estimate allows, every criterion left out earning all its points."""
        return round(min(100.0, self.score + self.not_estimated_points), 2)


Outcome = Literal["passed", "not_passed", "invalid", "error"]


@dataclass(frozen=True)
class Verdict:
    """How a report ended, in the words every renderer shows, with the contract's exit code.

    A self-check (``grader check``) is not a grade: it "runs" (exit 0) or has "problems to fix"
    (exit 1), which share the exit codes, not the words, of passed and not passed.
    """

    outcome: Outcome
    #: As a title: ``Not passed`` (renderers may upper-case it).
    label: str
    #: As it reads inside a sentence: ``not passed``.
    phrase: str
    #: What the exit code says about the submission.
    meaning: str
    exit_code: int
    self_check: bool = False
    #: Why, in words, when the outcome has reasons of its own (a self-check's failing gates).
    reasons: tuple[str, ...] = ()


#: Every verdict, by outcome and whether the report is a self-check.
VERDICTS: dict[tuple[Outcome, bool], Verdict] = {(v.outcome, v.self_check): v for v in (
    Verdict("passed", "Passed", "passed", "graded and passed", 0),
    Verdict("not_passed", "Not passed", "not passed", "graded and not passed", 1),
    Verdict("invalid", "Invalid submission", "invalid submission",
            "the submission breaks the submission contract, so it was not run", 3),
    Verdict("error", "Grader error", "grading error",
            "the grader or its infrastructure failed: this says nothing about the candidate's work", 4),
    Verdict("passed", "Self-check: runs", "self-check: runs",
            "the submission trains and predicts without failures", 0, self_check=True),
    Verdict("not_passed", "Self-check: problems to fix", "self-check: problems to fix",
            "the submission does not run cleanly yet, or its validation figures miss a pass gate", 1,
            self_check=True),
)}


def _missed(requirement: Requirement) -> str:
    """A requirement of the pass rule the validation figures miss, in words."""
    if isinstance(requirement, EstimatedGate):
        return requirement.message
    value = "" if requirement.value is None else f" (estimated {requirement.value:g})"
    return f"{requirement.rule} is not met on the validation split{value}"


class Report(_Model):
    schema_version: Literal["1"] = SCHEMA_VERSION
    status: Status
    passed: bool = False
    score: float = Field(default=0.0, ge=0, le=100)
    task: TaskRef
    submission: SubmissionRef = Field(default_factory=SubmissionRef)
    evaluated_on: Literal["test", "valid"] = Field(
        default="test", description="test: the hidden test split (a grade); valid: the public validation split "
                                    "(`grader check`, a self-check, not a grade).")
    metrics: dict[str, float | None] = Field(default_factory=dict)
    metrics_ci: dict[str, MetricInterval] = Field(
        default_factory=dict, description="A 95% interval of each metric in `metrics` that has one (stratified "
                                          "bootstrap with a fixed seed: the same predictions give the same interval).")
    per_class: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Per class: precision, recall, f1 and support on the evaluated split.")
    confusion_matrix: dict[str, Any] | None = None
    curves: list[PRCurve] = Field(default_factory=list, description="Precision-recall curves, when predict_proba "
                                                                    "gave probabilities: one per class scored.")
    latency: Latency = Field(default_factory=Latency)
    reproducibility: Reproducibility = Field(default_factory=Reproducibility)
    failures: list[Failure] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    calibration: Calibration | None = Field(default=None, description="Brier score and reliability bins, when "
                                                                     "predict_proba gave probabilities.")
    baseline: BaselineComparison | None = Field(default=None, description="`grader grade --baseline`: the "
                                                                      "change of every figure from a previous grading.")
    pass_rule: list[Requirement] = Field(default_factory=list, description="What passing requires, each with its "
                                         "value: the rubric's pass mark, gates and required criteria.")
    rubric: RubricResult | None = None
    integrity: Integrity = Field(default_factory=Integrity, description="Flags for a person to judge (an implausible "
                                 "score, ...), with their evidence; never part of the score or the verdict.")
    self_check: list[str] = Field(default_factory=list, description="`grader check`: what the candidate can still "
                                                                    "fix before handing the submission in.")
    estimate: SelfCheckEstimate | None = Field(
        default=None, description="`grader check` only (left out otherwise): the rubric's gates and points on the "
                                  "public validation split, an estimate, never the grade.")
    phases: dict[str, PhaseRun] = Field(default_factory=dict)
    environment: Environment = Field(default_factory=Environment)
    started_at: str | None = None
    duration_s: float | None = None

    @model_serializer(mode="wrap")
    def _without_grade(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A self-check is no grade: its JSON has no ``score`` or ``passed`` (its ``estimate`` says where it is
        heading); a grading has no ``estimate`` key, as before there was one."""
        data: dict[str, Any] = handler(self)
        if self.evaluated_on == "valid":
            data.pop("score", None)
            data.pop("passed", None)
        if self.estimate is None:
            data.pop("estimate", None)
        return data

    @property
    def verdict(self) -> Verdict:
        """Passed, not passed, invalid or error (a self-check: runs or problems to fix), and its exit code.

        A self-check has problems to fix when a run failed or when its validation figures miss a gate (or a
        required criterion) of the rubric: the verdict's ``reasons`` name each.
        """
        if self.status != "graded":
            return VERDICTS[(self.status, False)]
        if self.evaluated_on == "valid":
            missed = tuple(_missed(r) for r in (self.estimate.failing if self.estimate is not None else []))
            if self.failures or missed:
                return replace(VERDICTS[("not_passed", True)], reasons=missed)
            return VERDICTS[("passed", True)]
        return VERDICTS[("passed" if self.passed else "not_passed", False)]

    @property
    def exit_code(self) -> int:
        """The contract's exit codes: 0 passed, 1 not passed, 3 invalid, 4 error.

        A self-check (``evaluated_on == "valid"``) is not a grade: 0 when it trained and predicted
        without a failure, 1 when there is something to fix.
        """
        return self.verdict.exit_code
