"""Chapter 8's diagrams: the R-CNN family's pipelines, the region proposal network's head
with its anchors, and YOLO's grid with the output tensor it predicts.

The RPN's channel counts and anchors are read from the chapter's two-stage detector
(`cnnbook.models.two_stage`), and YOLO's output layout from `cnnbook.models.yolo` run on
a blank image and split by `cnnbook.yolo.split_output`, so the figures cannot drift from
the chapter's code. Patches and texts that tests look for carry a gid.
"""

from __future__ import annotations

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Polygon, Rectangle
from torch import nn

from cnnbook.diagrams.segmentation import page
from cnnbook.diagrams.shapes import COLORS, Box, arrow, box, grid
from cnnbook.models.two_stage import TwoStageDetector
from cnnbook.models.yolo import tiny_yolo
from cnnbook.yolo import split_output, yolo_targets

# What a pipeline's box is, by colour: data, a step run once per image, a step run once
# per region (about 2,000 times per image in R-CNN).
KINDS = {"data": "input", "image": "conv", "region": "pool"}
KIND_LEGEND = {"data": "data", "image": "runs once per image", "region": "runs once per region"}

# name: (note, nodes, edges); a node is key: (text, kind, centre, width), an edge goes
# from one key to another.
MAIN, SUB = 0.0, -0.78  # rows of a pipeline, relative to its main row
Node = tuple[str, str, tuple[float, float], float]
PIPELINES: dict[str, tuple[str, dict[str, Node], list[tuple[str, str]]]] = {
    "R-CNN": (
        "a CNN pass for every proposal",
        {
            "image": ("image", "data", (0.4, MAIN), 0.7),
            "proposals": ("selective search:\n~2,000 proposals", "image", (1.75, MAIN), 1.45),
            "warp": ("warp each\nto 227×227", "region", (3.35, MAIN), 1.15),
            "cnn": ("CNN\nper region", "region", (4.75, MAIN), 1.05),
            "output": ("SVMs +\nbox regression", "region", (6.25, MAIN), 1.4),
        },
        [("image", "proposals"), ("proposals", "warp"), ("warp", "cnn"), ("cnn", "output")],
    ),
    "Fast R-CNN": (
        "one CNN pass per image, shared by the regions",
        {
            "image": ("image", "data", (0.4, MAIN), 0.7),
            "cnn": ("CNN\nonce", "image", (1.35, MAIN), 0.8),
            "features": ("feature\nmap", "data", (2.45, MAIN), 0.9),
            "proposals": ("selective search:\n~2,000 proposals", "image", (1.9, SUB), 1.45),
            "roi": ("RoI\npooling", "region", (3.6, MAIN), 0.95),
            "head": ("FC\nhead", "region", (4.75, MAIN), 0.9),
            "output": ("softmax +\nbox regression", "region", (6.25, MAIN), 1.4),
        },
        [
            ("image", "cnn"),
            ("cnn", "features"),
            ("features", "roi"),
            ("image", "proposals"),
            ("proposals", "roi"),
            ("roi", "head"),
            ("head", "output"),
        ],
    ),
    "Faster R-CNN": (
        "the proposals come from the same feature map",
        {
            "image": ("image", "data", (0.4, MAIN), 0.7),
            "cnn": ("CNN\nonce", "image", (1.35, MAIN), 0.8),
            "features": ("feature\nmap", "data", (2.45, MAIN), 0.9),
            "rpn": ("RPN", "image", (2.45, SUB), 0.9),
            "proposals": ("proposals\n(~300)", "data", (3.6, SUB), 0.95),
            "roi": ("RoI\npooling", "region", (3.6, MAIN), 0.95),
            "head": ("FC\nhead", "region", (4.75, MAIN), 0.9),
            "output": ("softmax +\nbox regression", "region", (6.25, MAIN), 1.4),
        },
        [
            ("image", "cnn"),
            ("cnn", "features"),
            ("features", "roi"),
            ("features", "rpn"),
            ("rpn", "proposals"),
            ("proposals", "roi"),
            ("roi", "head"),
            ("head", "output"),
        ],
    ),
}


def _connect(ax: Axes, a: Box, b: Box) -> None:
    """An arrow from box a to box b: straight along a row or a column, otherwise an elbow
    (down then right into a lower box, right then up into a higher one)."""
    (ax_, ay), (bx, by) = a.center, b.center
    if abs(ay - by) < 1e-9:
        arrow(ax, a.right, b.left)
    elif abs(ax_ - bx) < 1e-9:
        arrow(ax, a.bottom, b.top) if ay > by else arrow(ax, a.top, b.bottom)
    elif ay > by:
        ax.plot([ax_, ax_], [a.y, by], color="black", linewidth=1.2)
        arrow(ax, (ax_, by), b.left)
    else:
        ax.plot([a.x + a.width, bx], [ay, ay], color="black", linewidth=1.2)
        arrow(ax, (bx, ay), b.bottom)


def detector_pipelines() -> Figure:
    """R-CNN, Fast R-CNN and Faster R-CNN in three rows, each box coloured by how often
    it runs: once per image (the shared CNN, the proposal method) or once per region (the
    warp and CNN of R-CNN, RoI pooling and the head after it). The rows read as the
    history of moving work out of the per-region colour."""
    height = 5.3
    fig, ax = page(7.0, height, "From R-CNN to Faster R-CNN")
    tops = {"R-CNN": 4.65, "Fast R-CNN": 3.55, "Faster R-CNN": 1.7}
    for name, (note, nodes, edges) in PIPELINES.items():
        y0 = tops[name]
        label = ax.text(0.05, y0 + 0.47, name, ha="left", va="center", fontsize=10,
                        fontweight="bold", gid=f"{name}/name")  # fmt: skip
        ax.annotate(f"({note})", (1, 0.5), xycoords=label, xytext=(5, 0),
                    textcoords="offset points", ha="left", va="center", fontsize=9,
                    color="dimgray", gid=f"{name}/note")  # fmt: skip
        boxes = {}
        for key, (text, kind, (x, dy), width) in nodes.items():
            boxes[key] = box(ax, (x, y0 + dy), text, KINDS[kind], width=width, height=0.5)
            ax.patches[-1].set_gid(f"{name}/{key}")
            ax.texts[-1].set_gid(f"{name}/{key}")
        for start, end in edges:
            _connect(ax, boxes[start], boxes[end])
    for i, (kind, text) in enumerate(KIND_LEGEND.items()):
        x = 0.45 + 2.3 * i
        ax.add_patch(Rectangle((x - 0.4, 0.12), 0.3, 0.24, facecolor=COLORS[KINDS[kind]],
                               edgecolor="black", linewidth=0.8, gid=f"legend/{kind}"))  # fmt: skip
        ax.text(x, 0.24, text, ha="left", va="center", fontsize=9, gid=f"legend/{kind}")
    return fig


def _two_stage(in_channels: int, num_anchors: int) -> TwoStageDetector:
    """The chapter's two-stage detector over an `in_channels` feature map, with the anchors
    of `anchor_settings(num_anchors)`, built under a forked random state: drawing a figure
    must not change the numbers of the cells that follow it."""
    sizes, ratios = anchor_settings(num_anchors)
    with torch.random.fork_rng(devices=[]):
        return TwoStageDetector(nn.Identity(), in_channels, 1, sizes=sizes, aspect_ratios=ratios)


def rpn_layers(in_channels: int = 256, num_anchors: int = 9) -> nn.ModuleDict:
    """The RPN head of `cnnbook.models.two_stage.TwoStageDetector`, as in Ren et al.: a 3x3
    convolution (followed by a ReLU) sliding over the backbone's feature map, then two
    sibling 1x1 convolutions giving, at every position, 2 objectness scores (object, not
    object, softmaxed) and 4 box offsets for each of the `num_anchors` anchors.
    (torchvision keeps 1 score per anchor and a sigmoid.)"""
    detector = _two_stage(in_channels, num_anchors)
    return nn.ModuleDict({"conv": detector.rpn_conv, "objectness": detector.rpn_scores,
                          "box_offsets": detector.rpn_offsets})  # fmt: skip


def anchor_settings(num_anchors: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """(sizes, aspect ratios) whose product gives `num_anchors` anchors: the paper's three
    ratios (height / width 0.5, 1, 2) with sizes 128, 256, 512, ... as far as needed, or
    square anchors only when `num_anchors` is not a multiple of 3."""
    ratios = (0.5, 1.0, 2.0) if num_anchors % 3 == 0 else (1.0,)
    sizes = tuple(128 * 2**k for k in range(num_anchors // len(ratios)))
    return sizes, ratios


def _ratio(r: float) -> str:
    """A height / width ratio as h:w."""
    return "1:1" if r == 1 else (f"1:{round(1 / r)}" if r < 1 else f"{round(r)}:1")


def rpn_head(in_channels: int = 256, num_anchors: int = 9) -> Figure:
    """Left, the RPN head of the chapter's `TwoStageDetector` (the layers `rpn_layers`
    returns): the feature map, the 3x3 convolution and the two sibling 1x1 convolutions
    with their channel counts (18 = 9 x 2 objectness scores, 36 = 9 x 4 box offsets for 9
    anchors); right, the detector's anchors of one position (`generate_anchors`, 3 sizes x
    3 ratios by default), coloured by size, so a reader sees what each channel scores."""
    detector = _two_stage(in_channels, num_anchors)
    conv, cls, reg = detector.rpn_conv, detector.rpn_scores, detector.rpn_offsets
    fig, ax = page(7.0, 3.9, "Region proposal network (RPN) head")
    x = 1.85
    fmap = box(ax, (x, 3.35), f"feature map\nH × W × {conv.in_channels}", "input", width=2.3,
               height=0.5)  # fmt: skip
    k = conv.kernel_size[0]
    mid = box(ax, (x, 2.45), f"{k}×{k} conv, {conv.out_channels}\n+ ReLU", "conv", width=2.3,
              height=0.5)  # fmt: skip
    ax.texts[-1].set_gid("rpn/conv")
    arrow(ax, fmap.bottom, mid.top)
    for layer, cx, what, per in ((cls, 0.85, "objectness scores", "cls"),
                                 (reg, 2.85, "box offsets", "reg")):  # fmt: skip
        out, kk = layer.out_channels, layer.kernel_size[0]
        sibling = box(ax, (cx, 1.2), f"{kk}×{kk} conv\n{out} = {num_anchors} × "
                      f"{out // num_anchors}\n{what}", "conv", width=1.65,
                      height=0.72)  # fmt: skip
        ax.texts[-1].set_gid(f"rpn/{per}")
        ax.plot([x, cx], [mid.y, mid.y - 0.2], color="black", linewidth=1.2)
        arrow(ax, (cx, mid.y - 0.2), sibling.top)
    ax.text(x, 0.45, f"at each of the H × W positions,\nfor each of the {num_anchors} anchors",
            ha="center", va="center", fontsize=9, gid="rpn/per-position")  # fmt: skip

    sizes, ratios = anchor_settings(num_anchors)
    anchors = detector.cell_anchors  # generate_anchors(sizes, ratios), centred on 0
    extent = (anchors[:, 2:] - anchors[:, :2]).max().item()
    centre, scale = (5.45, 2.05), 2.4 / extent
    shades = ("#3182bd", COLORS["highlight"], "#31a354", "#756bb1", "#e7298a")
    for n, (x0, y0, x1, y1) in enumerate(anchors.tolist()):
        ax.add_patch(Rectangle((centre[0] + x0 * scale, centre[1] + y0 * scale),
                               (x1 - x0) * scale, (y1 - y0) * scale, fill=False,
                               edgecolor=shades[n % len(sizes) % len(shades)], linewidth=1.6,
                               gid=f"anchor:{n}"))  # fmt: skip
    ax.add_patch(Circle(centre, 0.05, color="black"))
    plural = "s" if num_anchors != 1 else ""
    ax.text(centre[0], 3.55, f"{len(anchors)} anchor{plural} at one position", ha="center",
            va="center", fontsize=10, gid="anchors/title")  # fmt: skip
    size_word = "size" if len(sizes) == 1 else "sizes"
    ratio_word = "ratio" if len(ratios) == 1 else "ratios"
    ax.text(centre[0], 0.45,
            f"{len(sizes)} {size_word} ({', '.join(map(str, sizes))} px"
            f"{', by colour' if len(sizes) > 1 else ''})\n"
            f"× {len(ratios)} {ratio_word} h:w ({', '.join(_ratio(r) for r in ratios)})",
            ha="center", va="center", fontsize=9, gid="anchors/caption")  # fmt: skip
    return fig


def yolo_layout(grid_size: int = 8, boxes_per_cell: int = 2, num_classes: int = 3,
                image_size: int = 64) -> dict[str, int]:  # fmt: skip
    """S, B, C and the depth B * 5 + C as the chapter's code has them: `tiny_yolo` run on
    a blank image gives the output's shape, `split_output` says how its depth divides into
    boxes and class scores. Raises ValueError when the network does not give an
    S x S grid for that image size."""
    with torch.random.fork_rng(devices=[]):
        model = tiny_yolo(boxes_per_cell, num_classes).eval()
    with torch.no_grad():
        output = model(torch.zeros(1, 3, image_size, image_size))
    parts = split_output(output, boxes_per_cell)
    s = parts.xy.shape[1]
    if (s, parts.xy.shape[2]) != (grid_size, grid_size):
        raise ValueError(f"tiny_yolo maps a {image_size}-pixel image to a {s} × "
                         f"{parts.xy.shape[2]} grid, not {grid_size} × {grid_size}")  # fmt: skip
    per_box = parts.xy.shape[-1] + parts.wh.shape[-1] + 1  # x, y, w, h and the confidence
    return {"S": s, "B": parts.xy.shape[3], "C": parts.class_logits.shape[-1],
            "per_box": per_box, "depth": output.shape[1]}  # fmt: skip


def yolo_grid(grid_size: int = 8, boxes_per_cell: int = 2, num_classes: int = 3,
              image_size: int = 64) -> Figure:  # fmt: skip
    """Left, an image under an S x S grid with one object whose centre makes its cell the
    responsible one (found by `yolo_targets`); right, the S x S x (B * 5 + C) output of
    `tiny_yolo`; below, that cell's vector spelt out as B boxes (x, y, w, h, confidence)
    and C class scores. Shapes come from `yolo_layout`."""
    layout = yolo_layout(grid_size, boxes_per_cell, num_classes, image_size)
    S, B, C, per_box, depth = (layout[k] for k in ("S", "B", "C", "per_box", "depth"))
    fig, ax = page(7.0, 4.4, "YOLO: a grid over the image, a vector per cell")

    # The object, in pixels, and the cell that holds its centre.
    obj = torch.tensor([[0.3, 0.25, 0.78, 0.7]]) * image_size
    target = yolo_targets(obj, torch.tensor([1]), S, C, image_size)
    (row, col), = (target[..., 4] == 1).nonzero().tolist()  # fmt: skip

    side, left, top = 2.4, 0.3, 3.8
    cell = side / S
    grid(ax, (left, top), S, S, cell=cell, colors={(row, col): COLORS["highlight"]})
    ax.patches[-S * S + row * S + col].set_gid("responsible")
    x0, y0, x1, y1 = (obj[0] / image_size * side).tolist()
    ax.add_patch(Rectangle((left + x0, top - y1), x1 - x0, y1 - y0, fill=False,
                           edgecolor="black", linestyle="--", linewidth=1.5))  # fmt: skip
    cx, cy = left + (x0 + x1) / 2, top - (y0 + y1) / 2
    ax.add_patch(Circle((cx, cy), 0.05, color="black", gid="centre"))
    ax.text(left + side / 2, top + 0.1, f"image, {S} × {S} grid: the object's centre\nis in "
            f"cell ({row}, {col}), which predicts it", ha="center", va="bottom", fontsize=9,
            gid="image/title")  # fmt: skip

    # The output tensor, drawn in oblique projection; its front face is the grid.
    t_side, t_left, t_top = 1.9, 3.95, 3.5
    t_cell = t_side / S
    dx, dy = 0.75, 0.35
    front = [(t_left, t_top - t_side), (t_left + t_side, t_top - t_side),
             (t_left + t_side, t_top), (t_left, t_top)]  # fmt: skip
    ax.add_patch(Polygon([front[3], front[2], (front[2][0] + dx, front[2][1] + dy),
                          (front[3][0] + dx, front[3][1] + dy)], facecolor=COLORS["conv"],
                         edgecolor="black", linewidth=0.8))  # fmt: skip
    ax.add_patch(Polygon([front[1], front[2], (front[2][0] + dx, front[2][1] + dy),
                          (front[1][0] + dx, front[1][1] + dy)], facecolor=COLORS["conv"],
                         edgecolor="black", linewidth=0.8))  # fmt: skip
    grid(ax, (t_left, t_top), S, S, cell=t_cell, colors={(row, col): COLORS["highlight"]})
    ax.text(t_left + (t_side + dx) / 2, t_top + dy + 0.1, f"output {S} × {S} × {depth}:\n"
            f"{depth} = {B} × {per_box} + {C}  (B × {per_box} + C)", ha="center", va="bottom",
            fontsize=9, gid="tensor/title")  # fmt: skip

    # One cell's vector: B groups of (x, y, w, h, confidence), then C class scores.
    v_cell = min(0.5, 6.8 / depth)
    v_left, v_top = 3.5 - depth * v_cell / 2, 0.9
    names = ["$x$", "$y$", "$w$", "$h$", "conf" if v_cell >= 0.42 else "$c$"]
    labels, colors = {}, {}
    for b in range(B):
        for i, name in enumerate(names):
            labels[(0, b * per_box + i)] = name
            colors[(0, b * per_box + i)] = COLORS["conv"] if b % 2 == 0 else COLORS["linear"]
    for c in range(C):
        if v_cell >= 0.3:
            labels[(0, B * per_box + c)] = f"$p_{{{c + 1}}}$"
        colors[(0, B * per_box + c)] = COLORS["concat"]
    cells = grid(ax, (v_left, v_top), 1, depth, cell=v_cell, colors=colors, labels=labels,
                 fontsize=9)  # fmt: skip
    for i, patch in enumerate(cells):
        patch.set_gid(f"vector:{i}")
    chosen = (t_left + col * t_cell, t_top - (row + 1) * t_cell)
    for corner, end in (((0, 0), v_left), ((t_cell, 0), v_left + depth * v_cell)):
        ax.plot([chosen[0] + corner[0], end], [chosen[1], v_top], color="dimgray",
                linewidth=0.8, linestyle=":")  # fmt: skip
    groups = [(b * per_box, per_box, f"box {b + 1}") for b in range(B)]
    groups.append((B * per_box, C, f"{C} class scores"))
    for start, count, text in groups:
        a, b = v_left + start * v_cell + 0.04, v_left + (start + count) * v_cell - 0.04
        y = v_top - v_cell - 0.08
        ax.plot([a, a, b, b], [y + 0.05, y, y, y + 0.05], color="black", linewidth=0.8)
        ax.text((a + b) / 2, y - 0.06, text, ha="center", va="top", fontsize=9,
                gid="vector/group")  # fmt: skip
    return fig
