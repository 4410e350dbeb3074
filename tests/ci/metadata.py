"""action.yml and the example workflows as data: their expressions, and the action as a workflow."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ACTION_FILE = REPO / "action.yml"
WORKFLOWS_DIR = REPO / "docs" / "workflows"

_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def load_action() -> dict[str, Any]:
    return yaml.safe_load(ACTION_FILE.read_text(encoding="utf-8"))


def load_workflow(path: Path) -> dict[str, Any]:
    """A workflow; YAML 1.1 reads the key ``on`` as True, so it is put back under "on"."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def expressions(node: Any, key: str | None = None) -> Iterator[str]:
    """Every expression in a YAML tree: ``${{ ... }}`` anywhere, and ``if:`` values whole."""
    if isinstance(node, dict):
        for child_key, child in node.items():
            yield from expressions(child, str(child_key))
    elif isinstance(node, list):
        for child in node:
            yield from expressions(child, key)
    elif isinstance(node, str):
        found = [match.strip() for match in _EXPRESSION.findall(node)]
        if key == "if" and not found:
            found = [node.strip()]
        yield from found


def references(expression: str, context: str) -> set[str]:
    """The properties of ``context`` an expression reads: ``inputs.out`` -> {"out"}."""
    return set(re.findall(rf"(?<![\w.-]){context}\.([A-Za-z_][\w-]*)", expression))


def action_as_workflow(action: dict[str, Any]) -> dict[str, Any]:
    """The composite action as a reusable workflow, so actionlint can check its expressions.

    The action's inputs become ``workflow_call`` inputs (typed, so an undeclared ``inputs.x`` is an
    error), its steps a job's steps (so ``steps.<id>.outputs`` must name a step), and its outputs the
    job's and the workflow's outputs.
    """
    inputs = {name: {"type": "string", "required": False, "description": spec.get("description", "")}
              for name, spec in (action.get("inputs") or {}).items()}
    outputs = action.get("outputs") or {}
    return {
        "name": "action.yml as a workflow",
        "on": {"workflow_call": {
            "inputs": inputs,
            "outputs": {name: {"value": f"${{{{ jobs.action.outputs.{name} }}}}"} for name in outputs},
        }},
        "jobs": {"action": {
            "runs-on": "ubuntu-latest",
            "outputs": {name: spec["value"] for name, spec in outputs.items()},
            "steps": action["runs"]["steps"],
        }},
    }


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=200)
