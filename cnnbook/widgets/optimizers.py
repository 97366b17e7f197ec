"""Chapter 3's optimizer race: PyTorch's optimizers on three 2-D loss surfaces.

Each surface is a classic difficulty: a curved narrow valley (Rosenbrock), a bowl
25 times steeper in one direction than the other, and a saddle point. The race uses
`torch.optim` itself, which Chapter 3 shows to match its from-scratch update rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from cnnbook.runtime import static_build
from cnnbook.widgets import wire


@dataclass(frozen=True)
class Surface:
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    sgd_lr: float  # a step size that suits plain gradient descent here
    adaptive_lr: float  # and one for the adaptive methods, whose steps are normalised


SURFACES = {
    "Rosenbrock": Surface(
        lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2, (-1.5, 2.0), (-2, 2), (-1, 3), 1e-3, 5e-2
    ),
    "ill-conditioned bowl": Surface(
        lambda x, y: 0.5 * (x**2 + 25 * y**2), (-4.5, 1.5), (-5, 5), (-2, 2), 5e-2, 2e-1
    ),
    "saddle": Surface(
        lambda x, y: x**2 - y**2 + 0.25 * y**4, (-1.5, 1e-3), (-2, 2), (-2.5, 2.5), 5e-2, 5e-2
    ),
}


def _optimizers(sgd_lr: float, adaptive_lr: float, momentum: float, beta2: float):
    return {
        "SGD": lambda p: torch.optim.SGD([p], lr=sgd_lr),
        "momentum": lambda p: torch.optim.SGD([p], lr=sgd_lr, momentum=momentum),
        "Nesterov": lambda p: torch.optim.SGD([p], lr=sgd_lr, momentum=momentum, nesterov=True),
        "Adagrad": lambda p: torch.optim.Adagrad([p], lr=adaptive_lr),
        "RMSprop": lambda p: torch.optim.RMSprop([p], lr=adaptive_lr, alpha=beta2),
        "Adam": lambda p: torch.optim.Adam([p], lr=adaptive_lr, betas=(momentum, beta2)),
    }


def race(
    surface: str = "Rosenbrock",
    sgd_lr: float | None = None,
    adaptive_lr: float | None = None,
    momentum: float = 0.9,
    beta2: float = 0.99,
    steps: int = 300,
) -> dict[str, torch.Tensor]:
    """Each optimizer's path, a (steps + 1, 2) tensor starting at the surface's start."""
    spec = SURFACES[surface]
    sgd_lr = spec.sgd_lr if sgd_lr is None else sgd_lr
    adaptive_lr = spec.adaptive_lr if adaptive_lr is None else adaptive_lr
    paths = {}
    for name, make in _optimizers(sgd_lr, adaptive_lr, momentum, beta2).items():
        point = torch.tensor(spec.start, dtype=torch.float64, requires_grad=True)
        optimizer = make(point)
        path = [point.detach().clone()]
        for _ in range(steps):
            optimizer.zero_grad()
            spec.loss(point[0], point[1]).backward()
            optimizer.step()
            with torch.no_grad():  # a diverging run is clipped to stay drawable
                point.clamp_(-1e3, 1e3)
            path.append(point.detach().clone())
        paths[name] = torch.stack(path)
    return paths


def render_optimizer_race(surface: str = "Rosenbrock", **settings: float) -> Figure:
    """Paths on the contour plot (left) and loss against step (right); `settings` are
    `race`'s learning rates, momentum, beta2 and steps."""
    spec = SURFACES[surface]
    paths = race(surface, **settings)
    xs = torch.linspace(*spec.xlim, 300, dtype=torch.float64)
    ys = torch.linspace(*spec.ylim, 300, dtype=torch.float64)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    height = spec.loss(grid_x, grid_y)
    fig, (ax_map, ax_loss) = plt.subplots(1, 2, figsize=(6.8, 3.4))
    shifted = (height - height.min() + 1e-3).numpy()
    ax_map.contour(xs, ys, shifted, levels=np.geomspace(shifted.min(), shifted.max(), 25),
                   norm=LogNorm(), cmap="Greys", linewidths=0.6)  # fmt: skip
    for name, path in paths.items():
        ax_map.plot(path[:, 0], path[:, 1], lw=1.4, label=name)
        losses = spec.loss(path[:, 0], path[:, 1])
        ax_loss.plot(losses - float(height.min()) + 1e-12, lw=1.4, label=name)
    ax_map.plot(*spec.start, "ko", ms=5)
    ax_map.set(xlim=spec.xlim, ylim=spec.ylim, xlabel="$w_1$", ylabel="$w_2$",
               title=f"{surface}:\npaths from the black dot")  # fmt: skip
    ax_loss.set(yscale="log", xlabel="step", ylabel="loss above the grid's lowest",
                title="Progress")  # fmt: skip
    ax_loss.legend(fontsize=8, ncol=2)
    ax_loss.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def optimizer_race():
    """Surface menu and sliders wired to `render_optimizer_race`."""
    import ipywidgets as widgets

    rosenbrock = SURFACES["Rosenbrock"]
    controls = {
        "surface": widgets.Dropdown(options=list(SURFACES), description="surface"),
        "sgd_lr": widgets.FloatLogSlider(
            value=rosenbrock.sgd_lr, base=10, min=-4, max=0, description="lr (SGD)"
        ),
        "adaptive_lr": widgets.FloatLogSlider(
            value=rosenbrock.adaptive_lr, base=10, min=-3, max=0, description="lr (adaptive)"
        ),
        "momentum": widgets.FloatSlider(
            value=0.9, min=0.0, max=0.99, step=0.01, description="momentum β₁"
        ),
        "beta2": widgets.FloatSlider(
            value=0.99, min=0.5, max=0.999, step=0.001, description="β₂", readout_format=".3f"
        ),
        "steps": widgets.IntSlider(value=300, min=10, max=1000, step=10, description="steps"),
    }

    def pick_rates(change):  # each surface starts from step sizes that suit it
        spec = SURFACES[change["new"]]
        controls["sgd_lr"].value, controls["adaptive_lr"].value = spec.sgd_lr, spec.adaptive_lr

    controls["surface"].observe(pick_rates, names="value")

    def render(**settings):
        if static_build():  # the published page: each surface with the step sizes that suit it
            settings.update(sgd_lr=None, adaptive_lr=None)
        return render_optimizer_race(**settings)

    names = list(controls)
    return wire(
        render,
        controls,
        [names[:3], names[3:]],
        static={"surface": None, "momentum": [0.3, 0.6, 0.9], "steps": [100, 300]},
    )
