"""Chapter 1's diagrams: where a kernel reads its input (stride, padding, dilation) and
how im2col turns a convolution into one matrix product.

Every cell a test needs to find carries a gid (`Artist.get_gid`), so the tests check what
is drawn, cell by cell, against PyTorch instead of trusting the drawing code.
"""

from __future__ import annotations

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cnnbook.diagrams.shapes import COLORS, arrow, canvas, grid

# (label, stride, padding, dilation): the four settings Section 1.5 compares.
GEOMETRY_SETTINGS: tuple[tuple[str, int, int, int], ...] = (
    ("plain", 1, 0, 1),
    ("stride 2", 2, 0, 1),
    ("padding 1", 1, 1, 1),
    ("dilation 2", 1, 0, 2),
)


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:  # fmt: skip
    """floor((n + 2p - d(k - 1) - 1) / s) + 1: the number of positions along one axis."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def kernel_taps(kernel: int, stride: int, dilation: int,
                position: tuple[int, int]) -> list[tuple[int, int]]:  # fmt: skip
    """The (row, col) cells of the *padded* input that a kernel reads for the output at
    `position`: it starts at position x stride and its taps are `dilation` apart."""
    r0, c0 = position[0] * stride, position[1] * stride
    return [(r0 + i * dilation, c0 + j * dilation) for i in range(kernel) for j in range(kernel)]


def _tag(cells: list, cols: int, gid) -> None:
    """Name each cell of a grid() by its role, so tests can count what is drawn."""
    for index, rect in enumerate(cells):
        rect.set_gid(gid(divmod(index, cols)))


def _draw_geometry(ax: Axes, origin: tuple[float, float], size: int, kernel: int, stride: int,
                   padding: int, dilation: int, position: tuple[int, int], cell: float,
                   output_x: float, prefix: str = "") -> None:  # fmt: skip
    """One setting: the padded input with the taps at `position`, and the output grid, whose
    top-left corner is at x = `output_x`. Cells carry gids like "0/padding+tap@0,1":
    panel prefix, role, "+tap" where the kernel reads (or, in the output, the position),
    and the (row, col) in the padded input or in the output."""
    out = conv_output_size(size, kernel, stride, padding, dilation)
    if out < 1:
        raise ValueError(f"a {kernel}-tap kernel with dilation {dilation} does not fit")
    position = (min(position[0], out - 1), min(position[1], out - 1))
    padded = size + 2 * padding
    taps = set(kernel_taps(kernel, stride, dilation, position))

    def is_padding(r: int, c: int) -> bool:
        return not (padding <= r < padding + size and padding <= c < padding + size)

    colors, labels = {}, {}
    for r in range(padded):
        for c in range(padded):
            if (r, c) in taps:
                colors[(r, c)] = COLORS["highlight"]
            elif is_padding(r, c):
                colors[(r, c)] = COLORS["input"]
            if is_padding(r, c):
                labels[(r, c)] = "0"  # zero padding: the cells hold zeros
    x0, y0 = origin
    cells = grid(ax, origin, padded, padded, cell=cell, colors=colors, labels=labels, fontsize=7)
    _tag(cells, padded, lambda rc: prefix + ("padding" if is_padding(*rc) else "input")
         + ("+tap" if rc in taps else "") + f"@{rc[0]},{rc[1]}")  # fmt: skip
    out_colors = {(r, c): COLORS["conv"] for r in range(out) for c in range(out)}
    out_colors[position] = COLORS["highlight"]
    out_cells = grid(ax, (output_x, y0), out, out, cell=cell, colors=out_colors)
    _tag(out_cells, out, lambda rc: prefix + "output" + ("+tap" if rc == position else "")
         + f"@{rc[0]},{rc[1]}")  # fmt: skip

    # The window the taps span, and an arrow from it to the output cell it computes.
    rows = [r for r, _ in taps]
    cols = [c for _, c in taps]
    right = x0 + (max(cols) + 1) * cell
    middle = y0 - (min(rows) + max(rows) + 1) / 2 * cell
    target = (output_x + position[1] * cell, y0 - (position[0] + 0.5) * cell)
    arrow(ax, (right, middle), target, color=COLORS["highlight"], curve=-0.2)

    input_text = f"input {size}×{size}" + (f", padding {padding}" if padding else "")
    ax.text(x0 + padded * cell / 2, y0 - padded * cell - 0.15, input_text, ha="center",
            va="top", fontsize=8)  # fmt: skip
    ax.text(output_x + out * cell / 2, y0 - out * cell - 0.15, f"output {out}×{out}",
            ha="center", va="top", fontsize=8)  # fmt: skip


def _formula(size: int, kernel: int, stride: int, padding: int, dilation: int) -> str:
    out = conv_output_size(size, kernel, stride, padding, dilation)
    return (rf"$O = \lfloor({size} + 2\cdot{padding} - {dilation}\cdot({kernel}-1) - 1)"
            rf"\,/\,{stride}\rfloor + 1 = {out}$")  # fmt: skip


def conv_geometry(size: int = 7, kernel: int = 3, stride: int = 1, padding: int = 0,
                  dilation: int = 1, position: tuple[int, int] = (1, 1)) -> Figure:  # fmt: skip
    """One setting: the input (padding shaded, holding zeros), the kernel's taps for the
    output at `position` in orange, and the output grid, sized by the formula."""
    cell = 0.4
    padded, out = size + 2 * padding, conv_output_size(size, kernel, stride, padding, dilation)
    width = 0.4 + padded * cell + 1.2 + max(out, 2) * cell + 0.4
    height = max(padded, out) * cell + 1.6
    fig, ax = canvas(width, height, f"{kernel}×{kernel} kernel, stride {stride}, "
                     f"padding {padding}, dilation {dilation}", scale=0.7)  # fmt: skip
    top = height - 0.9
    ax.text(width / 2, height - 0.3, _formula(size, kernel, stride, padding, dilation),
            ha="center", va="center", fontsize=9)  # fmt: skip
    _draw_geometry(ax, (0.4, top), size, kernel, stride, padding, dilation, position, cell,
                   output_x=0.4 + padded * cell + 1.2)  # fmt: skip
    return fig


def conv_geometry_panel(size: int = 7, kernel: int = 3,
                        settings: tuple[tuple[str, int, int, int], ...] = GEOMETRY_SETTINGS,
                        position: tuple[int, int] = (1, 1)) -> Figure:  # fmt: skip
    """Several (label, stride, padding, dilation) settings in a grid of panels, two per
    row, drawn at the same scale so the output sizes can be compared by eye. The cells of
    panel i carry gids starting with f"{i}/"."""
    cell = 0.4
    padded = max(size + 2 * p for _, _, p, _ in settings)
    out = max(conv_output_size(size, kernel, s, p, d) for _, s, p, d in settings)
    panel_w = padded * cell + 1.2 + out * cell + 0.8
    panel_h = padded * cell + 1.7
    rows = (len(settings) + 1) // 2
    width, height = 2 * panel_w + 0.2, rows * panel_h + 0.2
    fig, ax = canvas(width, height, f"Where a {kernel}×{kernel} kernel reads a {size}×{size} "
                     "input: one output (orange) and the taps it reads", scale=0.5)  # fmt: skip
    for index, (label, stride, padding, dilation) in enumerate(settings):
        left = 0.3 + (index % 2) * panel_w
        top = height - 0.1 - (index // 2) * panel_h
        ax.text(left, top - 0.2, f"{label}: stride {stride}, padding {padding}, "
                f"dilation {dilation}", fontsize=9, fontweight="bold", va="center")  # fmt: skip
        ax.text(left, top - 0.62, _formula(size, kernel, stride, padding, dilation),
                fontsize=8.5, va="center")  # fmt: skip
        _draw_geometry(ax, (left, top - 1.0), size, kernel, stride, padding, dilation,
                       position, cell, output_x=left + padded * cell + 1.2,
                       prefix=f"{index}/")  # fmt: skip
    return fig


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def im2col_diagram(x: torch.Tensor | None = None, weight: torch.Tensor | None = None,
                   highlight: tuple[int, ...] = (0, 5)) -> Figure:  # fmt: skip
    """A one-channel convolution two ways. Top: input ⋆ kernel = output. Bottom: the
    flattened kernel (a row) times the patch matrix, whose column j holds patch j read
    row by row, gives the output as a row. Patches `highlight` (0-based) are filled in the
    input, in their column and in their output, so the reader can follow one patch across;
    every patch is numbered (from 1) in the output and above its column."""
    x = torch.arange(1.0, 17.0).reshape(4, 4) if x is None else x.float()
    weight = torch.tensor([[1.0, 2.0], [0.0, -1.0]]) if weight is None else weight.float()
    (H, W), (K, L_k) = x.shape, weight.shape
    Ho, Wo = H - K + 1, W - L_k + 1
    # Column j = patch j = the window at (j // Wo, j % Wo), read row by row: that is im2col.
    columns = [[x[j // Wo + a, j % Wo + b].item() for a in range(K) for b in range(L_k)]
               for j in range(Ho * Wo)]  # fmt: skip
    kernel_row = weight.flatten().tolist()
    outputs = [sum(w * v for w, v in zip(kernel_row, col, strict=True)) for col in columns]
    rows = K * L_k
    colors = [COLORS["highlight"], COLORS["highlight2"]]
    fill = {j: colors[i % 2] for i, j in enumerate(highlight)}

    cell, gap = 0.55, 0.8
    bottom_w = rows * cell + gap + len(columns) * cell + gap + len(columns) * cell
    top_gap = 1.3  # room for the captions above the top row's grids
    top_w = W * cell + top_gap + L_k * cell + top_gap + Wo * cell
    width = max(bottom_w, top_w) + 1.0
    height = H * cell + rows * cell + 3.4
    fig, ax = canvas(width, height, "im2col: a convolution as one matrix product", scale=0.57)

    def caption(x_left: float, y_top: float, n: int, text: str) -> None:
        ax.text(x_left + n * cell / 2, y_top + 0.12, text, ha="center", va="bottom", fontsize=8)

    def operator(x_mid: float, y_mid: float, symbol: str) -> None:
        ax.text(x_mid, y_mid, symbol, ha="center", va="center", fontsize=14)

    # Top row: the convolution as the reader first met it.
    top, left = height - 0.9, 0.5
    in_colors = {}
    for j, color in fill.items():
        for a in range(K):
            for b in range(L_k):
                in_colors[(j // Wo + a, j % Wo + b)] = color
    labels = {(r, c): _number(x[r, c].item()) for r in range(H) for c in range(W)}
    _tag(grid(ax, (left, top), H, W, cell, in_colors, labels), W,
         lambda rc: f"input:{rc[0]},{rc[1]}")  # fmt: skip
    caption(left, top, W, f"input x ({H}×{W})")
    k_left = left + W * cell + top_gap
    operator(k_left - top_gap / 2, top - H * cell / 2, r"$\ast$")
    labels = {(r, c): _number(weight[r, c].item()) for r in range(K) for c in range(L_k)}
    grid(ax, (k_left, top), K, L_k, cell, {rc: COLORS["conv"] for rc in labels}, labels)
    caption(k_left, top, L_k, f"kernel w ({K}×{L_k})")
    o_left = k_left + L_k * cell + top_gap
    operator(o_left - top_gap / 2, top - H * cell / 2, "=")
    labels = {(j // Wo, j % Wo): _number(v) for j, v in enumerate(outputs)}
    out_colors = {(j // Wo, j % Wo): color for j, color in fill.items()}
    grid(ax, (o_left, top), Ho, Wo, cell, out_colors, labels)
    for text in ax.texts[-len(labels) :]:  # the value off-centre, clear of the corner's number
        x_text, y_text = text.get_position()
        text.set_position((x_text + 0.16 * cell, y_text - 0.16 * cell))
    for j in range(len(outputs)):  # the patch number in each output cell's corner
        ax.text(
            o_left + (j % Wo) * cell + 0.04,
            top - (j // Wo) * cell - 0.04,
            str(j + 1),
            ha="left",
            va="top",
            fontsize=7,
            color="dimgray",
            gid=f"output-number:{j}",
        )
    caption(o_left, top, Wo, f"output y ({Ho}×{Wo})")
    for i, j in enumerate(highlight):
        ax.text(left, top - H * cell - 0.2 - 0.3 * i, f"patch {j + 1} → column {j + 1}",
                color=colors[i % 2], fontsize=8, fontweight="bold", va="top")  # fmt: skip

    # Bottom row: kernel row x patch matrix = output row.
    m_top = top - H * cell - 1.6
    labels = {(0, c): _number(v) for c, v in enumerate(kernel_row)}
    row_top = m_top - (rows - 1) * cell / 2
    grid(ax, (left, row_top), 1, rows, cell, {rc: COLORS["conv"] for rc in labels}, labels)
    caption(left, row_top, rows, f"w as a row (1×{rows})")
    m_left = left + rows * cell + gap
    operator(m_left - gap / 2, m_top - rows * cell / 2, "×")
    labels = {(r, j): _number(columns[j][r]) for j in range(len(columns)) for r in range(rows)}
    m_colors = {(r, j): fill[j] for j in fill for r in range(rows)}
    cells = grid(ax, (m_left, m_top), rows, len(columns), cell, m_colors, labels)
    _tag(cells, len(columns), lambda rc: f"columns:{rc[0]},{rc[1]}")
    for index, text in enumerate(ax.texts[-len(labels) :]):  # grid() writes row by row
        text.set_gid(f"columns-value:{index // len(columns)},{index % len(columns)}")
    for j in range(len(columns)):
        ax.text(m_left + (j + 0.5) * cell, m_top + 0.08, str(j + 1), ha="center",
                va="bottom", fontsize=7, color="dimgray", gid=f"column-number:{j}")  # fmt: skip
    caption(m_left, m_top + 0.3, len(columns), f"patch matrix: column j = patch j "
            f"({rows}×{len(columns)})")  # fmt: skip
    r_left = m_left + len(columns) * cell + gap
    operator(r_left - gap / 2, m_top - rows * cell / 2, "=")
    labels = {(0, j): _number(v) for j, v in enumerate(outputs)}
    out_colors = {(0, j): color for j, color in fill.items()}
    grid(ax, (r_left, row_top), 1, len(outputs), cell, out_colors, labels)
    for j, text in enumerate(ax.texts[-len(labels) :]):
        text.set_gid(f"row-value:{j}")
    for j in range(len(outputs)):
        ax.text(r_left + (j + 0.5) * cell, row_top + 0.08, str(j + 1), ha="center",
                va="bottom", fontsize=7, color="dimgray")  # fmt: skip
    caption(r_left, row_top + 0.3, len(outputs), f"y as a row (1×{len(outputs)})")
    return fig
