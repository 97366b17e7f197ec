"""Figure helpers shared by the chapters, so every figure has titles and labelled axes."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

# The book's text column is 688 CSS pixels wide: at the figures' 100 dpi, 6.8 inches. A
# figure no wider is shown at its own size, so 7-point text stays 9.7 pixels tall on the
# page; a wider one is scaled down, its text with it (tests/browser.py measures this).
COLUMN_INCHES = 6.8


def as_image(tensor: torch.Tensor) -> np.ndarray:
    """(C, H, W) or (H, W) tensor, on any device -> (H, W) or (H, W, 3) array for `imshow`."""
    t = tensor.detach().float().cpu()
    if t.ndim == 3:
        t = t[0] if t.shape[0] == 1 else t.permute(1, 2, 0)
    return t.numpy()


def show_images(
    images: Sequence[torch.Tensor],
    titles: Sequence[str] | None = None,
    suptitle: str | None = None,
    cols: int | None = None,
    cmap: str = "gray",
    size: float = 2.6,
) -> Figure:
    """A grid of images with a title each and pixel axes labelled.

    A single-channel image with negative values (an edge response, say) is drawn with a
    diverging colour map centred on zero, which is how a signed feature map should be
    read: red and blue are strong responses of opposite sign, white is none. Its colour
    scale ends at the 99.5th percentile of |value|, so a few extreme pixels do not wash
    out the rest.
    """
    n = len(images)
    cols = cols or min(n, 3)
    rows = -(-n // cols)
    size = min(size, COLUMN_INCHES / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.4), squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index >= n:
            ax.axis("off")
            continue
        image = as_image(images[index])
        kwargs = {"cmap": cmap} if image.ndim == 2 else {}
        if image.ndim == 2 and image.min() < 0:
            bound = float(np.percentile(np.abs(image), 99.5)) or 1.0
            kwargs.update(cmap="RdBu_r", vmin=-bound, vmax=bound)
        ax.imshow(image, **kwargs)
        if titles is not None:
            ax.set_title(titles[index], fontsize=10)
        ax.set_xlabel("x (pixels)", fontsize=8)
        ax.set_ylabel("y (pixels)", fontsize=8)
        ax.tick_params(labelsize=7)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def draw_kernel(ax: plt.Axes, weights: torch.Tensor, title: str) -> None:
    """A small kernel as a heat map with its values written in the cells."""
    weights = weights.detach().float().cpu()
    largest = float(weights.abs().max()) or 1.0
    ax.imshow(weights.numpy(), cmap="RdBu_r", vmin=-largest, vmax=largest)
    rows, cols = weights.shape
    for i in range(rows):
        for j in range(cols):
            value = float(weights[i, j])
            colour = "white" if abs(value) > 0.6 * largest else "black"
            ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=9, color=colour)
    ax.set(title=title, xlabel="column", ylabel="row", xticks=range(cols), yticks=range(rows))


def show_kernels(kernels: dict[str, torch.Tensor], suptitle: str = "Kernels") -> Figure:
    """Kernels drawn by `draw_kernel`, titled by their names, three to a row."""
    cols = min(len(kernels), 3)
    rows = -(-len(kernels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.5 * rows + 0.3), squeeze=False)
    for ax in axes.flat[len(kernels):]:
        ax.axis("off")
    for ax, (name, weights) in zip(axes.flat, kernels.items(), strict=False):
        draw_kernel(ax, weights, name)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_history(history: dict[str, list[float]], title: str = "Training history") -> Figure:
    """Loss and accuracy per epoch, train next to validation, on two labelled panels."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(COLUMN_INCHES, 3.0))
    for key, values in history.items():
        if not values:
            continue
        epochs = range(1, len(values) + 1)
        if key.endswith("loss"):
            loss_ax.plot(epochs, values, marker="o", label=key.replace("_", " "))
        elif key.endswith("accuracy"):
            acc_ax.plot(epochs, values, marker="o", label=key.replace("_", " "))
    loss_ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for ax in (loss_ax, acc_ax):
        if ax.lines:
            ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def add_boxes(
    ax: plt.Axes,
    boxes: torch.Tensor,
    texts: Sequence[str] | None = None,
    color: str = "yellow",
    **style,
) -> None:
    """Draw (x0, y0, x1, y1) pixel-edge boxes on an `imshow` axis. Pixel centres sit at
    integer coordinates there, so the edge x0 is drawn at x0 - 0.5."""
    for index, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                   color=color, **{"lw": 1.5, **style}))  # fmt: skip
        if texts is not None:
            ax.text(x0 - 0.5, y0 - 1, texts[index], color=color, fontsize=7, va="bottom")


def draw_boxes(
    image: torch.Tensor,
    boxes: torch.Tensor,
    labels: Sequence[str] | None = None,
    title: str = "",
) -> Figure:
    """An image with (x0, y0, x1, y1) pixel boxes drawn on it, for detection chapters."""
    fig, ax = plt.subplots(figsize=(3.6, 3.6))
    ax.imshow(as_image(image))
    add_boxes(ax, boxes, labels)
    ax.set(xlabel="x (pixels)", ylabel="y (pixels)", title=title)
    fig.tight_layout()
    return fig


# Box colours by class, bright enough on the generated scenes' backgrounds; the true boxes
# are white and dashed.
CLASS_COLORS = ("yellow", "cyan", "#ff66ff", "#7fff00", "orange")


def show_detections(
    images: torch.Tensor,
    rows: dict[str, Sequence[dict[str, torch.Tensor]]],
    title: str,
    class_names: Sequence[str],
    truth: Sequence[dict[str, torch.Tensor]] | None = None,
) -> Figure:
    """Scenes in columns and one row per entry of `rows` (its name on the left), each a
    list of per-image detections {"boxes", "labels"} with optional "scores". Every class
    has its colour, named in the legend; only a row with scores writes them next to its
    boxes, since raw detections pile up and their labels would overlap. True boxes, when
    given, are drawn dashed in white under every row."""
    n = len(images)
    side = min(2.3, (COLUMN_INCHES - 0.3) / n)  # the row names take 0.3 inches
    fig, axes = plt.subplots(len(rows), n, figsize=(side * n + 0.3, (side + 0.1) * len(rows) + 0.5),
                             squeeze=False)  # fmt: skip
    for i, (name, detections) in enumerate(rows.items()):
        for j in range(n):
            ax = axes[i, j]
            ax.imshow(as_image(images[j]))
            if truth is not None:
                add_boxes(ax, truth[j]["boxes"], color="white", ls="--", lw=1)
            found = detections[j]
            for k, label in enumerate(found["labels"].tolist()):
                scored = "scores" in found
                add_boxes(ax, found["boxes"][k : k + 1],
                          [f"{float(found['scores'][k]):.2f}"] if scored else None,
                          color=CLASS_COLORS[(label - 1) % len(CLASS_COLORS)])  # fmt: skip
            ax.set(xticks=[], yticks=[], xlim=(-0.5, images.shape[-1] - 0.5),
                   ylim=(images.shape[-2] - 0.5, -0.5))  # fmt: skip
        axes[i, 0].set_ylabel(name)
    handles = [plt.Line2D([], [], color=CLASS_COLORS[c % len(CLASS_COLORS)], lw=2, label=name)
               for c, name in enumerate(class_names)]  # fmt: skip
    if truth is not None:
        handles.append(plt.Line2D([], [], color="grey", ls="--", lw=1, label="true box"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
               frameon=False)  # fmt: skip
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
