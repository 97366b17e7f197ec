"""The drawing primitives every diagram uses, so boxes, arrows and grids look alike across
chapters. Coordinates are data units on an axis with equal aspect and no ticks."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

# One palette for every diagram: operations by kind, so a reader learns the colours once.
COLORS = {
    "input": "#e8e8e8",
    "conv": "#c6dbef",
    "pool": "#fdd0a2",
    "norm": "#d9f0d3",
    "act": "#fff2ae",
    "concat": "#e5d8f0",
    "add": "#fbb4ae",
    "linear": "#c7e9c0",
    "loss": "#fcbba1",
    "neutral": "#ffffff",
    # Cells a diagram points at (a kernel's taps, a patch and its column), never an operation.
    "highlight": "#fd8d3c",
    "highlight2": "#74c476",
}


@dataclass(frozen=True)
class Box:
    """A labelled box's geometry, so arrows can attach to its sides."""

    x: float
    y: float
    width: float
    height: float

    @property
    def top(self) -> tuple[float, float]:
        return (self.x + self.width / 2, self.y + self.height)

    @property
    def bottom(self) -> tuple[float, float]:
        return (self.x + self.width / 2, self.y)

    @property
    def left(self) -> tuple[float, float]:
        return (self.x, self.y + self.height / 2)

    @property
    def right(self) -> tuple[float, float]:
        return (self.x + self.width, self.y + self.height / 2)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.width / 2, self.y + self.height / 2)


def canvas(width: float, height: float, title: str, scale: float = 1.0) -> tuple[Figure, Axes]:
    """A figure whose axis spans [0, width] x [0, height] in data units, without ticks: a
    diagram has a title, not axes to read values from."""
    fig, ax = plt.subplots(figsize=(width * scale, height * scale))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)
    return fig, ax


def box(
    ax: Axes,
    center: tuple[float, float],
    text: str,
    kind: str = "neutral",
    width: float = 2.0,
    height: float = 0.6,
    fontsize: float = 9,
) -> Box:
    """A rounded box with centred text, coloured by the kind of operation it stands for."""
    x, y = center[0] - width / 2, center[1] - height / 2
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            width,
            height,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=COLORS[kind],
            edgecolor="black",
            linewidth=1,
        )
    )
    ax.text(*center, text, ha="center", va="center", fontsize=fontsize)
    return Box(x, y, width, height)


def arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    text: str | None = None,
    color: str = "black",
    curve: float = 0.0,
    fontsize: float = 8,
) -> FancyArrowPatch:
    """An arrow from start to end, optionally labelled at its middle and bent by `curve`
    (matplotlib's arc3 radius) so skip connections can go around boxes."""
    patch = FancyArrowPatch(
        start,
        end,
        arrowstyle="-|>",
        mutation_scale=12,
        color=color,
        linewidth=1.2,
        connectionstyle=f"arc3,rad={curve}",
        shrinkA=0,
        shrinkB=0,
    )
    ax.add_patch(patch)
    if text:
        middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        ax.annotate(text, middle, xytext=(4, 0), textcoords="offset points", fontsize=fontsize,
                    color=color, va="center")  # fmt: skip
    return patch


def grid(
    ax: Axes,
    origin: tuple[float, float],
    rows: int,
    cols: int,
    cell: float = 0.5,
    colors: dict[tuple[int, int], str] | None = None,
    labels: dict[tuple[int, int], str] | None = None,
    fontsize: float = 7,
) -> list[Rectangle]:
    """A rows x cols grid of square cells with its top-left corner at `origin`; cell (r, c)
    is row r from the top, column c from the left, as in an image."""
    colors, labels = colors or {}, labels or {}
    cells = []
    for r in range(rows):
        for c in range(cols):
            x, y = origin[0] + c * cell, origin[1] - (r + 1) * cell
            rect = Rectangle((x, y), cell, cell, facecolor=colors.get((r, c), "white"),
                             edgecolor="black", linewidth=0.6)  # fmt: skip
            ax.add_patch(rect)
            cells.append(rect)
            if (r, c) in labels:
                ax.text(x + cell / 2, y + cell / 2, labels[(r, c)], ha="center", va="center",
                        fontsize=fontsize)  # fmt: skip
    return cells
