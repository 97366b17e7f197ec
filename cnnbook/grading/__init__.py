"""Exercises: the self-checks students run, and exercise-notebook generation.

Each chapter declares its exercises once, in `cnnbook.grading.chNN`: the cases (drawn
from a seed, so the instructor's grader can use seeds students never saw), the reference
answers (computed with PyTorch's own functions, never with a solution) and the points.
"""

from cnnbook.grading.checks import Case, CheckResult, Exercise, checker

__all__ = ["Case", "CheckResult", "Exercise", "checker"]
