"""Chapter 9's diagrams: a recurrent cell folded and unrolled over time, and the LSTM
cell with its gates.

The LSTM's gates are named and listed in the order `cnnbook.sequences.lstm_cell` splits
its pre-activations (PyTorch's i, f, g, o), kept in `LSTM_GATES` so a test can check the
order against the function itself. The notation is the chapter's: W_ih, W_hh, W_o, and
c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t, h_t = o_t ⊙ tanh(c_t). Texts and patches that tests
look for carry a gid.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from cnnbook.diagrams.segmentation import page
from cnnbook.diagrams.shapes import COLORS, Box, arrow, box

# (letter, name, squashing function) in the order `lstm_cell` chunks its pre-activations.
LSTM_GATES: tuple[tuple[str, str, str], ...] = (
    ("i", "input gate", r"$\sigma$"),
    ("f", "forget gate", r"$\sigma$"),
    ("g", "candidate", "tanh"),
    ("o", "output gate", r"$\sigma$"),
)
MAX_STEPS = 8  # beyond this the unrolled cells get too narrow for 9-point labels


def unrolled_rnn(steps: int = 4) -> Figure:
    """One recurrent cell folded, its state fed back through a loop, and the same cell
    unrolled over `steps` time steps: inputs x_t below, states h_t passed to the right,
    outputs above. Unrolled, the network is a deep feedforward one whose layers share
    their weights, which is what backpropagation through time differentiates."""
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be between 1 and {MAX_STEPS}, not {steps}")
    fig, ax = page(7.0, 4.7, "A recurrent cell, folded and unrolled")

    # Folded: one cell whose state loops back into itself.
    cell = box(ax, (1.1, 3.55), "RNN\ncell", "linear", width=0.85, height=0.55)
    ax.patches[-1].set_gid("folded")
    arrow(ax, (1.1, 2.85), cell.bottom)
    ax.text(1.1, 2.8, "$x_t$", ha="center", va="top", fontsize=11)
    arrow(ax, cell.top, (1.1, 4.3))
    ax.text(1.1, 4.33, r"$\hat{y}_t$", ha="center", va="bottom", fontsize=11)
    right = cell.x + cell.width
    loop = FancyArrowPatch((right, 3.68), (right, 3.42), arrowstyle="-|>", mutation_scale=12,
                           connectionstyle="arc,angleA=0,angleB=0,armA=28,armB=28,rad=8",
                           color="black", linewidth=1.2, shrinkA=0, shrinkB=0,
                           gid="loop")  # fmt: skip
    ax.add_patch(loop)
    ax.text(right + 0.5, 3.55, "$h_{t-1}$", ha="left", va="center", fontsize=10)
    ax.text(2.55, 3.55, "$h_t = \\tanh(W_{ih}\\,x_t + b_{ih} + W_{hh}\\,h_{t-1} + b_{hh})$\n"
            "$\\hat{y}_t = W_o\\,h_t + b_o$", ha="left", va="center", fontsize=10,
            linespacing=1.8, gid="equations")  # fmt: skip

    # Unrolled: the same cell once per step.
    plural = "s" if steps > 1 else ""
    ax.text(0.05, 2.35, f"unrolled over {steps} time step{plural}:", ha="left", va="center",
            fontsize=10, fontweight="bold", gid="unrolled/title")  # fmt: skip
    y = 1.2
    spacing = min(1.45, 6.2 / (steps + 0.45))
    width = min(0.85, spacing - 0.45)
    ax.text(0.25, y, "$h_{0}$", ha="center", va="center", fontsize=10, gid="state:0")
    previous = (0.42, y)
    for t in range(1, steps + 1):
        x = 0.25 + spacing * t
        step = box(ax, (x, y), "RNN" if width >= 0.6 else "cell", "linear", width=width,
                   height=0.55)  # fmt: skip
        ax.patches[-1].set_gid(f"cell:{t}")
        arrow(ax, previous, step.left)
        if t > 1:
            ax.text((previous[0] + step.x) / 2, y + 0.07, f"$h_{{{t - 1}}}$", ha="center",
                    va="bottom", fontsize=10, gid=f"state:{t - 1}")  # fmt: skip
        arrow(ax, (x, y - 0.65), step.bottom)
        ax.text(x, y - 0.7, f"$x_{{{t}}}$", ha="center", va="top", fontsize=10,
                gid=f"input:{t}")  # fmt: skip
        arrow(ax, step.top, (x, y + 0.65))
        ax.text(x, y + 0.68, f"$\\hat{{y}}_{{{t}}}$", ha="center", va="bottom", fontsize=10,
                gid=f"output:{t}")  # fmt: skip
        previous = step.right
    end = (previous[0] + spacing - width, y)
    arrow(ax, previous, end)
    ax.text(end[0] + 0.05, y, f"$h_{{{steps}}}$", ha="left", va="center", fontsize=10,
            gid=f"state:{steps}")  # fmt: skip
    ax.text(3.5, 0.1, "one cell, the same weights $W_{ih}$, $W_{hh}$, $W_o$ at every step",
            ha="center", va="center", fontsize=9, color="dimgray", gid="shared")  # fmt: skip
    return fig


def _node(ax: Axes, center: tuple[float, float], text: str, gid: str) -> Box:
    """A pointwise operation (product or sum) as a small circle."""
    radius = 0.16
    ax.add_patch(Circle(center, radius, facecolor=COLORS["add"], edgecolor="black",
                        linewidth=1, gid=gid))  # fmt: skip
    ax.text(*center, text, ha="center", va="center", fontsize=11)
    return Box(center[0] - radius, center[1] - radius, 2 * radius, 2 * radius)


def _wire(ax: Axes, points: list[tuple[float, float]]) -> None:
    """A polyline whose last segment ends in an arrowhead."""
    xs, ys = zip(*points[:-1], strict=True)
    ax.plot(xs, ys, color="black", linewidth=1.2)
    arrow(ax, points[-2], points[-1])


def lstm_cell() -> Figure:
    """The LSTM cell: the cell state runs along the top from c_{t-1} to c_t, multiplied
    by the forget gate and added to input gate x candidate; below, the four gates read
    [h_{t-1}, x_t]; on the right, h_t = o_t x tanh(c_t). The gates are drawn in the order
    of the data path (f, i, g, o) and listed underneath in the order PyTorch stacks them
    (i, f, g, o), the order of `lstm_cell`'s chunks."""
    fig, ax = page(7.0, 4.4, "The LSTM cell")
    ax.add_patch(FancyBboxPatch((0.75, 0.95), 5.35, 2.85, boxstyle="round,pad=0.02,"
                                "rounding_size=0.15", facecolor="#f7f7f7", edgecolor="dimgray",
                                linewidth=1, zorder=0))  # fmt: skip
    top, gates_y, bus, mix_y = 3.4, 1.75, 1.2, 2.55
    names = {letter: (name, squash) for letter, name, squash in LSTM_GATES}
    xs = {"f": 1.75, "i": 2.6, "g": 3.45, "o": 4.3}
    gates = {}
    for letter in ("f", "i", "g", "o"):
        name, squash = names[letter]
        gates[letter] = box(ax, (xs[letter], gates_y), f"{name.split()[0]}\n{squash}", "act",
                            width=0.78, height=0.52)  # fmt: skip
        ax.texts[-1].set_gid(f"gate:{letter}")
        arrow(ax, (xs[letter], bus), gates[letter].bottom)

    # The input bus: h_{t-1} from the left, x_t from below, into every gate.
    ax.plot([0.55, xs["o"]], [bus, bus], color="black", linewidth=1.2)
    ax.text(0.45, bus, "$h_{t-1}$", ha="right", va="center", fontsize=10)
    arrow(ax, (1.2, 0.55), (1.2, bus))
    ax.text(1.2, 0.5, "$x_t$", ha="center", va="top", fontsize=10)

    # The cell state along the top: × forget gate, + input gate × candidate.
    forget = _node(ax, (xs["f"], top), "×", "forget-product")
    add = _node(ax, ((xs["i"] + xs["g"]) / 2, top), "+", "cell-sum")
    mix = _node(ax, (add.center[0], mix_y), "×", "input-product")
    arrow(ax, (0.55, top), forget.left)
    ax.text(0.45, top, "$c_{t-1}$", ha="right", va="center", fontsize=10)
    arrow(ax, forget.right, add.left)
    arrow(ax, gates["f"].top, forget.bottom)
    _wire(ax, [gates["i"].top, (xs["i"], mix_y), mix.left])
    _wire(ax, [gates["g"].top, (xs["g"], mix_y), mix.right])
    arrow(ax, mix.top, add.bottom)
    out_x = 5.45
    arrow(ax, add.right, (6.55, top))
    ax.text(6.6, top, "$c_t$", ha="left", va="center", fontsize=10)

    # The output: h_t = o_t × tanh(c_t).
    squash = box(ax, (out_x, mix_y), "tanh", "act", width=0.6, height=0.36)
    arrow(ax, (out_x, top), squash.top)
    product = _node(ax, (out_x, gates_y), "×", "output-product")
    arrow(ax, squash.bottom, product.top)
    arrow(ax, gates["o"].right, product.left)
    arrow(ax, product.right, (6.55, gates_y))
    ax.text(6.6, gates_y, "$h_t$", ha="left", va="center", fontsize=10)

    # Each gate's value on its wire.
    for letter, (x, y) in {"f": (xs["f"], 2.7), "i": (xs["i"], 2.2), "g": (xs["g"], 2.2),
                           "o": (4.97, gates_y)}.items():  # fmt: skip
        ha, va = ("center", "bottom") if letter == "o" else ("left", "center")
        dx, dy = (0.0, 0.05) if letter == "o" else (0.06, 0.0)
        ax.text(x + dx, y + dy, f"${letter}_t$", ha=ha, va=va, fontsize=10,
                gid=f"wire:{letter}")  # fmt: skip

    ax.text(3.5, 4.15, r"$c_t = f_t \odot c_{t-1} + i_t \odot g_t, \qquad "
            r"h_t = o_t \odot \tanh(c_t)$", ha="center", va="center", fontsize=10,
            gid="equations")  # fmt: skip
    # The key, in the order PyTorch stacks the gates' rows of weight_ih and weight_hh.
    ax.text(0.05, 0.12, "PyTorch order:", ha="left", va="center", fontsize=9,
            color="dimgray")  # fmt: skip
    for n, (letter, name, _) in enumerate(LSTM_GATES):
        ax.text(1.25 + 1.45 * n, 0.12, f"${letter}_t$ {name}", ha="left", va="center",
                fontsize=9, gid=f"key:{n}")  # fmt: skip
    return fig
