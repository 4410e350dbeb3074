"""JSON Schemas of the grader's data files, generated from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel


def _models() -> dict[str, type[BaseModel]]:
    from grader.report.model import Report
    from grader.spec.submission import Manifest
    from grader.spec.task import TaskSpec

    return {"task": TaskSpec, "report": Report, "submission": Manifest}


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
    for p in write_all(Path(__file__).resolve().parents[1] / "schemas"):
        print(p)
