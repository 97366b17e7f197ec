"""Chapter 1 (Convolution): the exercises, their cases and their points.

References come from PyTorch itself (`F.conv2d`, `F.max_pool2d`, `nn.Conv2d`) or from an
autograd measurement (receptive field), never from our own solutions, so a wrong
solution notebook cannot make a wrong reference.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.grading.checks import Case, Exercise, close_tensor, same_int
from cnnbook.grading.operators import CONVOLUTION, POOLING
from cnnbook.measure import empirical_receptive_field

NOTEBOOK = "01-convolution"  # the exercise notebook's name, as students download it


def _output_size_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    settings = [(32, 3, 0, 1, 1), (32, 3, 1, 1, 1), (32, 3, 1, 2, 1), (7, 3, 0, 1, 2)]
    while len(settings) < 10:
        size, kernel = rng.randint(1, 40), rng.randint(1, 7)
        padding, stride, dilation = rng.randint(0, 3), rng.randint(1, 4), rng.randint(1, 3)
        if dilation * (kernel - 1) + 1 <= size + 2 * padding:
            settings.append((size, kernel, padding, stride, dilation))
    cases = []
    for size, kernel, padding, stride, dilation in settings:
        out = F.conv1d(
            torch.zeros(1, 1, size),
            torch.zeros(1, 1, kernel),
            stride=stride,
            padding=padding,
            dilation=dilation,
        )
        cases.append(
            Case(
                f"size={size}, kernel={kernel}, padding={padding}, "
                f"stride={stride}, dilation={dilation}",
                (size, kernel, padding, stride, dilation),
                {},
                out.shape[-1],
            )
        )
    return cases


def _conv_cases(seed: int) -> list[Case]:
    """A small single-channel case first (easy to debug), a fixed hard one (batch of one,
    odd channel counts, non-square input and kernel, stride, padding and dilation
    together), then random ones drawn from the seed."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    shapes = [
        ((1, 1, 5, 5), (1, 1, 3, 3), False, 1, 0, 1),
        ((1, 3, 9, 7), (5, 3, 3, 2), True, 2, 1, 2),
    ]
    while len(shapes) < 7:
        n, c, o = rng.randint(1, 2), rng.randint(1, 3), rng.randint(1, 4)
        kh, kw = rng.randint(1, 3), rng.randint(1, 3)
        stride, padding, dilation = rng.randint(1, 2), rng.randint(0, 2), rng.randint(1, 2)
        h, w = rng.randint(4, 9), rng.randint(4, 9)
        if dilation * (max(kh, kw) - 1) + 1 <= min(h, w) + 2 * padding:
            shapes.append(
                ((n, c, h, w), (o, c, kh, kw), rng.random() < 0.5, stride, padding, dilation)
            )
    cases = []
    for x_shape, w_shape, with_bias, stride, padding, dilation in shapes:
        x = torch.randn(x_shape, generator=gen)
        weight = torch.randn(w_shape, generator=gen)
        bias = torch.randn(w_shape[0], generator=gen) if with_bias else None
        expected = F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)
        cases.append(
            Case(
                f"x {x_shape}, weight {w_shape}, bias={'yes' if with_bias else 'None'}, "
                f"stride={stride}, padding={padding}, dilation={dilation}",
                (x, weight, bias),
                {"stride": stride, "padding": padding, "dilation": dilation},
                expected,
            )
        )
    return cases


def _pool_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    settings = [((1, 1, 4, 4), 2, None, 0), ((1, 3, 7, 6), 3, 2, 1)]
    while len(settings) < 7:
        kernel = rng.randint(1, 3)
        stride = rng.choice([None, 1, 2])
        padding = rng.randint(0, kernel // 2)
        shape = (
            rng.randint(1, 2),
            rng.randint(1, 3),
            rng.randint(kernel, 9),
            rng.randint(kernel, 9),
        )
        settings.append((shape, kernel, stride, padding))
    cases = []
    for shape, kernel, stride, padding in settings:
        x = torch.randn(shape, generator=gen)
        expected = F.max_pool2d(x, kernel, stride=stride, padding=padding)
        cases.append(
            Case(
                f"x {shape}, kernel_size={kernel}, stride={stride}, padding={padding}",
                (x, kernel),
                {"stride": stride, "padding": padding},
                expected,
            )
        )
    return cases


def _param_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    settings = [(128, 64, 3, True), (128, 64, 3, False), (256, 64, 1, True)]
    while len(settings) < 8:
        kernel = rng.choice([rng.randint(1, 7), (rng.randint(1, 7), rng.randint(1, 7))])
        settings.append((rng.randint(1, 512), rng.randint(1, 512), kernel, rng.random() < 0.7))
    cases = []
    for c_in, c_out, kernel, bias in settings:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            layer = nn.Conv2d(c_in, c_out, kernel, bias=bias)
        expected = sum(p.numel() for p in layer.parameters())
        cases.append(
            Case(
                f"in={c_in}, out={c_out}, kernel_size={kernel}, bias={bias}",
                (c_in, c_out, kernel),
                {"bias": bias},
                expected,
            )
        )
    return cases


def _receptive_field_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    stacks = [
        [(3, 1, 1)],
        [(3, 1, 1), (3, 1, 1)],
        [(5, 1, 1)],
        [(3, 1, 1)] * 3,
        [(7, 2, 1), (3, 2, 1), (3, 1, 1)],
        [(3, 1, 2), (3, 1, 4)],
    ]
    while len(stacks) < 10:
        depth = rng.randint(1, 5)
        stacks.append(
            [(rng.randint(1, 5), rng.randint(1, 3), rng.randint(1, 3)) for _ in range(depth)]
        )
    return [
        Case(f"layers={stack}", (stack,), {}, empirical_receptive_field(stack)) for stack in stacks
    ]


CONV = frozenset(
    {
        "conv1d",
        "conv2d",
        "conv3d",
        "Conv1d",
        "Conv2d",
        "Conv3d",
        "convolution",
        "_convolution",
        "_conv_forward",
        "cnnbook",
    }
)
POOL = frozenset(
    {
        "max_pool2d",
        "MaxPool2d",
        "max_pool2d_with_indices",
        "adaptive_max_pool2d",
        "AdaptiveMaxPool2d",
        "cnnbook",
    }
)

# The operators behind every convolution and pooling, whatever Python name reaches them
# (F.conv2d, nn.Conv2d, torch.ops.aten.convolution_backward, ...), read from the dispatcher.
CONV_OPS = CONVOLUTION
POOL_OPS = POOLING
CONV_OR_AUTOGRAD = CONV_OPS | {"autograd"}  # receptive field: the reference's measurement

# Points per exercise, next to the cases that earn them; the chapter is worth 12.
EXERCISES = (
    Exercise("conv_output_size", 1, _output_size_cases, same_int, CONV, CONV_OPS),
    Exercise("conv2d_naive", 3, _conv_cases, close_tensor(atol=1e-4, rtol=1e-4), CONV, CONV_OPS),
    Exercise("conv2d_unfold", 3, _conv_cases, close_tensor(atol=1e-4, rtol=1e-4), CONV,
             CONV_OPS),
    Exercise("max_pool2d", 2, _pool_cases, close_tensor(atol=0.0, rtol=0.0), POOL, POOL_OPS),
    Exercise("count_conv_params", 1, _param_cases, same_int, CONV),
    Exercise("receptive_field", 2, _receptive_field_cases, same_int,
             frozenset({"empirical_receptive_field", "cnnbook", "conv1d"}), CONV_OR_AUTOGRAD),
)  # fmt: skip
