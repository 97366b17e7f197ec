"""Measurements the chapters use to check a formula against what PyTorch actually does.

A formula in prose is only trusted once a measurement agrees with it; these helpers make
the measurement a one-liner.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
from torch import nn


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters, the figure papers quote as a model's size."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def empirical_receptive_field(layers: Sequence[tuple[int, int, int]]) -> int:
    """Receptive field of a stack of 1-D convolutions, measured with autograd.

    Each layer is ``(kernel_size, stride, dilation)``. We build the stack with all-ones
    weights, back-propagate from one output position and measure the extent of the input
    positions that receive a gradient, from the first to the last. (With dilation or
    strides the field can have holes; like the literature, we report its extent.) This
    is independent of any formula, so it can check one.
    """
    span, jump = 1, 1  # a generous upper bound on the field, so no border clips it
    for kernel, stride, dilation in layers:
        span += kernel * dilation * jump
        jump *= stride
    length = 2 * span + 2 * jump
    x = torch.zeros(1, 1, length, dtype=torch.float64, requires_grad=True)
    h = x
    for kernel, stride, dilation in layers:
        weight = torch.ones(1, 1, kernel, dtype=torch.float64)
        h = torch.nn.functional.conv1d(h, weight, stride=stride, dilation=dilation)
    h[0, 0, h.shape[-1] // 2].backward()
    seen = torch.nonzero(x.grad[0, 0]).flatten()
    return int(seen.max() - seen.min() + 1)


def time_call(fn: Callable[[], object], repeat: int = 5) -> float:
    """Best wall time of `repeat` calls in seconds; the minimum is the least noisy estimate."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best
