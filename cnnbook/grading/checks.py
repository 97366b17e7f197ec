"""Run an exercise's cases against a student's function and report per case.

A student reads the report, not a traceback: every failure says what was expected and
what came back (type, shape, dtype, largest error), and a stub says "not implemented
yet". Passing lines print no floating-point noise, so the output is the same on every
machine and nbval can compare it.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cnnbook.grading.child.calls import (
    call_built,
    call_methods,
    call_module,
    call_reporting_grads,
    call_steps,
    resolve_functions,
)

PUBLIC_SEED = 0  # the self-check's cases; the grader draws its own seeds
# Set by the test suite for the notebooks it runs: a self-check that finds a failing case
# raises after its report, so a check cell of the solutions is an assertion there.
STRICT_ENV = "CNNBOOK_STRICT_CHECKS"


@dataclass(frozen=True)
class Case:
    """One call of an exercise: its arguments, a readable description, the reference.

    For a module exercise (a class), `args` and `kwargs` build the module and `inputs`
    go through it; see `runner.call_module`. For an optimizer exercise (`iterate`),
    `args` is (initial parameter, gradients) and `kwargs` the hyper-parameters; see
    `runner.call_steps`. For a stateful class (`method`), `args` and `kwargs` build it
    and `inputs` lists the argument tuples of successive calls; see `runner.call_methods`.
    For a function that returns a layer (`returns_module`), `inputs` go through the layer
    it returns; see `runner.call_built`. For a function that acts on gradients
    (`with_grads`), the parameters made from the arguments report their `.grad` after
    the call, next to what it returned; see `runner.call_reporting_grads`.
    """

    description: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    expected: Any = None
    inputs: tuple | None = None
    iterate: bool = False
    method: str | None = None
    returns_module: bool = False
    with_grads: bool = False


@dataclass(frozen=True)
class Exercise:
    """An exercise as the checks and the grader see it.

    `forbidden` names what a solution may not use (the function it re-implements);
    the grader refuses a solution whose code reaches any of these names. Names are
    read in the source, so one built at run time escapes them: `forbidden_ops` lists
    the ATen operators (``"aten::convolution"``, or ``"autograd"`` for automatic
    differentiation) that the grader's child watches for while the exercise runs.
    """

    name: str
    points: int
    cases: Callable[[int], Sequence[Case]]  # seed -> cases
    compare: Callable[[Any, Case], str | None]  # (got, case) -> None or why it differs
    forbidden: frozenset[str] = frozenset()
    forbidden_ops: frozenset[str] = frozenset()


@dataclass
class CheckResult:
    """What one self-check found; `passed` is the count of passing cases."""

    name: str
    passed: int = 0
    total: int = 0
    implemented: bool = True
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.implemented and self.passed == self.total


def clone_args(value: Any) -> Any:
    """Deep-copy tensors in arguments so a function that edits its input in place cannot
    corrupt the reference or the next case."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, list | tuple):
        return type(value)(clone_args(v) for v in value)
    if isinstance(value, dict):
        return {k: clone_args(v) for k, v in value.items()}
    return value


def run_cases(exercise: Exercise, fn: Callable[..., Any], seed: int = PUBLIC_SEED) -> CheckResult:
    """Call `fn` on every case of `exercise`; never raises for anything `fn` does."""
    result = CheckResult(exercise.name)
    for case in exercise.cases(seed):
        result.total += 1
        try:
            if case.iterate:
                got = call_steps(fn, *clone_args(case.args), clone_args(case.kwargs))
            elif case.method:
                got = call_methods(fn, case.args, case.kwargs, case.method, clone_args(case.inputs))
            elif case.returns_module:
                got = call_built(fn, clone_args(case.args), case.kwargs, clone_args(case.inputs))
            elif case.with_grads:
                got = call_reporting_grads(fn, clone_args(case.args), clone_args(case.kwargs))
            elif case.inputs is None:
                args = resolve_functions(clone_args(case.args))
                got = fn(*args, **resolve_functions(clone_args(case.kwargs)))
            else:
                got = call_module(fn, case.args, case.kwargs, clone_args(case.inputs))
        except NotImplementedError:
            result.implemented = False
            return result
        except Exception as error:  # a student's bug is a failed case, not a crash
            result.failures.append(f"{case.description}: raised {type(error).__name__}: {error}")
            continue
        reason = exercise.compare(got, case)
        if reason is None:
            result.passed += 1
        else:
            result.failures.append(f"{case.description}: {reason}")
    return result


def report(result: CheckResult) -> str:
    """The text a student sees under a check cell."""
    if not result.implemented:
        return f"{result.name}: not implemented yet (replace the `raise NotImplementedError`)"
    lines = [f"{result.name}: {result.passed}/{result.total} public cases passed"]
    lines += [f"  ✗ {failure}" for failure in result.failures]
    if result.ok:
        lines.append("  ✓ all public cases pass; the grader also tests inputs you have not seen")
    return "\n".join(lines)


def checker(chapter: str) -> Callable[[Callable[..., Any]], CheckResult]:
    """A `check(fn)` for one chapter: finds the exercise by the function's name."""
    module = importlib.import_module(f"cnnbook.grading.chapters.ch{chapter}")
    exercises: dict[str, Exercise] = {ex.name: ex for ex in module.EXERCISES}

    def check(fn: Callable[..., Any]) -> CheckResult:
        name = getattr(fn, "__name__", repr(fn))
        if name not in exercises:
            known = ", ".join(exercises)
            print(f"{name}: no such exercise in chapter {chapter} (exercises: {known})")
            return CheckResult(name, implemented=False)
        result = run_cases(exercises[name], fn)
        print(report(result))
        if os.environ.get(STRICT_ENV) == "1" and not result.ok:
            raise AssertionError(f"the self-check of {name} failed")
        return result

    return check


# Comparisons: each returns None when `got` matches the case's answer, else a reason.


def same_int(got: Any, case: Case) -> str | None:
    """Exact integer equality; booleans and floats are rejected with a reason."""
    expected = case.expected
    if isinstance(got, bool) or not isinstance(got, int):
        if isinstance(got, float) and got.is_integer():
            return f"expected the int {expected}, got the float {got!r}"
        return f"expected the int {expected}, got {type(got).__name__} {got!r}"
    return None if got == expected else f"expected {expected}, got {got}"


def close_float(got: Any, case: Case) -> str | None:
    """A Python float within 1e-6 of the reference (a one-element tensor is read as its
    value). NumPy scalars are refused here as in the grader, whose sandbox sends back
    only plain data, so a self-check never passes what the grader would fail."""
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = float(got)
    if type(got) not in (int, float):
        return f"expected a Python float, got {type(got).__name__}"
    if math.isnan(got):
        return f"got nan, expected {case.expected:.6f}"
    if abs(got - case.expected) > 1e-6:
        return f"got {got:.6f}, expected {case.expected:.6f}"
    return None


def close_tensor(atol: float = 1e-5, rtol: float = 1e-4) -> Callable[[Any, Case], str | None]:
    """Compare with the case's tensor; see `tensor_difference`."""

    def compare(got: Any, case: Case) -> str | None:
        return tensor_difference(got, case.expected, atol, rtol)

    return compare


def tensor_difference(got: Any, expected: torch.Tensor, atol: float, rtol: float) -> str | None:
    """Name the first thing that differs: type, shape, dtype, device, non-finite values,
    then the largest absolute error beyond ``atol + rtol * |expected|``."""
    if not isinstance(got, torch.Tensor):
        return f"expected a torch.Tensor, got {type(got).__name__}"
    if got.shape != expected.shape:
        return f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    if got.dtype != expected.dtype:
        return f"dtype {got.dtype}, expected {expected.dtype}"
    if got.device != expected.device:
        return f"on {got.device}, expected {expected.device}"
    got = got.detach()
    if not torch.isfinite(got).all() and torch.isfinite(expected).all():
        return "contains nan or inf"
    error = (got - expected).abs()
    allowed = atol + rtol * expected.abs()
    if bool((error <= allowed).all()):
        return None
    worst = int(error.argmax())
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), error.shape))
    got_value, expected_value = float(got.flatten()[worst]), float(expected.flatten()[worst])
    return (
        f"max error {float(error.max()):.3g} at index {index}: "
        f"got {got_value:.6g}, expected {expected_value:.6g}"
    )


def same_module(
    reference: Callable[..., nn.Module], atol: float = 1e-5, rtol: float = 1e-4
) -> Callable[[Any, Case], str | None]:
    """Compare a module exercise through data, never by running the student's object:
    the student's state dict must load into `reference` (same layout), the parameter
    count must agree, and the reference with those weights must give the same output.

    The expected output depends on the student's weights, so it is computed here, from
    the case's arguments and inputs, rather than stored in `Case.expected`.
    """

    def compare(got: Any, case: Case) -> str | None:
        if not isinstance(got, dict) or not {"output", "parameters", "state_dict"} <= set(got):
            return "the module could not be run"
        model = reference(*case.args, **case.kwargs)
        expected_count = sum(p.numel() for p in model.parameters())
        if got["parameters"] != expected_count:
            return f"{got['parameters']:,} parameters, expected {expected_count:,}"
        state = got["state_dict"]
        if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()
        ):
            return "its state dict holds something other than tensors"
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            detail = " ".join(str(error).split())[:300]
            return f"its layers do not match the reference's names and shapes ({detail})"
        model.eval()
        with torch.no_grad():
            expected = model(*clone_args(case.inputs))
        return tensor_difference(got["output"], expected, atol, rtol)

    return compare


def close_tensors(
    names: Sequence[str], atol: float = 1e-5, rtol: float = 1e-4
) -> Callable[[Any, Case], str | None]:
    """Compare a tuple of tensors element by element, naming the first that differs."""

    def compare(got: Any, case: Case) -> str | None:
        if not isinstance(got, tuple | list) or len(got) != len(names):
            wanted = f"a tuple of {len(names)} tensors ({', '.join(names)})"
            return f"expected {wanted}, got {type(got).__name__}"
        for name, value, expected in zip(names, got, case.expected, strict=True):
            reason = tensor_difference(value, expected, atol, rtol)
            if reason:
                return f"{name}: {reason}"
        return None

    return compare
