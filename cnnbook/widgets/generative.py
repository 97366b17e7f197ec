"""Chapter 10's explorer: a GAN's samples on the ring of Gaussians as training goes on,
one panel per run, so a generator that spreads over every mode can be watched next to
one that collapses onto a few."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from cnnbook.gan import GANHistory, mode_coverage, ring_centres
from cnnbook.plotting import COLUMN_INCHES
from cnnbook.widgets import wire


def render_gan_explorer(
    runs: Mapping[str, GANHistory], data: torch.Tensor, std: float = 0.1, step: int = 1000
) -> Figure:
    """Each run's snapshot at `step` (coloured) over the data (grey), the mixture's
    centres marked; each title counts the modes the samples cover at that step."""
    steps = sorted(next(iter(runs.values())).snapshots)
    if step not in steps:
        raise ValueError(f"no snapshot at step {step}; the runs have {steps}")
    centres = ring_centres()
    fig, axes = plt.subplots(1, len(runs), figsize=(COLUMN_INCHES, 3.6), squeeze=False)
    shown = data[:1000].cpu()
    for ax, (name, history) in zip(axes[0], runs.items(), strict=True):
        samples = history.snapshots[step]
        modes, good = mode_coverage(samples, centres, std)
        ax.scatter(shown[:, 0], shown[:, 1], s=3, c="lightgrey", label="data")
        ax.scatter(samples[:, 0], samples[:, 1], s=3, c="tab:blue", alpha=0.6, label="generated")
        ax.scatter(centres[:, 0], centres[:, 1], marker="x", c="black", s=30, label="mode centre")
        ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal", xlabel="$x_1$", ylabel="$x_2$")
        ax.set_title(f"{name}\nstep {step}: {modes} of {len(centres)} modes, "
                     f"{good:.0%} near one", fontsize=9)  # fmt: skip
    legend = axes[0, 0].legend(fontsize=7, loc="upper left")
    for handle in legend.legend_handles[:2]:  # the dots, too small to see at their size
        handle.set_sizes([20])
    fig.tight_layout()
    return fig


def gan_explorer(
    runs: Mapping[str, GANHistory], data: torch.Tensor, steps: int = 1000, every: int = 100
):
    """A training-step slider wired to `render_gan_explorer`, for runs of `steps` steps
    with a snapshot every `every` (`train_gan`'s `snapshot_every`)."""
    import ipywidgets as widgets

    controls = {
        "step": widgets.IntSlider(value=steps, min=0, max=steps, step=every, description="step")
    }
    return wire(
        lambda **values: render_gan_explorer(runs, data, **values),
        controls,
        [["step"]],
        static={"step": list(range(0, steps + 1, every))},
    )
