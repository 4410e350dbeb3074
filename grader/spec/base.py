"""Strict pydantic base for every data file the grader reads, and YAML loading with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from grader.errors import GraderError, SpecError

M = TypeVar("M", bound=BaseModel)
#: libyaml's safe loader when PyYAML has it (about 7x faster: `grader task list` reads every spec).
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in a spec must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def describe_validation_error(err: ValidationError, source: str) -> str:
    """One line per problem, naming the key path and, for unknown keys, saying so."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{loc}'")
        elif e["type"] == "missing":
            lines.append(f"{source}: missing required key '{loc}'")
        else:
            lines.append(f"{source}: '{loc}': {e['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


def read_yaml(path: Path, error: type[GraderError] = SpecError) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text", "save the file as UTF-8") from None
    try:
        return yaml.load(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        pass
    try:  # parse again with the Python loader: its messages name what it found
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{path}: not valid YAML{where}: {problem}", "check indentation and quoting") from None


def load_model(model: type[M], data: Any, source: str, error: type[GraderError] = SpecError,
               hint: str | None = None, context: dict[str, Any] | None = None) -> M:
    if not isinstance(data, dict):
        raise error(f"{source}: expected a mapping of keys to values, got {type(data).__name__}", hint)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise error(describe_validation_error(exc, source), hint) from None
