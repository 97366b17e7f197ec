import pytest
import torch
import torch.nn.functional as F

from cnnbook.grading import checker
from cnnbook.grading.chapters.ch01 import EXERCISES
from cnnbook.grading.checks import PUBLIC_SEED, Case, close_tensor, report, run_cases, same_int

BY_NAME = {ex.name: ex for ex in EXERCISES}


def test_every_exercise_has_points_and_public_cases():
    for exercise in EXERCISES:
        assert exercise.points > 0
        assert len(exercise.cases(PUBLIC_SEED)) >= 5


def test_other_seeds_give_other_cases():
    for exercise in EXERCISES:
        public = [c.description for c in exercise.cases(PUBLIC_SEED)]
        hidden = [c.description for c in exercise.cases(12345)]
        assert public != hidden, exercise.name


def test_pytorch_itself_passes_the_conv_and_pool_checks():
    def conv(x, w, b=None, stride=1, padding=0, dilation=1):
        return F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)

    def pool(x, k, stride=None, padding=0):
        return F.max_pool2d(x, k, stride=stride, padding=padding)

    for name, fn in [("conv2d_naive", conv), ("conv2d_unfold", conv), ("max_pool2d", pool)]:
        result = run_cases(BY_NAME[name], fn)
        assert result.ok, result.failures


def test_a_stub_is_not_implemented():
    def conv_output_size(*args, **kwargs):
        raise NotImplementedError("your code here")

    result = run_cases(BY_NAME["conv_output_size"], conv_output_size)
    assert not result.implemented
    assert "not implemented yet" in report(result)


def test_wrong_answers_and_exceptions_are_reported_per_case():
    result = run_cases(BY_NAME["conv_output_size"], lambda size, kernel, *rest: size - kernel + 1)
    assert 0 < result.passed < result.total  # right without padding/stride/dilation only
    assert any("expected" in f for f in result.failures)
    crashing = run_cases(BY_NAME["receptive_field"], lambda layers: 1 / 0)
    assert crashing.passed == 0
    assert all("raised ZeroDivisionError" in f for f in crashing.failures)
    assert "✗" in report(crashing)


def test_in_place_edits_cannot_corrupt_the_reference():
    def vandal(x, w, b=None, stride=1, padding=0, dilation=1):
        x.zero_()
        return F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)

    run_cases(BY_NAME["conv2d_naive"], vandal)
    assert run_cases(BY_NAME["conv2d_naive"], F.conv2d).ok


def test_same_int_reasons():
    three = Case("three", expected=3)
    assert same_int(3, three) is None
    assert "got 4" in same_int(4, three)
    assert "float" in same_int(3.0, three)
    assert "bool" in same_int(True, Case("one", expected=1))
    assert "str" in same_int("3", three)


def test_close_tensor_names_the_first_difference():
    compare = close_tensor()
    zeros = Case("zeros", expected=torch.zeros(2, 3))
    assert compare(torch.zeros(2, 3), zeros) is None
    assert "expected a torch.Tensor" in compare([0.0], zeros)
    assert "shape (3, 2)" in compare(torch.zeros(3, 2), zeros)
    assert "dtype torch.float64" in compare(torch.zeros(2, 3, dtype=torch.float64), zeros)
    assert "nan" in compare(torch.full((2, 3), float("nan")), zeros)
    wrong = torch.zeros(2, 3)
    wrong[1, 2] = 0.5
    assert "max error 0.5 at index (1, 2)" in compare(wrong, zeros)


def test_checker_prints_a_report_and_rejects_unknown_names(capsys):
    check = checker("01")

    def count_conv_params(c_in, c_out, k, bias=True):
        kh, kw = (k, k) if isinstance(k, int) else k
        return kh * kw * c_in * c_out + (c_out if bias else 0)

    assert check(count_conv_params).ok
    assert "8/8 public cases passed" in capsys.readouterr().out

    def mystery():
        return 0

    assert not check(mystery).ok
    assert "no such exercise" in capsys.readouterr().out


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda ex: ex.name)
def test_public_cases_are_reproducible(exercise):
    """nbval compares the check cells' output, so the public cases must never change."""
    first, second = exercise.cases(PUBLIC_SEED), exercise.cases(PUBLIC_SEED)
    assert [c.description for c in first] == [c.description for c in second]
    for a, b in zip(first, second, strict=True):
        same = (
            torch.equal(a.expected, b.expected)
            if isinstance(a.expected, torch.Tensor)
            else a.expected == b.expected
        )
        assert same, a.description
