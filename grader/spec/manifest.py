"""``submission.yaml``: the candidate's manifest (contract section 1)."""

from __future__ import annotations

import re
import shlex

from pydantic import Field, field_validator

from grader.spec.base import StrictModel

ENTRY_POINT = re.compile(r"^(?P<module>[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*):(?P<callable>[A-Za-z_]\w*)$")


class Manifest(StrictModel):
    """``version`` is optional so that the contract's minimal example stays valid."""

    version: int = Field(default=1, ge=1, le=1)
    task: str = Field(description="The task id this submission answers, e.g. tabular/credit-default.")
    train: str = Field(description="Training command line, split like a shell (no shell runs), cwd /workspace.")
    predict: str = Field(description='"module:callable" importable from /workspace.')

    @field_validator("train")
    @classmethod
    def _train_splits(cls, v: str) -> str:
        try:
            argv = shlex.split(v)
        except ValueError as exc:
            raise ValueError(f"cannot split the train command like a shell: {exc}") from None
        if not argv:
            raise ValueError("the train command is empty")
        return v

    @field_validator("predict")
    @classmethod
    def _entry_point(cls, v: str) -> str:
        if not ENTRY_POINT.match(v):
            raise ValueError(f'{v!r} is not "module:callable" (for example "model:load")')
        return v

    @property
    def train_argv(self) -> list[str]:
        return shlex.split(self.train)

    @property
    def predict_module(self) -> str:
        return self.predict.split(":", 1)[0]
