"""The grading pipeline: stage, validate, train and predict in sandboxes, evaluate, score, write."""

from grader.grading.pipeline import Grader, grade

__all__ = ["Grader", "grade"]
