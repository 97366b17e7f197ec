"""Chapter 2 (Backpropagation and losses): the exercises, their cases and their points.

Every reference gradient comes from autograd (of `F.linear`, `F.conv2d`, ...) and every
reference loss from `F.cross_entropy`, so the answers are PyTorch's, not ours.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from cnnbook.grading.checks import Case, Exercise, close_tensor, close_tensors
from cnnbook.grading.child.calls import FUNCTIONS
from cnnbook.grading.operators import CONVOLUTION_GRADIENTS, SOFTMAX

NOTEBOOK = "02-backprop-and-losses"


def _linear_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    shapes = [(1, 1, 1), (4, 3, 2), (1, 5, 7)]  # (batch, in, out): a batch of one included
    while len(shapes) < 6:
        shapes.append((rng.randint(1, 8), rng.randint(1, 9), rng.randint(1, 9)))
    cases = []
    for n, d_in, d_out in shapes:
        x = torch.randn(n, d_in, generator=gen, dtype=torch.float64)
        weight = torch.randn(d_out, d_in, generator=gen, dtype=torch.float64)
        grad_output = torch.randn(n, d_out, generator=gen, dtype=torch.float64)
        xr, wr = x.clone().requires_grad_(), weight.clone().requires_grad_()
        br = torch.zeros(d_out, dtype=torch.float64, requires_grad=True)
        F.linear(xr, wr, br).backward(grad_output)
        expected = (xr.grad, wr.grad, br.grad)
        cases.append(
            Case(
                f"x {tuple(x.shape)}, weight {tuple(weight.shape)}",
                (x, weight, grad_output),
                {},
                expected,
            )
        )
    return cases


def mlp_loss(x, w1, b1, w2, b2, y):
    """The network of the exercise: linear, ReLU, linear, mean cross-entropy."""
    return F.cross_entropy(F.linear(F.relu(F.linear(x, w1, b1)), w2, b2), y)


def _mlp_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    shapes = [(1, 2, 3, 2), (5, 4, 6, 3)]  # (batch, inputs, hidden, classes)
    while len(shapes) < 6:
        shapes.append((rng.randint(1, 8), rng.randint(1, 6), rng.randint(1, 8), rng.randint(2, 5)))
    cases = []
    for n, d, h, c in shapes:
        x = torch.randn(n, d, generator=gen, dtype=torch.float64)
        params = [
            torch.randn(h, d, generator=gen, dtype=torch.float64),
            torch.randn(h, generator=gen, dtype=torch.float64),
            torch.randn(c, h, generator=gen, dtype=torch.float64),
            torch.randn(c, generator=gen, dtype=torch.float64),
        ]
        y = torch.randint(0, c, (n,), generator=gen)
        leaves = [p.clone().requires_grad_() for p in params]
        expected = torch.autograd.grad(mlp_loss(x, *leaves, y), leaves)
        cases.append(
            Case(
                f"x {tuple(x.shape)}, hidden {h}, classes {c}", (x, *params, y), {}, tuple(expected)
            )
        )
    return cases


def _cross_entropy_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    cases = []
    settings = [(1, 2, 1.0), (4, 3, 1.0), (3, 5, 1000.0), (2, 4, -1000.0)]  # huge logits too
    while len(settings) < 7:
        settings.append((rng.randint(1, 8), rng.randint(2, 10), rng.choice([1.0, 10.0, 300.0])))
    for n, c, scale in settings:
        logits = torch.randn(n, c, generator=gen) * abs(scale)
        if scale < 0:
            logits = logits - 1000.0
        targets = torch.randint(0, c, (n,), generator=gen)
        expected = F.cross_entropy(logits, targets)
        cases.append(
            Case(
                f"logits {tuple(logits.shape)} of scale {scale:g}", (logits, targets), {}, expected
            )
        )
    return cases


def _conv_backward_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    # (batch, in channels, out channels, height, width, kernel height, kernel width): one
    # channel, several, a non-square kernel and input, a 1 x 1 kernel, a kernel as big as
    # the input
    shapes = [(1, 1, 1, 4, 4, 2, 2), (2, 3, 4, 6, 5, 3, 3), (1, 2, 3, 5, 7, 2, 3)]
    shapes += [(2, 4, 2, 3, 3, 1, 1), (1, 2, 2, 3, 4, 3, 4)]
    while len(shapes) < 8:
        kh, kw = rng.randint(1, 4), rng.randint(1, 4)
        shapes.append((rng.randint(1, 3), rng.randint(1, 5), rng.randint(1, 5),
                       kh + rng.randint(0, 5), kw + rng.randint(0, 5), kh, kw))  # fmt: skip
    cases = []
    for n, c, o, h, w, kh, kw in shapes:
        x = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
        weight = torch.randn(o, c, kh, kw, generator=gen, dtype=torch.float64)
        grad_output = torch.randn(n, o, h - kh + 1, w - kw + 1, generator=gen, dtype=torch.float64)
        leaves = [x.clone().requires_grad_(), weight.clone().requires_grad_(),
                  torch.zeros(o, dtype=torch.float64, requires_grad=True)]  # fmt: skip
        expected = torch.autograd.grad(F.conv2d(*leaves), leaves, grad_output)
        cases.append(
            Case(
                f"x {tuple(x.shape)}, weight {tuple(weight.shape)}",
                (x, weight, grad_output),
                {},
                tuple(expected),
            )
        )
    return cases


def _grad_check_cases(seed: int) -> list[Case]:
    gen = torch.Generator().manual_seed(seed)
    names = list(FUNCTIONS)
    order = [names[(seed + i) % len(names)] for i in range(len(names))]
    cases = []
    for index, name in enumerate(order):
        shape = (3,) if index == 0 else (2, 3) if index % 2 else (4,)
        x = torch.randn(shape, generator=gen, dtype=torch.float64)
        leaf = x.clone().requires_grad_()
        (expected,) = torch.autograd.grad(FUNCTIONS[name](leaf), leaf)
        cases.append(Case(f"f={name}, x {tuple(shape)}", ({"__function__": name}, x), {}, expected))
    return cases


GRADIENTS = frozenset(
    {"backward", "autograd", "grad", "gradcheck", "jacobian", "vjp", "jvp", "cnnbook"}
)
CROSS_ENTROPY = frozenset(
    {"cross_entropy", "CrossEntropyLoss", "log_softmax", "LogSoftmax", "nll_loss", "NLLLoss",
     "logsumexp", "cnnbook"}
)  # fmt: skip
AUTOGRAD = frozenset({"autograd"})  # watched at run time: an operator on a tensor needing grad
# The library's own answers to the convolution exercise: the transposed convolution is
# its input gradient, `torch.nn.grad` and `convolution_backward` compute all of them.
CONV_GRADIENTS = GRADIENTS | {
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "ConvTranspose1d",
    "ConvTranspose2d", "ConvTranspose3d", "convolution_backward", "conv2d_input", "conv2d_weight",
}  # fmt: skip
CONV_GRADIENT_OPS = AUTOGRAD | CONVOLUTION_GRADIENTS
CROSS_ENTROPY_OPS = SOFTMAX
LINEAR_GRADS = ("grad_x", "grad_weight", "grad_bias")
MLP_GRADS = ("grad_w1", "grad_b1", "grad_w2", "grad_b2")

# Points per exercise, next to the cases that earn them; the chapter is worth 13.
EXERCISES = (
    Exercise("linear_backward", 2, _linear_cases, close_tensors(LINEAR_GRADS, 1e-8, 1e-6),
             GRADIENTS, AUTOGRAD),
    Exercise("mlp_backward", 3, _mlp_cases, close_tensors(MLP_GRADS, 1e-8, 1e-6), GRADIENTS,
             AUTOGRAD),
    Exercise("cross_entropy_from_logits", 3, _cross_entropy_cases, close_tensor(1e-4, 1e-5),
             CROSS_ENTROPY, CROSS_ENTROPY_OPS),
    Exercise("grad_check", 2, _grad_check_cases, close_tensor(1e-6, 1e-5), GRADIENTS,
             AUTOGRAD),
    Exercise("conv2d_backward", 3, _conv_backward_cases, close_tensors(LINEAR_GRADS, 1e-8, 1e-6),
             CONV_GRADIENTS, CONV_GRADIENT_OPS),
)  # fmt: skip
