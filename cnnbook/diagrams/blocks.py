"""Chapter 6's block diagrams: the Inception block, ResNet's basic and bottleneck blocks,
and DenseNet's dense block with its transition.

Every channel count is read from a module built by `cnnbook.models`, not typed here, so
a diagram cannot drift from the code the chapter runs. Texts and patches that tests look
for carry a gid.
"""

from __future__ import annotations

from itertools import pairwise

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle

from cnnbook.diagrams.shapes import COLORS, Box, arrow, box, canvas
from cnnbook.models.dense import DenseBlock, Transition
from cnnbook.models.inception import GOOGLENET_BLOCKS, InceptionBlock
from cnnbook.models.residual import BasicBlock, Bottleneck


def _chain(ax: Axes, boxes: list[Box]) -> None:
    """Arrows from each box's bottom to the next one's top."""
    for upper, lower in pairwise(boxes):
        arrow(ax, upper.bottom, lower.top)


def inception_block(name: str = "3a") -> Figure:
    """GoogLeNet's Inception block `name` (a key of `GOOGLENET_BLOCKS`), top to bottom:
    the input, four branches side by side, their concatenation along the channels."""
    block = InceptionBlock(*GOOGLENET_BLOCKS[name])
    c_in = block.branch1[0].in_channels
    c1 = block.branch1[0].out_channels
    r3, c3 = block.branch2[0].out_channels, block.branch2[2].out_channels
    r5, c5 = block.branch3[0].out_channels, block.branch3[2].out_channels
    pool = block.branch4[0].kernel_size
    proj = block.branch4[1].out_channels
    fig, ax = canvas(13, 7.6, f"Inception block {name}: {c_in} → {block.out_channels} channels",
                     scale=0.62)  # fmt: skip
    source = box(ax, (6.5, 6.9), f"previous layer: {c_in} channels", "input", width=4.4)
    xs = (1.8, 5.0, 8.2, 11.4)
    first = [
        box(ax, (xs[0], 5.2), f"1×1 conv, {c1}", "conv", width=2.8),
        box(ax, (xs[1], 5.2), f"1×1 conv, {r3}", "conv", width=2.8),
        box(ax, (xs[2], 5.2), f"1×1 conv, {r5}", "conv", width=2.8),
        box(ax, (xs[3], 5.2), f"{pool}×{pool} max pool", "pool", width=2.8),
    ]
    second = [
        None,
        box(ax, (xs[1], 3.8), f"3×3 conv, {c3}", "conv", width=2.8),
        box(ax, (xs[2], 3.8), f"5×5 conv, {c5}", "conv", width=2.8),
        box(ax, (xs[3], 3.8), f"1×1 conv, {proj}", "conv", width=2.8),
    ]
    total = f"{c1} + {c3} + {c5} + {proj} = {block.out_channels}"
    concat = box(ax, (6.5, 2.0), f"concatenate along channels: {total}", "concat", width=12)
    ax.texts[-1].set_gid("concat")
    for x, top, bottom, channels in zip(xs, first, second, (c1, c3, c5, proj), strict=True):
        arrow(ax, source.bottom, top.top)
        last = top if bottom is None else bottom
        if bottom is not None:
            arrow(ax, top.bottom, bottom.top)
        arrow(ax, last.bottom, (x, concat.y + concat.height), text=str(channels))
    ax.text(6.5, 0.9, "Every convolution is followed by a ReLU. Padding (1 for 3×3, 2 for 5×5, "
            "1 for the stride-1 pool) keeps\nevery branch at the input's height and width, so the "
            "branches can be stacked.", ha="center", va="center", fontsize=8)  # fmt: skip
    return fig


def _residual_column(ax: Axes, x: float, top: float, header: str,
                     layers: list[tuple[str, str]], c_in: int, c_out: int,
                     prefix: str) -> None:  # fmt: skip
    """One residual block drawn downwards from `top`: input, the residual branch F made of
    `layers` (text, kind), the addition node, the final ReLU, the output; and the identity
    shortcut around F on the right."""
    step, height = 0.72, 0.46
    ax.text(x, top, header, ha="center", va="center", fontsize=10, fontweight="bold")
    y = top - 0.7
    source = box(ax, (x, y), f"x: {c_in} channels", "input", width=2.4, height=height)
    boxes = [source]
    for text, kind in layers:
        y -= step
        width = 2.4 if kind == "conv" else 1.3
        boxes.append(box(ax, (x, y), text, kind, width=width, height=height, fontsize=8.5))
        ax.texts[-1].set_gid(f"{prefix}{kind}")
    y -= step
    radius = 0.24
    ax.add_patch(Circle((x, y), radius, facecolor=COLORS["add"], edgecolor="black",
                        linewidth=1, gid=f"{prefix}add"))  # fmt: skip
    ax.text(x, y, "+", ha="center", va="center", fontsize=12)
    add = Box(x - radius, y - radius, 2 * radius, 2 * radius)
    _chain(ax, [*boxes, add])
    relu = box(ax, (x, y - step), "ReLU", "act", width=1.3, height=height, fontsize=8.5)
    out = box(ax, (x, y - 2 * step), f"{c_out} channels", "input", width=2.4, height=height)
    _chain(ax, [add, relu, out])

    # F(x): a bracket left of the residual branch.
    f_top, f_bottom = boxes[1].y + height, boxes[-1].y
    left = x - 1.45
    ax.plot([left + 0.12, left, left, left + 0.12], [f_top, f_top, f_bottom, f_bottom],
            color="dimgray", linewidth=1)  # fmt: skip
    ax.text(left - 0.15, (f_top + f_bottom) / 2, r"$F(\mathbf{x})$", ha="right",
            va="center", fontsize=10)  # fmt: skip

    # The shortcut: from the input's arrow, around F on the right, into the addition node.
    right = x + 1.6
    start_y = source.y - 0.12
    ax.plot([x, right, right], [start_y, start_y, y], color="black", linewidth=1.2,
            gid=f"{prefix}shortcut")  # fmt: skip
    arrow(ax, (right, y), (x + radius, y))
    ax.text(right + 0.12, (start_y + y) / 2, r"identity $\mathbf{x}$", rotation=90,
            ha="left", va="center", fontsize=9, gid=f"{prefix}shortcut-label")  # fmt: skip


def residual_blocks(channels: int = 64, bottleneck: tuple[int, int] = (256, 64)) -> Figure:
    """ResNet's basic block at `channels` channels and its bottleneck block
    in_channels → mid → mid → 4 x mid (256 → 64 → 64 → 256 by default), side by side,
    with the note on the projection shortcut used when a block changes the shape."""
    basic = BasicBlock(channels, channels)
    neck = Bottleneck(*bottleneck)
    fig, ax = canvas(14, 10.0, r"Residual blocks: $\mathbf{y} = \mathrm{ReLU}(F(\mathbf{x})"
                     r" + \mathbf{x})$", scale=0.6)  # fmt: skip

    def conv(layer) -> str:
        k = layer.kernel_size[0]
        return f"{k}×{k} conv, {layer.out_channels}"

    norm, act = ("BN", "norm"), ("ReLU", "act")
    _residual_column(ax, 3.6, 9.5, "basic block (ResNet-18, -34)",
                     [(conv(basic.conv1), "conv"), norm, act, (conv(basic.conv2), "conv"), norm],
                     basic.conv1.in_channels, basic.conv2.out_channels, "basic/")  # fmt: skip
    _residual_column(ax, 10.4, 9.5, "bottleneck block (ResNet-50 and deeper)",
                     [(conv(neck.conv1), "conv"), norm, act, (conv(neck.conv2), "conv"), norm,
                      act, (conv(neck.conv3), "conv"), norm],
                     neck.conv1.in_channels, neck.conv3.out_channels, "bottleneck/")  # fmt: skip
    ax.text(3.6, 1.4, "When a block changes the shape (stride 2 or\nmore channels), the "
            "shortcut is a projection:\n1×1 conv with the same stride, then BN,\n"
            r"so $\mathbf{y} = \mathrm{ReLU}(F(\mathbf{x}) + W_s\mathbf{x})$.", ha="center",
            va="center", fontsize=8.5, gid="projection",
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "dimgray",
                  "linestyle": "--"})  # fmt: skip
    return fig


def dense_block(in_channels: int = 16, growth_rate: int = 12, num_layers: int = 4,
                compression: float = 0.5) -> Figure:  # fmt: skip
    """A dense block drawn as a growing stack of feature maps: layer l reads the whole
    stack (the concatenation of the block's input and every earlier layer's output) and
    puts `growth_rate` new maps on top; then the transition layer (BN, ReLU, 1x1 conv,
    2x2 average pool) shrinks the channels and halves the resolution. Stack heights are
    proportional to the channel counts."""
    block = DenseBlock(in_channels, growth_rate, num_layers)
    inputs = [layer[0].num_features for layer in block.layers]
    totals = [*inputs, block.out_channels]
    transition = Transition(block.out_channels, int(block.out_channels * compression))
    t_in, t_out = transition.conv.in_channels, transition.conv.out_channels

    unit, base, stack_w = 3.2 / block.out_channels, 1.3, 0.55
    step = stack_w + 2.4
    width = 0.8 + num_layers * step + stack_w + 4.2
    fig, ax = canvas(width, 6.0, f"Dense block ({num_layers} layers, $k_0$ = {in_channels}, "
                     f"growth rate $k$ = {growth_rate}) and transition layer",
                     scale=0.58)  # fmt: skip
    shades = plt.get_cmap("Blues")
    colors = [COLORS["input"]] + [shades(0.25 + 0.5 * i / max(num_layers - 1, 1))
                                  for i in range(num_layers)]  # fmt: skip

    def stack(index: int) -> tuple[float, float]:
        """Draw the stack after `index` layers; return its left x and top y."""
        x = 0.8 + index * step
        y = base
        sizes = [in_channels] + [growth_rate] * index
        for part, channels in enumerate(sizes):
            ax.add_patch(Rectangle((x, y), stack_w, channels * unit, facecolor=colors[part],
                                   edgecolor="black", linewidth=0.8,
                                   gid=f"stack{index}/part{part}"))  # fmt: skip
            ax.text(x + stack_w / 2, y + channels * unit / 2, f"$x_{part}$", ha="center",
                    va="center", fontsize=8)  # fmt: skip
            y += channels * unit
        label = (f"$k_0$ = {totals[index]}" if index == 0 else
                 f"$k_0 + {index}k$\n= {totals[index]}")  # fmt: skip
        ax.text(x + stack_w / 2, base - 0.15, label, ha="center", va="top", fontsize=8,
                gid=f"stack-total:{index}")  # fmt: skip
        return x, y

    x, top = stack(0)
    for layer in range(1, num_layers + 1):
        h_center = (x + stack_w + 1.2, base + 2.3)
        h = box(ax, h_center, f"$H_{layer}$: BN, ReLU,\n3×3 conv\n{inputs[layer - 1]} → "
                f"{growth_rate}", "conv", width=1.75, height=1.2, fontsize=8)  # fmt: skip
        ax.texts[-1].set_gid(f"layer:{layer}")
        arrow(ax, (x + stack_w, top - 0.15), h.left)  # reads the whole stack
        next_x, next_top = stack(layer)
        arrow(ax, h.right, (next_x, next_top - growth_rate * unit / 2))  # adds k maps
        arrow(ax, (x + stack_w, base + 0.25), (next_x, base + 0.25), color="dimgray")
        ax.text((x + stack_w + next_x) / 2, base + 0.35, "concat", ha="center", va="bottom",
                fontsize=8, color="dimgray")  # fmt: skip
        x, top = next_x, next_top

    t_x = x + stack_w + 2.2
    ax.text(t_x, 5.4, "transition layer", ha="center", va="center", fontsize=9,
            fontweight="bold")  # fmt: skip
    labels = [
        ("BN", "norm"),
        ("ReLU", "act"),
        (f"1×1 conv, {t_in} → {t_out}", "conv"),
        ("2×2 avg pool, stride 2", "pool"),
    ]
    boxes = []
    for i, (text, kind) in enumerate(labels):
        boxes.append(box(ax, (t_x, 4.8 - 0.8 * i), text, kind, width=3.3, height=0.46,
                         fontsize=8))  # fmt: skip
        ax.texts[-1].set_gid(f"transition:{i}")
    boxes.append(box(ax, (t_x, 4.8 - 0.8 * len(labels)), f"{t_out} channels, H/2 × W/2",
                     "input", width=3.3, height=0.46, fontsize=8))  # fmt: skip
    ax.texts[-1].set_gid("transition:out")
    _chain(ax, boxes)
    arrow(ax, (x + stack_w, top - 0.15), boxes[0].left)
    return fig
