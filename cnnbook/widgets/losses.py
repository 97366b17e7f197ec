"""Chapter 2's loss explorer: MSE and cross-entropy for one sigmoid output, and their
gradients with respect to the logit, as the prediction moves from wrong to right."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from cnnbook.widgets import wire

GRID = torch.linspace(0.001, 0.999, 500, dtype=torch.float64)


def losses_and_gradients(
    target: int, p: torch.Tensor
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """For predicted probabilities `p = sigmoid(z)`: each loss and its derivative in z,
    computed by autograd so the curves are exactly what training would use."""
    z = torch.logit(p.double()).requires_grad_()
    q = torch.sigmoid(z)
    y = torch.full_like(q, float(target))
    curves = {
        "MSE (q − y)²": (q - y) ** 2,
        "binary cross-entropy": torch.nn.functional.binary_cross_entropy(q, y, reduction="none"),
    }
    result = {}
    for name, loss in curves.items():
        (grad,) = torch.autograd.grad(loss.sum(), z, retain_graph=True)
        result[name] = (loss.detach(), grad)
    return result


def render_loss_explorer(target: int = 1, prediction: float = 0.05) -> Figure:
    """Loss (left) and gradient with respect to the logit (right) against the predicted
    probability, with the current prediction marked and its values in the legend."""
    curves = losses_and_gradients(target, GRID)
    here = losses_and_gradients(target, torch.tensor([prediction], dtype=torch.float64))
    fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(6.8, 3.2))
    for (name, (loss, grad)), colour in zip(curves.items(), ("tab:blue", "tab:red"), strict=True):
        loss_here, grad_here = (float(v) for v in here[name])
        ax_loss.plot(GRID, loss, color=colour, label=f"{name}: {loss_here:.3g}")
        ax_grad.plot(GRID, grad, color=colour, label=f"{name}: {grad_here:.3g}")
        ax_loss.plot([prediction], [loss_here], "o", color=colour)
        ax_grad.plot([prediction], [grad_here], "o", color=colour)
    for ax in (ax_loss, ax_grad):
        ax.axvline(prediction, color="grey", ls=":")
        ax.set_xlabel(f"predicted probability of class 1\n(the target is {target})")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    ax_loss.set(ylabel="loss", title="Loss", ylim=(0, 5))
    ax_grad.set(ylabel="∂loss / ∂logit", title="Gradient reaching the logit")
    fig.tight_layout()
    return fig


def loss_explorer():
    """A target toggle and a prediction slider wired to `render_loss_explorer`."""
    import ipywidgets as widgets

    controls = {
        "target": widgets.ToggleButtons(options=[0, 1], value=1, description="target"),
        "prediction": widgets.FloatSlider(value=0.05, min=0.001, max=0.999, step=0.001,
                                          description="prediction", readout_format=".3f"),
    }  # fmt: skip

    return wire(
        render_loss_explorer,
        controls,
        [["target", "prediction"]],
        static={
            "target": None,
            "prediction": [0.001, 0.01, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999],
        },
    )
