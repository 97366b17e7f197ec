"""Chapter 10's first experiment: reversing digit strings with an encoder-decoder, with
and without attention, and accuracy measured length by length.

Without attention the decoder knows the source only through one vector of fixed size,
so the longer the string the more it must cram into it and the more digits come out
wrong; with attention it looks each digit up where it is, and length barely matters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnnbook import runtime
from cnnbook.data.sequences import PAD, digit_reversal
from cnnbook.models.seq2seq import EncoderDecoder
from cnnbook.training import StepLosses, train_by_steps


def train_reversal(
    model: EncoderDecoder,
    steps: int,
    device: torch.device | str,
    min_length: int,
    max_length: int,
    batch_size: int = 128,
    lr: float = 0.01,
    max_norm: float = 1.0,
    every: int = 50,
    seed: int = 0,
) -> StepLosses:
    """Adam with teacher forcing on fresh batches of digit reversals of mixed lengths.

    Teacher forcing feeds the decoder the true previous token, not its own guess, so
    every step of every sequence is trained in one pass from the first update on. The
    batches are drawn from `seed` alone, so two models trained with the same seed see
    the same strings in the same order."""
    model.to(device)
    batches = runtime.generator(seed)

    def step_loss() -> torch.Tensor:
        source, target = (
            t.to(device) for t in digit_reversal(batch_size, min_length, max_length, batches)
        )
        logits = model(source, target[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), target[:, 1:].flatten(), ignore_index=PAD)

    return train_by_steps(model, step_loss, steps, lr, max_norm, every)


def reversal_accuracy(
    model: EncoderDecoder, length: int, n: int, device: torch.device | str, seed: int = 1000
) -> tuple[float, float]:
    """Greedy decoding of n fresh strings of one length: the share reversed exactly
    (every digit and the EOS after them right), and the share of digits right.

    The decoder feeds itself its own outputs here, as it must at test time, so this is
    the accuracy a user of the model would see. The strings come from `seed`, which the
    training never uses (it draws from seeds near 0)."""
    source, target = (
        t.to(device) for t in digit_reversal(n, length, generator=runtime.generator(seed))
    )
    model.eval()
    tokens, _ = model.greedy_decode(source, length + 1)
    model.train()
    right = tokens == target[:, 1:]
    exact = right.all(dim=1).float().mean().item()
    return exact, right[:, :length].float().mean().item()


def accuracy_by_length(
    model: EncoderDecoder,
    lengths: range | list[int],
    device: torch.device | str,
    n: int = 500,
    seed: int = 1000,
) -> dict[str, list[float]]:
    """`reversal_accuracy` at each length: {"length", "exact", "per_digit"} as lists,
    ready to plot against each other."""
    result: dict[str, list[float]] = {"length": [], "exact": [], "per_digit": []}
    for length in lengths:
        exact, per_digit = reversal_accuracy(model, length, n, device, seed + length)
        result["length"].append(length)
        result["exact"].append(exact)
        result["per_digit"].append(per_digit)
    return result


def reversal_attention(
    model: EncoderDecoder, length: int, device: torch.device | str, seed: int = 2000
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One string of `length` digits, the model's greedy output, and its attention weights
    (length + 1 output steps, length source positions), for a heat map; all on the CPU.

    Reversal writes the digit at source position length - 1 - i at output step i, so an
    attention that learned the task lights up the anti-diagonal."""
    if model.attention is None:
        raise ValueError("the model has no attention")
    source, _ = digit_reversal(1, length, generator=runtime.generator(seed))
    model.eval()
    tokens, weights = model.greedy_decode(source.to(device), length + 1)
    model.train()
    return source[0], tokens[0].cpu(), weights[0].cpu()


def mirror_weight(weights: torch.Tensor, offset: int = 0) -> float:
    """The mean attention weight on the mirrored source position, moved by `offset`, over
    the digit steps of `reversal_attention`'s weights (length + 1, length).

    Step i writes source digit length - 1 - i, so offset 0 measures the anti-diagonal: 1
    when every step looks only at the digit it writes, about 1 / length when attention is
    spread evenly. A trained decoder here mostly reads digit j at position j + 1
    instead: the one-way encoder's state there read digit j one step earlier and still
    holds it, and it also holds digit j + 1, which the decoder has just written and can
    find by content. Offset 1 measures that line, one column to the right of the
    anti-diagonal (a step whose column falls outside counts 0)."""
    length = weights.shape[1]
    steps = torch.arange(length, device=weights.device)
    columns = length - 1 - steps + offset
    inside = (columns >= 0) & (columns < length)
    return weights[steps[inside], columns[inside]].sum().item() / length
