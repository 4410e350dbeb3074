"""The probe batch of a grading: near-twins of hidden rows and repeated hidden rows, and where each one is.

It stays on the host: the timer in the sandbox gets only the list of input rows to send (``rows``), never
which of them are twins. The inputs file the timer reads holds the ``timed`` hidden rows first (the only
ones the latency phase and the scored full batch ever send), then one near-twin per entry of ``twin_of``.
"""

from __future__ import annotations

from pydantic import Field

from grader.spec.base import StrictModel


class ProbePlan(StrictModel):
    """Which inputs-file rows the untimed probe call sends, in order, and what each twin is a twin of."""

    timed: int = Field(ge=0, description="How many hidden rows the inputs file starts with (scored, timed).")
    twin_of: list[int] = Field(default_factory=list,
                               description="For inputs-file row timed + j: the hidden row it is a near-twin of.")
    rows: list[int] = Field(default_factory=list, description="Inputs-file rows of the probe call, in call order: "
                                                              "twins (>= timed) and repeated hidden rows (< timed).")

    def twin_positions(self) -> list[int]:
        """Positions of the probe call that carry a twin."""
        return [p for p, r in enumerate(self.rows) if r >= self.timed]

    def repeat_positions(self) -> list[int]:
        """Positions of the probe call that carry a hidden row a second time."""
        return [p for p, r in enumerate(self.rows) if r < self.timed]
