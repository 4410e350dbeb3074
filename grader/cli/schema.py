"""JSON Schemas of the grader's data files, generated from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel


def _models() -> dict[str, type[BaseModel]]:
    from grader.report.model import Report
    from grader.spec.manifest import Manifest
    from grader.spec.task import TaskSpec

    return {"task": TaskSpec, "report": Report, "submission": Manifest, "rubric": _rubric_model()}


def _rubric_model() -> type[BaseModel]:
    """The rubric model with its criteria typed as the union of the registered kinds (by ``kind``),
    for the schema only: loading goes through the registry, so kinds added later validate too."""
    from typing import Annotated, Union

    from pydantic import Field, create_model

    from grader.rubric.base import kinds, load_builtin_kinds
    from grader.rubric.spec import RubricSpec, SectionSpec

    load_builtin_kinds()
    specs = tuple(kinds.get(name).spec for name in kinds.names())
    criterion = Annotated[Union[specs], Field(discriminator="kind")]  # type: ignore[valid-type]  # noqa: UP007
    section = create_model("SectionSpec", __base__=SectionSpec, criteria=(list[criterion], Field(min_length=1)))
    return create_model("RubricSpec", __base__=RubricSpec,
                        sections=(list[section], Field(min_length=1)))  # type: ignore[valid-type]


def schema_for(kind: str) -> dict[str, Any]:
    model = _models()[kind]
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://grader.dev/schemas/{kind}.schema.json"
    return schema


def write_all(folder: Path) -> list[Path]:
    """Write every schema as ``<kind>.schema.json``; the committed copies are checked by a test."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in _models():
        path = folder / f"{kind}.schema.json"
        path.write_text(json.dumps(schema_for(kind), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_all(Path(__file__).resolve().parents[2] / "schemas"):
        print(p)
