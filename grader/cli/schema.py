"""``grader schema``: JSON Schemas of the grader's data files, generated from the pydantic models.

The package ships them generated (``grader/schemas/``, kept equal to the models by the tests), so the
command prints a file instead of importing pydantic and every model; ``python -m grader.cli.schema``
regenerates them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from pydantic import BaseModel

KINDS = ("task", "rubric", "report", "submission")
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


@click.command()
@click.argument("kind", type=click.Choice(KINDS))
def schema(kind: str) -> None:
    """Print the JSON Schema of a task spec, a rubric, report.json or submission.yaml."""
    from grader.cli.console import print_json

    print_json(schema_file(kind).read_text(encoding="utf-8"))


def schema_file(kind: str) -> Path:
    """The shipped schema of ``kind``."""
    return SCHEMAS / f"{kind}.schema.json"


def _model(kind: str) -> type[BaseModel]:
    """The model of one kind, importing only its own modules."""
    if kind == "rubric":
        return _rubric_model()
    if kind == "report":
        from grader.spec.report import Report

        return Report
    if kind == "submission":
        from grader.spec.manifest import Manifest

        return Manifest
    from grader.spec.task import TaskSpec

    return TaskSpec


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
    if kind not in KINDS:
        from grader.errors import UnknownNameError

        raise UnknownNameError("schema kind", kind, KINDS)
    model = _model(kind)
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://grader.dev/schemas/{kind}.schema.json"
    return schema


def write_all(folder: Path) -> list[Path]:
    """Write every schema as ``<kind>.schema.json``; the committed copies are checked by a test."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = folder / f"{kind}.schema.json"
        path.write_text(json.dumps(schema_for(kind), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_all(SCHEMAS):
        print(p)
