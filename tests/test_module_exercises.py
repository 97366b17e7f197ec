"""Module exercises (a class, such as a residual block) are graded through data.

Chapter 1 has none, so this test declares a toy chapter with one: a residual block.
The same machinery grades the Inception, ResNet and DenseNet blocks of Chapter 6.
"""

import types

import nbformat
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.grading.checks import Case, Exercise, run_cases, same_module
from cnnbook.grading.engine.grader import grade_file
from cnnbook.grading.engine.sandbox import Limits


class Residual(nn.Module):
    """The reference: y = x + relu(conv(x))."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return x + F.relu(self.conv(x))


def cases(seed: int) -> list[Case]:
    gen = torch.Generator().manual_seed(seed)
    return [
        Case(f"channels={c}, x {shape}", (c,), {}, None, (torch.randn(shape, generator=gen),))
        for c, shape in [(1, (1, 1, 5, 5)), (3, (2, 3, 6, 4))]
    ]


EXERCISE = Exercise("Residual", 2, cases, same_module(Residual))
CHAPTER = types.ModuleType("cnnbook.grading.chapters.ch99")
CHAPTER.EXERCISES = (EXERCISE,)
CHAPTER.NOTEBOOK = "99-toy"

STUDENT = {
    "right": """
import torch
from torch import nn

class Residual(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return x + torch.relu(self.conv(x))
""",
    "no-skip": """
import torch
from torch import nn

class Residual(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x))
""",
    "renamed": """
from torch import nn

class Residual(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.layer = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return x + self.layer(x).relu()
""",
    "too-big": """
from torch import nn

class Residual(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 5, padding=2)

    def forward(self, x):
        return x + self.conv(x).relu()
""",
}


def _class(source: str) -> type:
    namespace: dict = {}
    exec(source, namespace)
    return namespace["Residual"]


@pytest.mark.parametrize(
    ("student", "passed", "reason"),
    [
        ("right", 2, None),
        ("no-skip", 0, "max error"),
        ("renamed", 0, "names and shapes"),
        ("too-big", 0, "parameters"),
    ],
)
def test_self_check_of_a_module(student, passed, reason):
    result = run_cases(EXERCISE, _class(STUDENT[student]))
    assert result.passed == passed
    if reason:
        assert all(reason in failure for failure in result.failures)


class ResidualBN(nn.Module):
    """A reference with a batch norm: y = x + relu(bn(conv(x)))."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x):
        return x + F.relu(self.bn(self.conv(x)))


BN_EXERCISE = Exercise("ResidualBN", 2, cases, same_module(ResidualBN))

BN_STUDENT = """
import torch
from torch import nn

class ResidualBN(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x):
        return x + torch.relu({inner})
"""


@pytest.mark.parametrize(
    ("inner", "passed"), [("self.bn(self.conv(x))", 2), ("self.conv(x)", 0)], ids=["right", "no-bn"]
)
def test_a_batch_norm_left_out_of_forward_is_caught(inner, passed):
    """With default initialization a batch norm in eval mode is nearly the identity, so
    the module is run with random weights and running statistics."""
    namespace: dict = {}
    exec(BN_STUDENT.format(inner=inner), namespace)
    result = run_cases(BN_EXERCISE, namespace["ResidualBN"])
    assert result.passed == passed, result.failures
    if not passed:
        assert all("max error" in failure for failure in result.failures)


def test_grader_runs_module_exercises_in_the_sandbox(tmp_path):
    case_list = {EXERCISE.name: cases(5)}
    for student, expected in [("right", 2.0), ("no-skip", 0.0), ("renamed", 0.0)]:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(STUDENT[student])])
        path = tmp_path / f"{student}.ipynb"
        nbformat.write(nb, path)
        result = grade_file(path, CHAPTER, 5, case_list, Limits(timeout=20))
        assert result["status"] == "graded"
        assert result["exercises"]["Residual"]["points"] == expected, result["exercises"]
