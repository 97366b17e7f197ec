"""Chapter 4 (Activation functions): the exercises, their cases and their points.

Values come from PyTorch's functions and every derivative from autograd; the maxout
reference is built from `nn.functional.linear` and a max over the pieces.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from cnnbook.grading.checks import Case, Exercise, close_tensor, close_tensors
from cnnbook.grading.operators import AUTOGRAD, aten_operators

NOTEBOOK = "04-activations"
FUNCTIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
}


def _inputs(seed: int) -> list[torch.Tensor]:
    """Shapes of several ranks, large magnitudes, and exact zeros (where ReLU kinks)."""
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0], dtype=torch.float64),
        torch.randn(4, 5, generator=gen, dtype=torch.float64) * 4,
        torch.tensor([-40.0, 40.0, 0.0], dtype=torch.float64),
        torch.randn(2, 3, 4, generator=gen, dtype=torch.float64),
    ]


def _value_and_grad(fn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    leaf = x.clone().requires_grad_()
    y = fn(leaf)
    (grad,) = torch.autograd.grad(y.sum(), leaf)
    return y.detach(), grad


def _elementwise_cases(name: str):
    def cases(seed: int) -> list[Case]:
        return [
            Case(f"x {tuple(x.shape)}", (x,), {}, _value_and_grad(FUNCTIONS[name], x))
            for x in _inputs(seed)
        ]

    return cases


def _leaky_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    slopes = [0.01, 0.2, rng.choice([0.05, 0.3]), 0.1]
    return [
        Case(f"x {tuple(x.shape)}, negative_slope={slope}", (x, slope), {},
             _value_and_grad(lambda t, s=slope: F.leaky_relu(t, s), x))
        for x, slope in zip(_inputs(seed), slopes, strict=True)
    ]  # fmt: skip


def _softmax_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    vectors = [torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64),
               torch.tensor([1000.0, 0.0, -1000.0], dtype=torch.float64)]  # fmt: skip
    while len(vectors) < 5:
        vectors.append(torch.randn(rng.randint(1, 6), generator=gen, dtype=torch.float64) * 3)
    cases = []
    for z in vectors:
        p = torch.softmax(z, 0)
        jacobian = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, 0), z)
        cases.append(Case(f"z of length {len(z)}", (z,), {}, (p, jacobian)))
    return cases


def _maxout_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    shapes = [(1, 3, 2, 2), (5, 4, 3, 3)]  # (batch, inputs, outputs, pieces)
    while len(shapes) < 5:
        shapes.append((rng.randint(1, 6), rng.randint(1, 6), rng.randint(1, 5), rng.randint(1, 4)))
    cases = []
    for n, d, m, k in shapes:
        x = torch.randn(n, d, generator=gen, dtype=torch.float64)
        weight = torch.randn(m, k, d, generator=gen, dtype=torch.float64)
        bias = torch.randn(m, k, generator=gen, dtype=torch.float64)
        pieces = F.linear(x, weight.reshape(m * k, d), bias.reshape(m * k)).reshape(n, m, k)
        cases.append(Case(f"x {(n, d)}, {m} outputs of {k} pieces", (x, weight, bias), {},
                          pieces.amax(dim=2)))  # fmt: skip
    return cases


def grad_norms_reference(weights, activation: str, x: torch.Tensor) -> torch.Tensor:
    """The network of exercise 7, differentiated by autograd."""
    leaves = [w.clone().requires_grad_() for w in weights]
    h = x
    for w in leaves:
        h = FUNCTIONS[activation](h @ w.T)
    return torch.stack([g.norm() for g in torch.autograd.grad(h.sum(), leaves)])


def _grad_norm_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    settings = [("sigmoid", 3, 4), ("relu", 2, 3), ("tanh", 5, 4)]
    while len(settings) < 6:
        settings.append((rng.choice(list(FUNCTIONS)), rng.randint(1, 8), rng.randint(1, 6)))
    cases = []
    for activation, depth, width in settings:
        weights = [torch.randn(width, width, generator=gen, dtype=torch.float64) / width**0.5
                   for _ in range(depth)]  # fmt: skip
        x = torch.randn(rng.randint(1, 5), width, generator=gen, dtype=torch.float64)
        expected = grad_norms_reference(weights, activation, x)
        description = f"{depth} {activation} layers of width {width}, batch {len(x)}"
        cases.append(Case(description, (weights, activation, x), {}, expected))
    return cases


PAIR = ("value", "derivative")
SAME = 1e-10, 1e-8
DERIVATIVES = frozenset({"backward", "autograd", "grad", "jacobian", "cnnbook"})


def _ops(pattern: str) -> frozenset[str]:
    """Watched at run time: automatic differentiation, and every operator (forward and
    backward) whose name matches `pattern`, read from the dispatcher."""
    return frozenset({AUTOGRAD, *aten_operators(pattern)})


# Points per exercise, next to the cases that earn them; the chapter is worth 10.
EXERCISES = (
    Exercise("sigmoid_and_grad", 1, _elementwise_cases("sigmoid"), close_tensors(PAIR, *SAME),
             DERIVATIVES | {"sigmoid", "Sigmoid"},
             _ops(r"sigmoid|expit|silu")),
    Exercise("tanh_and_grad", 1, _elementwise_cases("tanh"), close_tensors(PAIR, *SAME),
             DERIVATIVES | {"tanh", "Tanh"}, _ops(r"^tanh")),
    Exercise("relu_and_grad", 1, _elementwise_cases("relu"), close_tensors(PAIR, *SAME),
             DERIVATIVES | {"relu", "ReLU"}, _ops(r"^_?relu|threshold")),
    Exercise("leaky_relu_and_grad", 1, _leaky_cases, close_tensors(PAIR, *SAME),
             DERIVATIVES | {"leaky_relu", "LeakyReLU"},
             _ops(r"leaky_relu|rrelu|prelu")),
    Exercise("softmax_and_jacobian", 2, _softmax_cases,
             close_tensors(("softmax", "jacobian"), *SAME),
             DERIVATIVES | {"softmax", "Softmax", "log_softmax"},
             _ops(r"softmax")),
    Exercise("maxout", 2, _maxout_cases, close_tensor(*SAME), frozenset({"cnnbook"})),
    Exercise("grad_norms_per_layer", 2, _grad_norm_cases, close_tensor(1e-9, 1e-7),
             frozenset({"cnnbook"})),
)  # fmt: skip
