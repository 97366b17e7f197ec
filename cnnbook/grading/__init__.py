"""Exercises: the self-checks students run, exercise-notebook generation, the grader.

Each chapter declares its exercises once, in `cnnbook.grading.chapters.chNN`: the cases
(drawn from a seed, so the instructor's grader can use seeds students never saw), the
reference answers (computed with PyTorch's own functions, never with a solution), the
points and what a solution may not use. The layout follows the sandbox's boundary:

- `checks`, `generate`, `chapters/`: trusted, shared by students and instructors;
- `engine/`: the grader's trusted side, which never runs submitted code;
- `child/`: the untrusted side, which runs inside the sandbox next to a submission.
"""

from cnnbook.grading.checks import Case, CheckResult, Exercise, checker

__all__ = ["Case", "CheckResult", "Exercise", "checker"]
