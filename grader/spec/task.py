"""Task specs: ``tasks/<suite>/<name>/task.yaml`` loaded into strict, versioned models."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from grader.errors import SpecError, UnknownNameError
from grader.paths import TASK_FILE, tasks_dir
from grader.spec.base import StrictModel, load_model, read_yaml

if TYPE_CHECKING:
    from grader.rubric.spec import RubricSpec

Suite = Literal["tabular", "nlp", "cv"]


class DataFile(StrictModel):
    """A data file shipped in the task folder, pinned by checksum."""

    path: str = Field(description="Path relative to the task folder.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    rows: int | None = Field(default=None, ge=1)


class DataSpec(StrictModel):
    source: str = Field(description="Where the data comes from (package, data set, URL of record).")
    licence: str
    script: str = Field(description="The script, relative to the task folder, that made the splits.")
    train: DataFile
    valid: DataFile
    test: DataFile = Field(description="Hidden test split, with labels. Never enters a sandbox.")


class ResourceLimits(StrictModel):
    """Limits for the candidate's code. Timeouts are per phase; the rest apply to both."""

    cpus: float = Field(default=1.0, gt=0, le=64)
    memory_mb: int = Field(default=2048, ge=64)
    pids: int = Field(default=256, ge=8)
    artifacts_mb: int = Field(default=256, ge=1)
    tmp_mb: int = Field(default=256, ge=1)
    file_size_mb: int = Field(default=256, ge=1)
    open_files: int = Field(default=1024, ge=16)
    train_timeout_s: float = Field(default=600, gt=0)
    predict_timeout_s: float = Field(default=300, gt=0)


class LatencySettings(StrictModel):
    """How serving latency is measured: MLPerf LoadGen's single-stream rules, with defaults that keep
    a typical grade under a minute. Counts are queries; durations are seconds of wall time."""

    enabled: bool = True
    warmup_queries: int = Field(default=10, ge=0, description="Untimed queries before the timed ones.")
    min_queries: int = Field(default=200, ge=1, description="Timed single-item queries, at least.")
    min_duration_s: float = Field(default=2.0, ge=0, description="...and for at least this long.")
    max_duration_s: float = Field(default=30.0, gt=0, description="Stop here even if min_queries is not reached.")
    floor_min_queries: int = Field(default=200, ge=1, description="Queries of the no-op measurement floor.")
    floor_min_duration_s: float = Field(default=0.5, ge=0)
    batch_sizes: list[int] = Field(default_factory=lambda: [32, 256], description="Throughput batch sizes.")
    batch_min_batches: int = Field(default=3, ge=1)
    batch_min_duration_s: float = Field(default=1.0, ge=0)
    batch_max_duration_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _durations(self) -> LatencySettings:
        if self.max_duration_s < self.min_duration_s:
            raise ValueError("latency.max_duration_s must be at least latency.min_duration_s")
        if any(b < 1 for b in self.batch_sizes):
            raise ValueError("latency.batch_sizes must be positive")
        return self


class ReproducibilitySettings(StrictModel):
    """How many times training is repeated to check that the result depends on the seed only."""

    runs: int = Field(default=2, ge=1, le=10, description="Trainings with the same GRADER_SEED, each fresh.")
    other_seed: int | None = Field(default=None, description="One more training with this seed: the metric "
                                   "spread across seeds tells a lucky seed from a robust model.")


class TaskRubric(StrictModel):
    """The rubric that scores this task, and the task's own settings for some of its criteria
    (thresholds differ from task to task: ``{recall: {zero: 0.4, full: 0.8, gate: 0.6}}``)."""

    name: str = "ml-engineer"
    criteria: dict[str, dict[str, Any]] = Field(default_factory=dict)


class TaskExpectations(StrictModel):
    """What the task's own solutions reach on the hidden test split, per metric: a graded result far beyond
    them is flagged for a person to look at (``integrity.flags``, kind ``implausible_score``), never failed.

    ``reference`` is measured (``grader task validate`` grades the reference and says when it differs);
    ``strong`` is the best the task's author has seen a solution reach (other seeds, other models)."""

    reference: dict[str, float] = Field(description="Metric -> what examples/reference reaches at the task's seed.")
    strong: dict[str, float] = Field(default_factory=dict, description="Metric -> what a strong solution reaches; "
                                     "a metric left out falls back to reference.")
    margin: float = Field(default=0.05, ge=0, le=1, description="How far past the strong figure the lower end of a "
                          "result's 95% interval must lie to be flagged.")

    def ceiling(self, metric: str) -> float | None:
        """The best a genuine solution is known to reach on ``metric``, or None when the task does not say."""
        known = [v for v in (self.reference.get(metric), self.strong.get(metric)) if v is not None]
        return max(known) if known else None


class TaskSpec(StrictModel):
    version: Literal[1] = Field(description="Version of the task spec format.")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$")
    title: str
    suite: Suite
    description: str
    data: DataSpec
    label_column: str | None = Field(default=None, validate_default=True, description="The label's column "
                                     "(tabular, NLP; NLP text is in column 'text'). CV data keeps labels in the "
                                     ".npz 'labels' array.")
    feature_columns: list[str] = Field(default_factory=list, validate_default=True)
    image_shape: list[int] | None = Field(default=None, validate_default=True,
                                          description="CV: the shape of one image, e.g. [28, 28].")
    classes: list[str] = Field(min_length=2)
    positive_class: str | None = Field(default=None, validate_default=True)
    metrics: list[str] = Field(min_length=1)
    limits: ResourceLimits = Field(default_factory=ResourceLimits)
    latency: LatencySettings = Field(default_factory=LatencySettings)
    reproducibility: ReproducibilitySettings = Field(default_factory=ReproducibilitySettings)
    seed: int = 20261122
    rubric: TaskRubric = Field(default_factory=TaskRubric)
    expected: TaskExpectations | None = Field(default=None, description="What the task's reference and a strong "
                                              "solution reach: results far beyond are flagged for review.")

    _root: Path | None = PrivateAttr(default=None)

    # Each consistency rule is checked on the field it is about (fields are validated in order, so the
    # ones it depends on are in ``info.data``): the error then names that field, not "(top level)".
    @field_validator("label_column")
    @classmethod
    def _label_column(cls, v: str | None, info: ValidationInfo) -> str | None:
        suite = info.data.get("suite")
        if suite in ("tabular", "nlp") and not v:
            raise ValueError(f"a {suite} task needs a label_column: set it to the name of the label's column in "
                             "the CSV files")
        return v

    @field_validator("feature_columns")
    @classmethod
    def _feature_columns(cls, v: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("suite") == "tabular" and not v:
            raise ValueError("a tabular task must list its feature_columns: the CSV files' feature columns, in order")
        label = info.data.get("label_column")
        if label is not None and label in v:
            raise ValueError(f"label_column {label!r} must not be a feature column: remove it from feature_columns")
        if len(set(v)) != len(v):
            raise ValueError(f"feature_columns must be unique: {sorted({c for c in v if v.count(c) > 1})} is "
                             "listed twice")
        return v

    @field_validator("image_shape")
    @classmethod
    def _image_shape(cls, v: list[int] | None, info: ValidationInfo) -> list[int] | None:
        if info.data.get("suite") == "cv" and not v:
            raise ValueError("a cv task needs image_shape: the shape of one image, e.g. [28, 28]")
        return v

    @field_validator("classes")
    @classmethod
    def _unique_classes(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"classes must be unique: {sorted({c for c in v if v.count(c) > 1})} is listed twice")
        return v

    @field_validator("positive_class")
    @classmethod
    def _positive_class(cls, v: str | None, info: ValidationInfo) -> str | None:
        classes = info.data.get("classes")
        if classes is None:  # classes did not validate: that is the error to fix first
            return v
        if v is not None and v not in classes:
            raise ValueError(f"positive_class {v!r} is not one of classes {classes}: set it to the class that "
                             "matters, spelt as in classes, or to null for a multiclass task")
        if len(classes) == 2 and v is None:
            raise ValueError(f"a binary task needs a positive_class: one of classes {classes}, the class that "
                             "matters (precision and recall are about it)")
        return v

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, v: list[str]) -> list[str]:
        from grader.evaluate.metrics import metrics as registry

        for name in v:
            if name not in registry:
                raise ValueError(str(UnknownNameError("metric", name, registry.names())))
        return v

    @field_validator("expected")
    @classmethod
    def _expected_metrics(cls, v: TaskExpectations | None, info: ValidationInfo) -> TaskExpectations | None:
        metrics = info.data.get("metrics")
        if v is not None and metrics is not None:
            for name in sorted({*v.reference, *v.strong}):
                if name not in metrics:
                    raise ValueError(f"expected names metric {name!r}, which is not in this task's metrics "
                                     f"{metrics}: add it to metrics, or remove it from expected")
        return v

    def rubric_spec(self) -> RubricSpec:
        """The task's rubric with the task's settings applied (errors name the task file)."""
        from grader.rubric.spec import get_rubric, with_criteria

        source = str(self._root / TASK_FILE) if self._root else self.id
        try:
            rubric = get_rubric(self.rubric.name)
        except UnknownNameError as exc:
            raise SpecError(f"{source}: rubric: {exc.message}", exc.hint) from None
        rubric = with_criteria(rubric, self.rubric.criteria, source)
        for name in self.rubric.criteria:
            figure = getattr(next(c for c in rubric.criteria() if c.id == name), "figure", None)
            if figure in registry_names() and figure not in self.metrics:
                raise SpecError(f"{source}: rubric criterion {name!r} scores {figure!r}, which is not in this "
                                "task's metrics", f"add {figure} to metrics")
        return rubric

    @property
    def root(self) -> Path:
        if self._root is None:
            raise SpecError(f"task {self.id} was not loaded from a folder")
        return self._root

    def data_path(self, split: Literal["train", "valid", "test"]) -> Path:
        return self.root / getattr(self.data, split).path

    @cached_property
    def public_info(self) -> dict[str, object]:
        """``task.json``: what the candidate is told about the task (contract section 2)."""
        info: dict[str, object] = {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "suite": self.suite,
            "label_column": self.label_column,
            "classes": list(self.classes),
            "positive_class": self.positive_class,
            "metrics": list(self.metrics),
        }
        if self.suite == "tabular":
            info["feature_columns"] = list(self.feature_columns)
        if self.suite == "nlp":
            info["text_column"] = "text"
        if self.suite == "cv":
            info["image_shape"] = list(self.image_shape or [])
        return info


def load_task(path: Path) -> TaskSpec:
    """Load a task from its folder or its ``task.yaml``; errors name the file and key."""
    path = Path(path)
    file = path / TASK_FILE if path.is_dir() else path
    data = read_yaml(file)
    task = load_model(TaskSpec, data, str(file), hint=_hint(data))
    expected = "/".join(file.parent.parts[-2:])
    if task.id != expected:
        raise SpecError(f"{file}: id {task.id!r} does not match its folder {expected!r}",
                        f"set id: {expected} or move the folder")
    task._root = file.parent
    task.rubric_spec()  # a task whose rubric does not load is not a task
    return task


FORMAT_HINT = "see the task format in docs/tasks.md, or `grader schema task`"


def _hint(data: object) -> str:
    """The fix for a task.yaml that does not load: the key meant, for a misspelt one, then the format's docs."""
    sections: list[tuple[str, object, type[StrictModel]]] = [("", data, TaskSpec)]
    if isinstance(data, dict):
        sections.append(("data.", data.get("data"), DataSpec))
    tips = []
    for prefix, section, model in sections:
        if not isinstance(section, dict):
            continue
        for key in section:
            if str(key) not in model.model_fields:
                close = difflib.get_close_matches(str(key), list(model.model_fields), n=1)
                if close:
                    tips.append(f"{prefix}{key} -> {prefix}{close[0]}")
    return (f"did you mean {', '.join(tips)}? " if tips else "") + FORMAT_HINT


def registry_names() -> list[str]:
    from grader.evaluate.metrics import metrics

    return metrics.names()


def with_overrides(task: TaskSpec, overrides: Mapping[str, object]) -> TaskSpec:
    """``task`` with some sections changed (``{"reproducibility": {"runs": 1}}``), validated like a file.

    For quick checks and benchmarks; a section given replaces only the keys it names.
    """
    data = task.model_dump()
    for key, value in overrides.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and isinstance(data.get(key), dict) else value
    changed = load_model(TaskSpec, data, f"{task.id} with overrides {overrides}")
    changed._root = task._root
    return changed


def discover_tasks(root: Path | None = None) -> dict[str, Path]:
    root = root or tasks_dir()
    return {"/".join(p.parent.parts[-2:]): p.parent for p in sorted(root.glob(f"*/*/{TASK_FILE}"))}


def get_task(task_id: str, root: Path | None = None) -> TaskSpec:
    found = discover_tasks(root)
    if task_id not in found:
        raise UnknownNameError("task", task_id, found)
    return load_task(found[task_id])
