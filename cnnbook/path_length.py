"""Chapter 10's "path length one": how much of the gradient reaches the first input from
the last output, in an LSTM and in a Transformer, before any training.

A recurrence passes the first input to the last output through every step in between,
and the gradient on its way back is multiplied by one Jacobian per step, so it fades
exponentially with the length (Chapter 9). Self-attention connects every pair of
positions directly: the first input reaches the last output in one step whatever the
length, and only the attention weight it gets (about 1 / length at initialization)
dilutes it.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnbook import runtime
from cnnbook.data.sequences import adding_problem
from cnnbook.models.recurrent import SequenceRegressor
from cnnbook.models.transformer import TransformerRegressor


def input_gradient_norms(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """||d y_T / d x_t|| for t = 1..T, where y_T is the model's output at the last step
    summed over the batch, and the norm runs over the batch and the input features.

    Entry t says how strongly the input at step t can move the last prediction, which
    is also how much of the last prediction's error reaches step t in training."""
    x = x.detach().requires_grad_()
    (grad,) = torch.autograd.grad(model(x)[:, -1].sum(), x)
    return grad.norm(dim=(0, 2))


def init_models(dim: int = 32) -> dict[str, nn.Module]:
    """A fresh LSTM (Chapter 9's `SequenceRegressor`, `dim` hidden units) and a fresh
    two-layer `TransformerRegressor` of width `dim`, for the adding problem's 2 input
    features, with PyTorch's default initializations (call `cnnbook.seed` first to fix
    them), in float64 so that a vanishing gradient shows how small it gets."""
    return {
        "LSTM": SequenceRegressor("LSTM", inputs=2, hidden=dim).double(),
        "Transformer": TransformerRegressor(inputs=2, dim=dim).double(),
    }


def first_step_gradients(
    lengths: list[int] | range, dim: int = 32, n: int = 16, seed: int = 0
) -> dict[str, list[float]]:
    """`input_gradient_norms` at the first step, for each sequence length, of the models of
    `init_models(dim)` on n adding-problem sequences drawn from `seed`: {"length", "LSTM",
    "Transformer"}, ready to plot on a log scale against the length. The same two models
    read every length, so the curves differ only by the length."""
    models = init_models(dim)
    result: dict[str, list[float]] = {"length": list(lengths), **{name: [] for name in models}}
    for length in lengths:
        x, _ = adding_problem(n, length, runtime.generator(seed + length))
        for name, model in models.items():
            result[name].append(input_gradient_norms(model, x.double())[0].item())
    return result
