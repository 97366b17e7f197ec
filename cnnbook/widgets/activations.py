"""Chapter 4's activation explorer: a function, its derivative, and what depth does to
the gradients of a plain deep network built with it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from cnnbook import runtime
from cnnbook.widgets import wire

ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "ReLU": torch.relu,
    "leaky ReLU": lambda x: F.leaky_relu(x, 0.01),  # the slope Chapter 4 uses throughout
}


def gradient_norms(
    activation: str, depth: int = 20, width: int = 64, seed: int = 0
) -> torch.Tensor:
    """Frobenius norm of the loss gradient for each layer's weights, first layer first.

    A plain MLP of `depth` linear layers (no biases, LeCun-normal weights: variance
    1/width) with `activation` after each, on a batch of 256 standard-normal inputs,
    with loss = sum of the outputs. Everything is fixed by `seed`, so only the
    activation and the depth change between calls.
    """
    gen = runtime.generator(seed)
    weights = [
        (torch.randn(width, width, generator=gen) / width**0.5).requires_grad_()
        for _ in range(depth)
    ]
    h = torch.randn(256, width, generator=gen)
    for w in weights:
        h = ACTIVATIONS[activation](h @ w.T)
    grads = torch.autograd.grad(h.sum(), weights)
    return torch.stack([g.norm() for g in grads])


def render_activation_explorer(activation: str = "sigmoid", depth: int = 20) -> Figure:
    """Left: the function and its derivative (by autograd). Right: per-layer gradient
    norms of a `depth`-layer network for every activation, the chosen one highlighted."""
    x = torch.linspace(-5, 5, 401, requires_grad=True)
    y = ACTIVATIONS[activation](x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    fig, (ax_f, ax_g) = plt.subplots(1, 2, figsize=(6.8, 3.2))
    ax_f.plot(x.detach(), y.detach(), label=f"{activation}(x)")
    ax_f.plot(x.detach(), dy, "--", label="derivative")
    ax_f.axhline(0, color="grey", lw=0.5)
    ax_f.set(xlabel="x", ylabel="value", title=f"{activation} and its derivative", ylim=(-1.5, 2))
    ax_f.legend(fontsize=8)
    layers = range(1, depth + 1)
    for name in ACTIVATIONS:
        norms = gradient_norms(name, depth)
        ax_g.semilogy(layers, norms, "o-", ms=3, lw=2.5 if name == activation else 1,
                      alpha=1.0 if name == activation else 0.35, label=name)  # fmt: skip
    ax_g.set(xlabel="layer (1 = next to the input)", ylabel="‖∂loss/∂W‖ (log scale)",
             title=f"Gradient norms through {depth} layers")  # fmt: skip
    ax_g.legend(fontsize=8)
    ax_g.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def activation_explorer():
    """An activation menu and a depth slider wired to `render_activation_explorer`."""
    import ipywidgets as widgets

    controls = {
        "activation": widgets.Dropdown(options=list(ACTIVATIONS), description="activation"),
        "depth": widgets.IntSlider(value=20, min=2, max=50, description="depth"),
    }

    return wire(
        render_activation_explorer,
        controls,
        [["activation", "depth"]],
        static={"activation": None, "depth": [5, 10, 20, 30, 50]},
    )
