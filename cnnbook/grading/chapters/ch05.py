"""Chapter 5 (Regularization): the exercises, their cases and their points.

Normalization and label smoothing are compared with PyTorch's functions. Random
operations (dropout, initializers) cannot be compared value by value, so their checks
test what defines them: the support, scale and statistics of what they return, on
tensors large enough for the statistics to be tight. Early stopping has no PyTorch
counterpart; its reference is the rule as the exercise states it.
"""

from __future__ import annotations

import math
import random
from typing import Any

import torch
import torch.nn.functional as F

from cnnbook.grading.checks import Case, Exercise, close_tensor, close_tensors, tensor_difference
from cnnbook.grading.operators import NORMALIZATION

NOTEBOOK = "05-regularization"


def _batch_norm_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    settings = [((4, 3, 5, 5), True, 0.1), ((4, 3, 5, 5), False, 0.1), ((2, 1, 3, 4), True, 0.5)]
    while len(settings) < 7:
        shape = (rng.randint(2, 6), rng.randint(1, 5), rng.randint(1, 6), rng.randint(1, 6))
        settings.append((shape, rng.random() < 0.6, rng.choice([0.1, 0.01, 0.9])))
    cases = []
    for shape, training, momentum in settings:
        c = shape[1]
        x = torch.randn(shape, generator=gen, dtype=torch.float64) * 2 + 1
        running_mean = torch.randn(c, generator=gen, dtype=torch.float64)
        running_var = torch.rand(c, generator=gen, dtype=torch.float64) + 0.5
        weight = torch.randn(c, generator=gen, dtype=torch.float64)
        bias = torch.randn(c, generator=gen, dtype=torch.float64)
        rm, rv = running_mean.clone(), running_var.clone()
        y = F.batch_norm(x, rm, rv, weight, bias, training=training, momentum=momentum, eps=1e-5)
        cases.append(Case(
            f"x {shape}, training={training}, momentum={momentum}",
            (x, running_mean, running_var, weight, bias, training), {"momentum": momentum},
            (y, rm, rv),
        ))  # fmt: skip
    return cases


def _group_norm_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    settings = [((2, 4, 3, 3), 2), ((2, 4, 3, 3), 1), ((2, 4, 3, 3), 4), ((1, 6, 2, 5), 3)]
    while len(settings) < 7:
        groups = rng.randint(1, 4)
        shape = (
            rng.randint(1, 4),
            groups * rng.randint(1, 3),
            rng.randint(1, 5),
            rng.randint(1, 5),
        )
        settings.append((shape, groups))
    cases = []
    for shape, groups in settings:
        x = torch.randn(shape, generator=gen, dtype=torch.float64) * 3 - 1
        weight = torch.randn(shape[1], generator=gen, dtype=torch.float64)
        bias = torch.randn(shape[1], generator=gen, dtype=torch.float64)
        expected = F.group_norm(x, groups, weight, bias, eps=1e-5)
        cases.append(Case(f"x {shape}, {groups} groups", (x, groups, weight, bias), {}, expected))
    return cases


def _dropout_cases(seed: int) -> list[Case]:
    gen = torch.Generator().manual_seed(seed)
    settings = [(0.5, True), (0.2, True), (0.5, False), (0.0, True), (1.0, True), (0.8, True)]
    cases = []
    for p, training in settings:
        x = torch.rand(200, 100, generator=gen) + 0.5  # no zeros of its own
        cases.append(Case(f"x (200, 100), p={p}, training={training}", (x, p, training), {}, None))
    return cases


def dropout_like(got: Any, case: Case) -> str | None:
    """Every kept value is x / (1 - p), the others 0, and the share of zeros is within
    five standard deviations of p; in evaluation mode the input comes back unchanged."""
    x, p, training = case.args
    if not isinstance(got, torch.Tensor) or got.shape != x.shape:
        return tensor_difference(got, x, 0.0, 0.0) or "wrong shape"
    if not training or p == 0:
        return tensor_difference(got, x, 1e-7, 1e-6)
    dropped = got == 0
    if p == 1:
        return None if bool(dropped.all()) else "with p=1 every value must be dropped"
    kept_ok = torch.isclose(got[~dropped], x[~dropped] / (1 - p), rtol=1e-5, atol=1e-6)
    if not bool(kept_ok.all()):
        return "kept values must be scaled by 1/(1-p) (inverted dropout)"
    share = float(dropped.float().mean())
    spread = 5 * math.sqrt(p * (1 - p) / x.numel())
    if abs(share - p) > spread:
        return f"{share:.3f} of the values were dropped, expected about {p}"
    return None


def _init_cases(seed: int) -> list[Case]:
    shapes = [(300, 200), (256, 64, 3, 3), (100, 400), (64, 32, 5, 5)]
    rng = random.Random(seed)
    return [
        Case(f"shape {shape}", (shape,), {"gain": rng.choice([1.0, 2**0.5])}, None)
        for shape in shapes
    ]


def _he_cases(seed: int) -> list[Case]:
    return [
        Case(f"shape {shape}", (shape,), {}, None)
        for shape in [(300, 200), (256, 64, 3, 3), (100, 400)]
    ]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    field = math.prod(shape[2:])
    return shape[1] * field, shape[0] * field


def _check_random_tensor(got: Any, shape, std: float, bound: float | None) -> str | None:
    if not isinstance(got, torch.Tensor):
        return f"expected a torch.Tensor, got {type(got).__name__}"
    if tuple(got.shape) != tuple(shape):
        return f"shape {tuple(got.shape)}, expected {tuple(shape)}"
    if not got.is_floating_point():
        return f"dtype {got.dtype}, expected a floating-point tensor"
    if bound is not None and float(got.abs().max()) > bound * (1 + 1e-6):
        return f"values reach {float(got.abs().max()):.4g}, beyond the bound {bound:.4g}"
    measured = float(got.std())
    if abs(measured - std) > 0.05 * std:
        return f"standard deviation {measured:.4g}, expected {std:.4g}"
    if abs(float(got.mean())) > 0.05 * std:
        return f"mean {float(got.mean()):.3g}, expected about 0"
    return None


def xavier_uniform_like(got: Any, case: Case) -> str | None:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)): bounded by a, std a/sqrt(3)."""
    (shape,) = case.args
    fan_in, fan_out = _fans(shape)
    a = case.kwargs["gain"] * math.sqrt(6 / (fan_in + fan_out))
    return _check_random_tensor(got, shape, a / math.sqrt(3), a)


def he_normal_like(got: Any, case: Case) -> str | None:
    """N(0, 2 / fan_in): the standard deviation sqrt(2 / fan_in), no bound."""
    (shape,) = case.args
    fan_in, _ = _fans(shape)
    return _check_random_tensor(got, shape, math.sqrt(2 / fan_in), None)


def _label_smoothing_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    settings = [(4, 3, 0.1), (1, 5, 0.0), (6, 10, 0.2), (3, 4, 1.0)]
    while len(settings) < 6:
        settings.append((rng.randint(1, 8), rng.randint(2, 10), rng.choice([0.05, 0.3, 0.5])))
    cases = []
    for n, c, eps in settings:
        logits = torch.randn(n, c, generator=gen) * 3
        targets = torch.randint(0, c, (n,), generator=gen)
        expected = F.cross_entropy(logits, targets, label_smoothing=eps)
        cases.append(Case(f"logits {(n, c)}, eps={eps}", (logits, targets, eps), {}, expected))
    return cases


def early_stopping_reference(losses: list[float], patience: int, min_delta: float) -> list[bool]:
    """The rule of the exercise: stop once `patience` epochs in a row failed to improve
    the best loss by more than `min_delta`."""
    best, waited, answers = math.inf, 0, []
    for loss in losses:
        if loss < best - min_delta:
            best, waited = loss, 0
        else:
            waited += 1
        answers.append(waited >= patience)
    return answers


def _early_stopping_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    curves = [
        ([1.0, 0.8, 0.7, 0.71, 0.72, 0.73, 0.69, 0.7], 2, 0.0),
        ([1.0, 0.9, 0.8, 0.7, 0.6], 1, 0.0),
        ([0.5, 0.49, 0.48, 0.47], 2, 0.05),
    ]
    while len(curves) < 6:
        losses = [
            round(1.0 / (1 + 0.3 * t) + rng.uniform(-0.05, 0.08) * (t > 4), 4) for t in range(12)
        ]
        curves.append((losses, rng.randint(1, 4), rng.choice([0.0, 0.01])))
    return [
        Case(f"patience={patience}, min_delta={delta}, losses={losses}", (patience,),
             {"min_delta": delta}, early_stopping_reference(losses, patience, delta),
             inputs=tuple((loss,) for loss in losses), method="step")
        for losses, patience, delta in curves
    ]  # fmt: skip


def same_answers(got: Any, case: Case) -> str | None:
    """The list of booleans `step` returned, epoch by epoch."""
    if not isinstance(got, list) or any(not isinstance(v, bool) for v in got):
        return "step must return True or False at every epoch"
    if got != case.expected:
        first = next(i for i, (a, b) in enumerate(zip(got, case.expected, strict=True)) if a != b)
        return f"epoch {first}: step returned {got[first]}, expected {case.expected[first]}"
    return None


NORMS = frozenset({"batch_norm", "BatchNorm2d", "BatchNorm1d", "group_norm", "GroupNorm",
                   "layer_norm", "LayerNorm", "instance_norm", "InstanceNorm2d",
                   "cnnbook"})  # fmt: skip
NORM_OPS = NORMALIZATION
INIT = frozenset({"init", "xavier_uniform_", "kaiming_normal_", "cnnbook"})

# Points per exercise, next to the cases that earn them; the chapter is worth 14.
EXERCISES = (
    Exercise("batch_norm", 3, _batch_norm_cases,
             close_tensors(("output", "running_mean", "running_var"), 1e-9, 1e-7), NORMS,
             NORM_OPS),
    Exercise("group_norm", 2, _group_norm_cases, close_tensor(1e-9, 1e-7), NORMS, NORM_OPS),
    Exercise("dropout", 2, _dropout_cases, dropout_like,
             frozenset({"dropout", "Dropout", "cnnbook"})),
    Exercise("label_smoothing_ce", 2, _label_smoothing_cases, close_tensor(1e-5, 1e-5),
             frozenset({"cross_entropy", "CrossEntropyLoss", "label_smoothing", "cnnbook"})),
    Exercise("xavier_uniform", 1, _init_cases, xavier_uniform_like, INIT),
    Exercise("he_normal", 1, _he_cases, he_normal_like, INIT),
    Exercise("EarlyStopping", 3, _early_stopping_cases, same_answers, frozenset({"cnnbook"})),
)  # fmt: skip
