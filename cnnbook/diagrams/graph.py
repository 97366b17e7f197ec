"""Chapter 2's computational graph of its two-layer network, drawn from a list of nodes
and edges so the test can check that every operation of the network is on it.

The network (Section 2.2) is Z = X W1^T + b1, H = tanh(Z), Y_hat = H W2^T + b2 and the
mean squared error against the targets Y. Forward edges are black; the backward pass
runs along the same edges in reverse, drawn in red under the main row.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from cnnbook.diagrams.shapes import arrow, box, canvas

# name: (centre, label, kind). The main row carries the data; the leaves (parameters and
# targets) sit above the operation that uses them.
ROW, ABOVE = 2.3, 3.9
NODES: dict[str, tuple[tuple[float, float], str, str]] = {
    "X": ((0.8, ROW), r"$X$", "input"),
    "matmul1": ((2.8, ROW), "matmul\n" r"$XW_1^{\top}$", "linear"),
    "W1": ((2.8, ABOVE), r"$W_1$", "input"),
    "add1": ((4.8, ROW), r"$+\,b_1$", "add"),
    "b1": ((4.8, ABOVE), r"$b_1$", "input"),
    "tanh": ((6.8, ROW), r"$\tanh$", "act"),
    "matmul2": ((8.8, ROW), "matmul\n" r"$HW_2^{\top}$", "linear"),
    "W2": ((8.8, ABOVE), r"$W_2$", "input"),
    "add2": ((10.8, ROW), r"$+\,b_2$", "add"),
    "b2": ((10.8, ABOVE), r"$b_2$", "input"),
    "mse": ((12.8, ROW), r"MSE", "loss"),
    "Y": ((12.8, ABOVE), r"targets $Y$", "input"),
    "L": ((14.6, ROW), r"$L$", "loss"),
}
# (from, to, the value that travels along the edge)
EDGES: list[tuple[str, str, str]] = [
    ("X", "matmul1", ""),
    ("W1", "matmul1", ""),
    ("matmul1", "add1", ""),
    ("b1", "add1", ""),
    ("add1", "tanh", r"$Z$"),
    ("tanh", "matmul2", r"$H$"),
    ("W2", "matmul2", ""),
    ("matmul2", "add2", ""),
    ("b2", "add2", ""),
    ("add2", "mse", r"$\hat Y$"),
    ("Y", "mse", ""),
    ("mse", "L", ""),
]
# The backward pass along the main row: the gradient each operation sends to its input.
BACKWARD: list[tuple[str, str, str]] = [
    ("L", "mse", r"$1$"),
    ("mse", "add2", r"$\overline{\hat Y}$"),
    ("add2", "matmul2", r"$\overline{\hat Y}$"),
    ("matmul2", "tanh", r"$\bar H$"),
    ("tanh", "add1", r"$\bar Z$"),
    ("add1", "matmul1", r"$\bar Z$"),
]
BACKWARD_COLOR = "tab:red"
WIDTH, HEIGHT = 1.5, 0.9


def computational_graph(backward: bool = True) -> Figure:
    """The two-layer network of Section 2.2 as a computational graph: one box per value
    or operation, black arrows for the forward pass and, with `backward`, red arrows for
    the gradients flowing back along the main row."""
    fig, ax = canvas(15.4, 4.6, "Computational graph of the two-layer network", scale=0.62)
    boxes = {}
    for name, (centre, label, kind) in NODES.items():
        width = 0.8 if name in ("X", "L") else WIDTH
        boxes[name] = box(ax, centre, label, kind, width=width, height=HEIGHT, fontsize=10)
    for start, end, label in EDGES:
        a, b = boxes[start], boxes[end]
        if a.center[1] > b.center[1]:  # a parameter, from above
            arrow(ax, a.bottom, b.top)
        else:
            arrow(ax, a.right, b.left)
            if label:
                middle = (a.right[0] + b.left[0]) / 2
                ax.text(middle, a.center[1] + 0.12, label, ha="center", va="bottom", fontsize=10)
    if backward:
        for start, end, label in BACKWARD:
            a, b = boxes[start], boxes[end]
            low = a.center[1] - HEIGHT / 2 - 0.05
            arrow(ax, (a.center[0] - 0.3, low), (b.center[0] + 0.3, low), curve=-0.45,
                  color=BACKWARD_COLOR)  # fmt: skip
            ax.text((a.center[0] + b.center[0]) / 2, low - 0.55, label, ha="center", va="top",
                    fontsize=9, color=BACKWARD_COLOR)  # fmt: skip
        ax.text(0.2, 0.25, "black: forward pass    red: backward pass (gradients)", fontsize=9,
                color="dimgray")  # fmt: skip
    return fig
