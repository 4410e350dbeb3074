"""The rubric engine: measured figures, checks and written answers into an explained score.

Names are imported on first use (PEP 562): loading a rubric spec must not import the engine and
the report model behind it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grader.exports import lazy_exports

_API: dict[str, str] = {
    **dict.fromkeys(["Context", "CriterionKind", "CriterionSpec", "Outcome", "kinds"], "grader.rubric.base"),
    **dict.fromkeys(["grade", "settle", "settle_report"], "grader.rubric.engine"),
    **dict.fromkeys(["RubricSpec", "discover_rubrics", "get_rubric", "load_rubric", "rubrics_dir", "with_criteria"],
                    "grader.rubric.spec"),
}

__all__ = ["Context", "CriterionKind", "CriterionSpec", "Outcome", "RubricSpec", "discover_rubrics", "get_rubric",
           "grade", "kinds", "load_rubric", "rubrics_dir", "settle", "settle_report", "with_criteria"]


__getattr__, __dir__ = lazy_exports(__name__, _API, globals())


if TYPE_CHECKING:
    from grader.rubric.base import Context, CriterionKind, CriterionSpec, Outcome, kinds
    from grader.rubric.engine import grade, settle, settle_report
    from grader.rubric.spec import RubricSpec, discover_rubrics, get_rubric, load_rubric, rubrics_dir, with_criteria
