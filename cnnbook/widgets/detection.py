"""Chapter 8's two explorers: non-maximum suppression and anchors.

A detector proposes many overlapping boxes per object; the NMS explorer shows what the
IoU and score thresholds leave of them, class by class as torchvision's `batched_nms`
runs. The anchor explorer shows where a region proposal network's anchors sit (at the
top-left corner of each feature-map cell, in torchvision's convention), how many there
are, and which of them training would call positive, negative or ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from cnnbook.boxes import class_wise_nms, generate_anchors, grid_anchors, label_anchors
from cnnbook.data.scenes import SHAPES
from cnnbook.plotting import as_image
from cnnbook.widgets import wire

CLASS_COLOURS = ("tab:red", "tab:blue", "tab:orange", "tab:purple", "tab:brown", "tab:pink")
# targets: white with a black outline, legible on any background and unlike any class
TARGET_STYLE = {
    "color": "white",
    "lw": 1.4,
    "path_effects": [patheffects.withStroke(linewidth=3, foreground="black")],
}
RATIO_COLOURS = ("tab:red", "yellow", "cyan", "magenta", "lime")

SIZE_PRESETS = {
    "8, 16, 32": (8, 16, 32),
    "16, 32": (16, 32),
    "8, 16": (8, 16),
    "16": (16,),
    "32": (32,),
}
RATIO_PRESETS = {
    "1": (1.0,),
    "0.5, 1, 2": (0.5, 1.0, 2.0),
    "0.25, 0.5, 1, 2, 4": (0.25, 0.5, 1.0, 2.0, 4.0),
}


def _rectangle(box: Sequence[float], **style) -> plt.Rectangle:
    """A pixel-edge box as a patch: imshow puts pixel centres at integers, so the edge
    x0 of a box is drawn at x0 - 0.5, as `cnnbook.plotting.draw_boxes` does."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, **style)


def _show_image(ax: plt.Axes, image: torch.Tensor) -> tuple[int, int]:
    picture = as_image(image)
    ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None)
    height, width = picture.shape[:2]
    ax.set(xlim=(-0.5, width - 0.5), ylim=(height - 0.5, -0.5))
    ax.set(xlabel="x (pixels)", ylabel="y (pixels)")
    return height, width


def _legend_below(ax: plt.Axes, handles: list, columns: int, fontsize: int = 8) -> None:
    """A frameless legend under the axis, so it never hides boxes on the image; its gap
    (in font sizes) clears the tick labels and the axis label at any figure size."""
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0), borderaxespad=3.4,
              ncol=min(len(handles), columns), fontsize=fontsize, frameon=False)  # fmt: skip


def _draw_targets(ax: plt.Axes, targets: torch.Tensor | None) -> None:
    for box in [] if targets is None else targets.tolist():
        ax.add_patch(_rectangle(box, gid="target", **TARGET_STYLE))


def render_nms_explorer(
    image: torch.Tensor,
    boxes: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.1,
    class_names: Sequence[str] = SHAPES,
    targets: torch.Tensor | None = None,
) -> Figure:
    """A scene's raw detections before and after class-wise NMS.

    `boxes` (K, 4) are pixel-edge boxes with their `scores` (K,) and class `labels` (K,)
    counting from 1, so that label k is named `class_names[k - 1]`. Detections scoring
    below `score_threshold` are dropped first, as a detector does before NMS; a box is
    then suppressed when its IoU with a better box of its class is strictly greater than
    `iou_threshold`. `targets` (M, 4), when given, are drawn in white for comparison."""
    boxes = boxes.detach().float().cpu().reshape(-1, 4)
    scores = scores.detach().float().cpu().reshape(-1)
    labels = labels.detach().cpu().long().reshape(-1)
    passing = scores >= score_threshold
    boxes, scores, labels = boxes[passing], scores[passing], labels[passing]
    keep = class_wise_nms(boxes, scores, labels, iou_threshold)
    kept = torch.zeros(len(boxes), dtype=torch.bool)
    kept[keep] = True
    classes = sorted({*labels.tolist(), *range(1, len(class_names) + 1)})

    def colour(label: int) -> str:
        return CLASS_COLOURS[(label - 1) % len(CLASS_COLOURS)]

    def name(label: int) -> str:
        return class_names[label - 1] if 1 <= label <= len(class_names) else f"class {label}"

    fig, (ax_before, ax_after) = plt.subplots(1, 2, figsize=(6.8, 5.0), layout="constrained")
    height, _ = _show_image(ax_before, image)
    _show_image(ax_after, image)
    for ax in (ax_before, ax_after):
        _draw_targets(ax, targets)
    low_first = torch.sort(scores, stable=True).indices.tolist()  # best drawn on top
    for k in low_first:
        box, label, score = boxes[k].tolist(), int(labels[k]), float(scores[k])
        alpha = 0.15 + 0.85 * score
        ax_before.add_patch(
            _rectangle(box, color=colour(label), lw=0.8, alpha=min(alpha, 1.0), gid="detection")
        )
        if not kept[k]:
            ax_after.add_patch(
                _rectangle(box, color=colour(label), lw=0.8, ls="--", alpha=0.35, gid="suppressed")
            )
    for k in keep.flip(0).tolist():
        box, label = boxes[k].tolist(), int(labels[k])
        ax_after.add_patch(_rectangle(box, color=colour(label), lw=2.2, gid="kept"))
        above = box[1] >= 0.12 * height  # room for the caption above the box
        ax_after.text(
            box[0] - 0.5,
            box[1] - 0.5 - (0.6 if above else -0.6),
            f"{name(label)} {float(scores[k]):.2f}",
            va="bottom" if above else "top",
            fontsize=8,
            color="white",
            bbox={"facecolor": colour(label), "alpha": 0.85, "pad": 1.0, "lw": 0},
            clip_on=True,
        )
    ax_before.set_title(
        f"before NMS: {len(boxes)} boxes, score ≥ {score_threshold:.2f}\n"
        "(more opaque = higher score)",
        fontsize=9,
    )
    ax_after.set_title(
        f"after NMS (IoU > {iou_threshold:.2f} suppressed)\n"
        f"solid: {len(keep)} kept, dashed: {len(boxes) - len(keep)} suppressed",
        fontsize=9,
    )
    # A legend under each panel. The figure is taller than the two square images need:
    # with no spare height, constrained layout lets their titles run into the suptitle.
    target = [Line2D([], [], label="target", **TARGET_STYLE)] if targets is not None else []
    classes_shown = [Line2D([], [], color=colour(c), lw=2, label=name(c)) for c in classes]
    styles = [
        Line2D([], [], color="grey", lw=2.2, label="kept"),
        Line2D([], [], color="grey", lw=0.8, ls="--", label="suppressed"),
    ]
    for ax, handles in ((ax_before, classes_shown + target), (ax_after, styles + target)):
        _legend_below(ax, handles, columns=3)
    fig.suptitle("Non-maximum suppression, class by class (as torchvision's batched_nms)",
                 fontsize=10)  # fmt: skip
    return fig


def nms_explorer(
    image: torch.Tensor,
    boxes: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor | None = None,
):
    """Threshold sliders wired to `render_nms_explorer` (needs a live kernel)."""
    import ipywidgets as widgets

    controls = {
        "iou_threshold": widgets.FloatSlider(
            value=0.5, min=0.05, max=0.95, step=0.05, description="IoU threshold"
        ),
        "score_threshold": widgets.FloatSlider(
            value=0.1, min=0.0, max=0.95, step=0.05, description="score threshold"
        ),
    }
    return wire(
        lambda **values: render_nms_explorer(
            image, boxes, scores, labels, targets=targets, **values
        ),
        controls,
        [["iou_threshold", "score_threshold"]],
        static={
            "iou_threshold": [0.1, 0.3, 0.5, 0.7, 0.9],
            "score_threshold": [0.0, 0.1, 0.3, 0.5, 0.7],
        },
    )


def feature_map_size(height: int, width: int, stride: int) -> tuple[int, int]:
    """ceil(H / stride) x ceil(W / stride): the size a backbone of 'same'-padded convolutions
    with this total stride gives (a stride-2 layer with padding k // 2 maps n to
    ceil(n / 2)), so the last cell may hang over the image's edge."""
    return math.ceil(height / stride), math.ceil(width / stride)


def render_anchor_explorer(
    image: torch.Tensor,
    sizes: Sequence[float] = (8, 16, 32),
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
    stride: int = 8,
    location: tuple[int, int] | None = None,
    targets: torch.Tensor | None = None,
    positive_iou: float = 0.7,
    negative_iou: float = 0.3,
) -> Figure:
    """The grid of anchor locations and the anchors of one location; with `targets`,
    also which anchors training would label positive, negative or ignored.

    The feature map is taken to be ceil(H / stride) x ceil(W / stride) (see
    `feature_map_size`); location (i, j) sits at pixel (j * stride, i * stride), the
    top-left corner of its cell, as in torchvision. `location` defaults to the one
    nearest the image centre. Raises `ValueError` for an empty choice of sizes or ratios,
    a stride below 1 or a location off the grid."""
    if not sizes or not aspect_ratios:
        missing = "size" if not sizes else "aspect ratio"
        raise ValueError(f"choose at least one anchor {missing}")
    if stride < 1:
        raise ValueError(f"the stride must be a positive number of pixels, not {stride}")
    height, width = as_image(image).shape[:2]
    rows, cols = feature_map_size(height, width, stride)
    base = generate_anchors(sizes, aspect_ratios)
    per_location = len(base)
    anchors = grid_anchors(base, (rows, cols), (stride, stride))
    if location is None:
        ys = torch.arange(rows).repeat_interleave(cols) * stride
        xs = torch.arange(cols).repeat(rows) * stride
        nearest = int(torch.argmin((ys - height / 2) ** 2 + (xs - width / 2) ** 2))
        location = divmod(nearest, cols)
    i, j = location
    if not (0 <= i < rows and 0 <= j < cols):
        raise ValueError(f"location {location} is off the {rows} × {cols} grid")
    mine = anchors[(i * cols + j) * per_location : (i * cols + j + 1) * per_location]

    panels = 1 if targets is None else 2
    fig, axes = plt.subplots(
        1, panels, figsize=(3.4 * panels, 4.9), squeeze=False, layout="constrained"
    )
    ax = axes[0, 0]
    _show_image(ax, image)
    for k in range(1, max(rows, cols) + 1):  # cell borders
        ax.axvline(k * stride - 0.5, color="white", lw=0.4, alpha=0.5)
        ax.axhline(k * stride - 0.5, color="white", lw=0.4, alpha=0.5)
    grid_x = torch.arange(cols).repeat(rows) * stride - 0.5
    grid_y = torch.arange(rows).repeat_interleave(cols) * stride - 0.5
    ax.scatter(grid_x, grid_y, s=22, c="white", edgecolors="black", lw=0.7, zorder=3)
    ax.scatter(
        [j * stride - 0.5],
        [i * stride - 0.5],
        s=220,
        marker="*",
        c="white",
        edgecolors="black",
        zorder=4,
    )
    ax.add_patch(plt.Rectangle((-0.5, -0.5), width, height, fill=False, color="black", lw=1))
    for k, box in enumerate(mine.tolist()):  # ratio-major: k // len(sizes) is the ratio
        ratio_colour = RATIO_COLOURS[k // len(sizes) % len(RATIO_COLOURS)]
        ax.add_patch(_rectangle(box, color=ratio_colour, lw=1.8, gid="anchor"))
    low = min(-2.5, float(mine[:, :2].min()) - 1.5)  # room for the dots on the edge
    high_x = max(width + 1.5, float(mine[:, 2].max()) + 0.5)
    high_y = max(height + 1.5, float(mine[:, 3].max()) + 0.5)
    ax.set(xlim=(low, high_x), ylim=(high_y, low))
    handles = [
        Line2D(
            [], [], color=RATIO_COLOURS[r % len(RATIO_COLOURS)], lw=2, label=f"ratio h/w = {q:g}"
        )
        for r, q in enumerate(aspect_ratios)
    ]
    _legend_below(ax, handles, columns=2)
    ax.set_title(
        f"anchors of location ({i}, {j}) at pixel ({j * stride}, {i * stride}),\n"
        f"sizes {', '.join(f'{s:g}' for s in sizes)}; dots: locations, at each\n"
        "cell's top-left corner (torchvision)",
        fontsize=9,
    )

    if targets is not None:
        targets = targets.detach().float().cpu().reshape(-1, 4)
        labels = label_anchors(anchors, targets, positive_iou, negative_iou)
        ax_labels = axes[0, 1]
        _show_image(ax_labels, image)
        for box in anchors[labels == -1].tolist():
            ax_labels.add_patch(
                _rectangle(box, color="tab:orange", lw=0.7, ls="--", alpha=0.6, gid="ignored")
            )
        for box in anchors[labels == 1].tolist():
            ax_labels.add_patch(_rectangle(box, color="tab:green", lw=1.6, gid="positive"))
        _draw_targets(ax_labels, targets)
        counts = [int((labels == v).sum()) for v in (1, 0, -1)]
        ax_labels.set_title(
            f"anchor labels: {counts[0]} positive, {counts[1]} negative,\n{counts[2]} ignored "
            f"(positive: IoU ≥ {positive_iou:g} or a\ntarget's best; negative: IoU < "
            f"{negative_iou:g})",
            fontsize=9,
        )
        handles = [
            Line2D([], [], color="tab:green", lw=2, label="positive"),
            Line2D([], [], color="tab:orange", lw=1, ls="--", label="ignored"),
            Line2D([], [], label="target", **TARGET_STYLE),
        ]
        _legend_below(ax_labels, handles, columns=2)
    fig.suptitle(
        f"stride {stride}: {rows} × {cols} locations × {per_location} anchors "
        f"= {len(anchors)} anchors",
        fontsize=10,
    )
    return fig


def anchor_explorer(image: torch.Tensor, targets: torch.Tensor | None = None):
    """Size and ratio menus and a stride slider wired to `render_anchor_explorer` (needs a
    live kernel)."""
    import ipywidgets as widgets

    controls = {
        "sizes": widgets.Dropdown(
            options=list(SIZE_PRESETS.items()),
            value=SIZE_PRESETS["8, 16, 32"],
            description="sizes",
        ),
        "aspect_ratios": widgets.Dropdown(
            options=list(RATIO_PRESETS.items()),
            value=RATIO_PRESETS["0.5, 1, 2"],
            description="ratios h/w",
        ),
        "stride": widgets.IntSlider(value=8, min=4, max=32, step=4, description="stride"),
    }
    return wire(
        lambda **values: render_anchor_explorer(image, targets=targets, **values),
        controls,
        [["sizes", "aspect_ratios", "stride"]],
        static={
            "sizes": [SIZE_PRESETS[k] for k in ("8, 16, 32", "16, 32", "16")],
            "aspect_ratios": None,
            "stride": [4, 8, 16],
        },
    )
