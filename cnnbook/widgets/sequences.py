"""Chapter 9's explorer: how the gradient reaching step t shrinks or grows with its
distance to the loss, for an RNN, an LSTM and a GRU with the same recurrent gain."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from cnnbook.sequences import CELLS, recurrent_gradient_norms
from cnnbook.widgets import wire

STYLES = {"RNN": "tab:red", "LSTM": "tab:blue", "GRU": "tab:green"}


def render_gradient_explorer(
    length: int = 100, scale: float = 1.0, forget_bias: float = 1.0
) -> Figure:
    """||dL/dh_t|| relative to ||dL/dh_T|| against the distance T - t, log scale, for the
    three cells of `recurrent_gradient_norms` with recurrent gain `scale` (the LSTM's
    forget gate biased by `forget_bias`). A curve below 1 vanishes, above 1 explodes."""
    if length < 2:
        raise ValueError(f"the sequence needs at least 2 steps, got {length}")
    fig, ax = plt.subplots(figsize=(8, 4.2))
    labels = {"RNN": "RNN (tanh)", "LSTM": f"LSTM (forget bias {forget_bias:g})", "GRU": "GRU"}
    for kind in CELLS:
        norms = recurrent_gradient_norms(kind, length, scale, forget_bias=forget_bias)
        relative = (norms / norms[-1]).flip(0)
        ax.semilogy(range(length), relative.clamp_min(1e-300), color=STYLES[kind], lw=2,
                    label=labels[kind])  # fmt: skip
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set(
        xlabel="distance to the loss, T - t (steps)",
        ylabel="‖∂L/∂h_t‖ / ‖∂L/∂h_T‖ (log scale)",
        title=f"Gradients through {length} steps, recurrent gain {scale:g}",
    )
    ax.grid(alpha=0.3, which="major")
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def gradient_explorer():
    """Sliders for the sequence length, the recurrent gain and the LSTM's forget bias,
    wired to `render_gradient_explorer`."""
    import ipywidgets as widgets

    controls = {
        "length": widgets.IntSlider(value=100, min=10, max=300, step=10, description="length"),
        "scale": widgets.FloatSlider(value=1.0, min=0.25, max=3.0, step=0.25, description="gain"),
        "forget_bias": widgets.FloatSlider(
            value=1.0, min=-1.0, max=5.0, step=0.5, description="forget bias"
        ),
    }
    return wire(
        render_gradient_explorer,
        controls,
        [["length", "scale", "forget_bias"]],
        static={
            "length": [50, 100, 200],
            "scale": [0.5, 1.0, 1.5, 2.0, 3.0],
            "forget_bias": [0.0, 1.0, 3.0],
        },
    )
