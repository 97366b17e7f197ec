"""Chapter 7's diagram of FCN-32s, FCN-16s and FCN-8s: where each variant takes its class
scores from, how the coarse scores are upsampled 2x and added to finer ones, and the final
upsampling back to the image.

Every size is read from `cnnbook.models.fcn.FCN` run on a blank image, and every factor
from its layers, so the figure shows what the chapter's models compute; texts that tests
look for carry a gid ("8s/pool4", "16s/final", ...).
"""

from __future__ import annotations

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle
from torch import nn

from cnnbook.diagrams.shapes import COLORS, Box, arrow, box, canvas
from cnnbook.models.fcn import FCN

VARIANTS = (32, 16, 8)
# Columns, coarse to fine: pool5, 2x up, pool4, 2x up, pool3, final up, output (inches).
COLUMNS = (0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.55)
BAND = 1.86  # height of one variant's band
WIDTH, HEIGHT = 0.96, 0.46
MARGIN, TITLE_SPACE = 0.1, 0.4  # inches around the drawing, and above it for the title


def page(width: float, height: float, title: str) -> tuple[Figure, Axes]:
    """`canvas` whose axis spans `width` x `height` inches of the figure, with MARGIN on
    every side and room for the title: a data unit is an inch, so text sizes in points and
    box sizes agree at any display width, and the figure saved with a tight bounding box
    (which keeps the whole axis plus matplotlib's 0.1-inch pad) is `width` + 0.2 wide.
    Chapters 8 and 9's diagrams use it too."""
    fig_w, fig_h = width + 2 * MARGIN, height + MARGIN + TITLE_SPACE
    fig, ax = canvas(fig_w, fig_h, title)
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    fig.subplots_adjust(left=MARGIN / fig_w, right=1 - MARGIN / fig_w, bottom=MARGIN / fig_h,
                        top=1 - TITLE_SPACE / fig_h)  # fmt: skip
    return fig, ax


def fcn_trace(image_size: int = 64, num_classes: int = 4, stride: int = 8) -> dict[str, dict]:
    """Run `FCN(num_classes, stride)` on a blank `image_size` image and record, for each
    stage the diagram shows, its output's (height, width, channels) and, for the pools,
    the product of the strides of every pooling before it.

    The model is built under a forked random state: drawing a figure must not change the
    numbers of the cells that follow it in a chapter."""
    with torch.random.fork_rng(devices=[]):
        model = FCN(num_classes, stride=stride).eval()
    names = {"pool3": model.stages[2], "pool4": model.stages[3], "pool5": model.stages[4]}
    for name in ("score_pool5", "up_pool5", "score_pool4", "up_pool4", "score_pool3"):
        if hasattr(model, name):
            names[name] = getattr(model, name)
    names["upsample"] = model.upsample
    found: dict[str, dict] = {}

    def record(name: str):
        def hook(module: nn.Module, inputs, output: torch.Tensor) -> None:
            found[name] = {"size": (output.shape[2], output.shape[3], output.shape[1])}

        return hook

    handles = [module.register_forward_hook(record(name)) for name, module in names.items()]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, image_size, image_size))
    finally:
        for handle in handles:
            handle.remove()
    total = 1
    for i, stage in enumerate(model.stages):
        for layer in stage.modules():
            if isinstance(layer, nn.MaxPool2d):
                s = layer.stride
                total *= s if isinstance(s, int) else s[0]
        if f"pool{i + 1}" in found:
            found[f"pool{i + 1}"]["stride"] = total
    for name in ("up_pool5", "up_pool4", "upsample"):
        if name in found:
            found[name]["factor"] = names[name].stride[0]
    return found


def _size(entry: dict) -> str:
    h, w, _ = entry["size"]
    return f"{h}×{w}"


def _add_node(ax: Axes, center: tuple[float, float], gid: str) -> Box:
    radius = 0.15
    ax.add_patch(Circle(center, radius, facecolor=COLORS["add"], edgecolor="black",
                        linewidth=1, gid=gid))  # fmt: skip
    ax.text(*center, "+", ha="center", va="center", fontsize=12)
    return Box(center[0] - radius, center[1] - radius, 2 * radius, 2 * radius)


def _band(ax: Axes, top: float, variant: int, trace: dict[str, dict]) -> None:
    """One variant in three rows: the pools it reads (with size and stride), their 1x1
    score layers, and the line along which scores are upsampled, added and upsampled to
    the image. Columns line up across bands, so the skips' extra paths stand out."""
    y_pool, y_score, y_sum = top - 0.3, top - 0.92, top - 1.5
    prefix = f"{variant}s/"
    ax.text(6.95, y_pool, f"FCN-{variant}s", ha="right", va="center", fontsize=11,
            fontweight="bold", gid=f"{prefix}name")  # fmt: skip
    classes = trace["score_pool5"]["size"][2]
    pools = {"pool5": COLUMNS[0], "pool4": COLUMNS[2], "pool3": COLUMNS[4]}
    used = ["pool5"] + (["pool4"] if variant <= 16 else []) + (["pool3"] if variant == 8 else [])
    scores = {}
    for name in used:
        x, entry = pools[name], trace[name]
        pool = box(ax, (x, y_pool), f"{name} {_size(entry)}\nstride {entry['stride']}", "pool",
                   width=WIDTH, height=HEIGHT)  # fmt: skip
        ax.texts[-1].set_gid(prefix + name)
        text = "conv head\n+ 1×1 conv" if name == "pool5" else f"1×1 conv\n{classes} classes"
        scores[name] = box(ax, (x, y_score), text, "conv", width=WIDTH, height=HEIGHT)
        ax.texts[-1].set_gid(f"{prefix}score_{name}")
        arrow(ax, pool.bottom, scores[name].top)

    # pool5's scores go down to the line along which they are upsampled and summed
    start = scores["pool5"].bottom
    ax.plot([start[0], start[0]], [start[1], y_sum], color="black", linewidth=1.2)
    current = (start[0], y_sum)
    for up, skip, x_up, x_add in (("up_pool5", "pool4", COLUMNS[1], COLUMNS[2]),
                                  ("up_pool4", "pool3", COLUMNS[3], COLUMNS[4])):  # fmt: skip
        if skip not in used:
            break
        entry = trace[up]
        up_box = box(ax, (x_up, y_sum), f"{entry['factor']}× up\n→ {_size(entry)}", "conv",
                     width=0.82, height=HEIGHT)  # fmt: skip
        ax.texts[-1].set_gid(f"{prefix}{up}")
        arrow(ax, current, up_box.left)
        add = _add_node(ax, (x_add, y_sum), f"{prefix}add_{skip}")
        arrow(ax, up_box.right, add.left)
        arrow(ax, scores[skip].bottom, add.top)
        current = add.right
    entry = trace["upsample"]
    final = box(ax, (COLUMNS[5], y_sum), f"×{entry['factor']} up", "conv", width=0.7,
                height=HEIGHT)  # fmt: skip
    ax.texts[-1].set_gid(f"{prefix}final")
    arrow(ax, current, final.left)
    h, w, c = entry["size"]
    out = box(ax, (COLUMNS[6], y_sum), f"scores\n{h}×{w}×{c}", "input", width=0.8,
              height=HEIGHT)  # fmt: skip
    ax.texts[-1].set_gid(f"{prefix}output")
    arrow(ax, final.right, out.left)


def fcn_skips(image_size: int = 64, num_classes: int = 4) -> Figure:
    """FCN-32s, FCN-16s and FCN-8s in three aligned bands, for an `image_size` square image
    and `num_classes` classes: pool3, pool4 and pool5 with their spatial size and stride,
    the 1x1 score layers (pool5's on the convolutionalized head), the 2x upsamplings, the
    additions and the final upsampling by the variant's stride. The sizes come from running
    the chapter's `FCN`: the coarser the last scores, the larger the blocks FCN-32s paints."""
    traces = {v: fcn_trace(image_size, num_classes, v) for v in VARIANTS}
    height = 0.2 + BAND * len(VARIANTS)
    fig, ax = page(7.0, height, f"FCN-32s, -16s and -8s on a {image_size}×{image_size} image")
    for i, variant in enumerate(VARIANTS):
        _band(ax, height - 0.1 - i * BAND, variant, traces[variant])
    return fig
