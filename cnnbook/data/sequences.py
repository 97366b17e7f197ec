"""Generated sequences for Chapter 9: a noisy periodic series and the adding problem.

Both are drawn from a seeded generator, so a chapter, a test and a GPU run see the same
numbers; neither needs a download.
"""

from __future__ import annotations

import math

import torch


def noisy_sine(length: int = 1000, noise: float = 0.2, seed: int = 0) -> torch.Tensor:
    """x_t = sin(2 pi t / 100) + 0.5 sin(2 pi t / 23) + noise * N(0, 1), t = 0..length-1.

    Two incommensurate periods make the series predictable from its recent past without
    being a pure sine a model could reproduce from its phase alone."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float32)
    clean = torch.sin(2 * math.pi * t / 100) + 0.5 * torch.sin(2 * math.pi * t / 23)
    return clean + noise * torch.randn(length, generator=gen)


def adding_problem(
    n: int, length: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """n sequences of the adding problem (Hochreiter & Schmidhuber, 1997).

    Each step carries two features: a value drawn uniformly from [0, 1] and a marker.
    Exactly two steps are marked, one in each half of the sequence, and the target is
    the sum of their values. Returns x of shape (n, length, 2) and y of shape (n,).
    Predicting the mean sum, 1, scores a mean squared error of 1/6 (the variance of a
    sum of two uniforms); to do better, a model must carry a value across up to
    `length` - 1 steps."""
    if length < 2:
        raise ValueError(f"the adding problem needs length >= 2, got {length}")
    values = torch.rand(n, length, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=generator)
    second = torch.randint(half, length, (n,), generator=generator)
    rows = torch.arange(n)
    markers = torch.zeros(n, length)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return torch.stack([values, markers], dim=-1), values[rows, first] + values[rows, second]


PAD, BOS, EOS = 10, 11, 12  # the digits 0-9 are their own tokens
DIGIT_VOCABULARY = 13


def digit_reversal(
    n: int,
    min_length: int,
    max_length: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """n random digit strings and their reversals, a sequence-to-sequence task (Chapter 10).

    Each string has a length drawn uniformly from min_length..max_length (both included;
    max_length defaults to min_length). Returns the source (n, max_length): the digits,
    then PAD; and the target (n, max_length + 2): BOS, the digits reversed, EOS, then PAD.
    A decoder is fed target[:, :-1] and trained to predict target[:, 1:].

    Reversal needs the whole input before the first output, and the first digit read is
    the last one written: a model that squeezes the input into one vector must carry
    every digit to the end, while one that attends can look each digit up again."""
    max_length = min_length if max_length is None else max_length
    if not 1 <= min_length <= max_length:
        raise ValueError(f"need 1 <= min_length <= max_length, got {min_length}, {max_length}")
    lengths = torch.randint(min_length, max_length + 1, (n,), generator=generator)
    digits = torch.randint(0, 10, (n, max_length), generator=generator)
    positions = torch.arange(max_length)
    inside = positions < lengths.unsqueeze(1)
    source = digits.masked_fill(~inside, PAD)
    # position j of the reversal holds digit length - 1 - j
    mirrored = (lengths.unsqueeze(1) - 1 - positions).clamp(min=0)
    reversed_digits = digits.gather(1, mirrored).masked_fill(~inside, PAD)
    target = torch.full((n, max_length + 2), PAD)
    target[:, 0] = BOS
    target[:, 1:-1] = reversed_digits
    target[torch.arange(n), lengths + 1] = EOS
    return source, target
