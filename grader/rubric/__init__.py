"""The rubric engine: measured figures, checks and written answers into an explained score."""

from grader.rubric.base import Context, CriterionKind, CriterionSpec, Outcome, kinds
from grader.rubric.engine import grade, settle, settle_report
from grader.rubric.spec import RubricSpec, discover_rubrics, get_rubric, load_rubric, rubrics_dir, with_criteria

__all__ = ["Context", "CriterionKind", "CriterionSpec", "Outcome", "RubricSpec", "discover_rubrics", "get_rubric",
           "grade", "kinds", "load_rubric", "rubrics_dir", "settle", "settle_report", "with_criteria"]
