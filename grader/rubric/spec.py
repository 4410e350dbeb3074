"""Rubrics as data: ``rubrics/<name>.yaml`` loaded into strict, versioned models.

A rubric has a pass mark and sections whose weights add up to 100; each section splits its weight
among its criteria by their relative ``weight``. Each criterion is validated by the model of its
kind, so an unknown kind or key is an error that names it and the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SerializeAsAny, field_validator, model_validator

from grader.errors import SpecError, UnknownNameError
from grader.paths import rubrics_dir
from grader.rubric.base import ID_PATTERN, CriterionSpec, kinds, load_builtin_kinds
from grader.spec.base import StrictModel, describe_validation_error, load_model, read_yaml

WEIGHT_TOLERANCE = 1e-6


def parse_criterion(data: Any) -> CriterionSpec:
    """A criterion's mapping, validated by the model of the kind it names."""
    if isinstance(data, CriterionSpec):
        return data
    if not isinstance(data, dict):
        raise ValueError(f"a criterion must be a mapping, got {type(data).__name__}")
    load_builtin_kinds()
    name = data.get("id", "?")
    try:
        kind = kinds.get(str(data.get("kind")))
    except UnknownNameError as exc:
        raise ValueError(f"criterion {name!r}: {exc}") from None
    from pydantic import ValidationError

    try:
        return kind.spec.model_validate(data)
    except ValidationError as exc:
        raise ValueError(describe_validation_error(exc, f"criterion {name!r}")) from None


class SectionSpec(StrictModel):
    id: str = Field(pattern=ID_PATTERN)
    title: str
    weight: float = Field(gt=0, description="Points of the section out of the rubric's 100.")
    criteria: list[SerializeAsAny[CriterionSpec]] = Field(min_length=1)

    @field_validator("criteria", mode="before")
    @classmethod
    def _by_kind(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [parse_criterion(item) for item in value]


class RubricSpec(StrictModel):
    version: Literal[1, 2] = Field(description="Version of the rubric format: 2 adds the questions' `lexicon` and "
                                              "their key points' `cues`; a version-1 rubric (terms and patterns) "
                                              "still loads.")
    id: str = Field(pattern=ID_PATTERN)
    title: str
    description: str = ""
    pass_mark: float = Field(ge=0, le=100, description="Total points (out of 100) needed to pass.")
    sections: list[SectionSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> RubricSpec:
        total = sum(s.weight for s in self.sections)
        if abs(total - 100) > WEIGHT_TOLERANCE:
            parts = " + ".join(f"{s.id} {s.weight:g}" for s in self.sections)
            raise ValueError(f"section weights add up to {total:g} ({parts}), not 100")
        if self.version < 2:
            newer = [c.id for c in self.questions() if c.uses_version_2()]
            if newer:
                raise ValueError(f"question(s) {', '.join(newer)} use a lexicon or cues, which need `version: 2`")
        seen: set[str] = set()
        for ident in [s.id for s in self.sections] + [c.id for c in self.criteria()]:
            if ident in seen:
                raise ValueError(f"id {ident!r} is used twice: section and criterion ids must be unique")
            seen.add(ident)
        return self

    def criteria(self) -> list[CriterionSpec]:
        return [c for s in self.sections for c in s.criteria]

    def questions(self) -> list[Any]:
        """The written questions, in order: what candidates answer in ANSWERS.md."""
        return [c for c in self.criteria() if c.kind == "question"]


def discover_rubrics(root: Path | None = None) -> dict[str, Path]:
    root = root or rubrics_dir()
    return {p.stem: p for p in sorted(root.glob("*.yaml"))}


def load_rubric(path: Path) -> RubricSpec:
    rubric = load_model(RubricSpec, read_yaml(path), str(path), hint="see docs/rubrics.md or `grader schema rubric`")
    if rubric.id != path.stem:
        raise SpecError(f"{path}: id {rubric.id!r} does not match the file name {path.stem!r}",
                        f"set id: {path.stem} or rename the file")
    return rubric


def get_rubric(name: str, root: Path | None = None) -> RubricSpec:
    found = discover_rubrics(root)
    if name not in found:
        raise UnknownNameError("rubric", name, found)
    return load_rubric(found[name])


def with_criteria(rubric: RubricSpec, overrides: Mapping[str, Mapping[str, Any]], source: str) -> RubricSpec:
    """``rubric`` with some criteria's settings changed (a task's thresholds), validated like the file."""
    known = {c.id for c in rubric.criteria()}
    for name, change in overrides.items():
        if name not in known:
            err = UnknownNameError(f"criterion of rubric {rubric.id!r}", name, known)
            raise SpecError(f"{source}: {err.message}", err.hint)
        if {"id", "kind"} & set(change):
            raise SpecError(f"{source}: criterion {name!r}: a task may change a criterion's settings, "
                            "not its id or kind")
    data = rubric.model_dump()
    for section in data["sections"]:
        section["criteria"] = [{**c, **overrides.get(c["id"], {})} for c in section["criteria"]]
    return load_model(RubricSpec, data, f"{source} (rubric {rubric.id} with the task's settings)")
