"""Boxes for Chapter 8: overlap, suppression, regression targets and anchors.

Boxes are (x0, y0, x1, y1) in pixel edges, as in torchvision and `cnnbook.data.scenes`.
Each function is written from its definition and checked against torchvision in the
tests, including the conventions that differ between libraries and that papers leave
implicit: strict suppression, the clamp on size offsets, and where anchors are centred.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

# torchvision's clamp on the decoded log-size offsets: no box grows beyond 1000/16 times
# its anchor in one step, so exp() cannot overflow early in training.
SIZE_CLIP = math.log(1000.0 / 16)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas of (N, 4) boxes; a box with x1 < x0 or y1 < y0 has area 0."""
    return (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, M) intersection over union of every box of `a` with every box of `b`."""
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return inter / union


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression: keep the best-scoring box, drop every box whose IoU
    with it is strictly greater than `iou_threshold`, repeat. Returns the kept indices,
    best first. Equal scores keep their input order (a stable sort), which torchvision
    does not promise."""
    order = torch.sort(scores, descending=True, stable=True).indices
    iou = box_iou(boxes, boxes)
    keep = []
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return torch.tensor(keep, dtype=torch.long)


def class_wise_nms(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Indices kept by NMS run separately for each class, best score first and equal
    scores in input order: a box only suppresses boxes of its own class, so a circle and
    a square that overlap both survive (what torchvision's `batched_nms` computes)."""
    kept = []
    for c in labels.unique().tolist():
        members = torch.nonzero(labels == c).flatten()
        kept.append(members[nms(boxes[members], scores[members], iou_threshold)])
    keep = torch.cat(kept).sort().values if kept else torch.zeros(0, dtype=torch.long)
    return keep[torch.sort(scores[keep], descending=True, stable=True).indices]


def _centres_and_sizes(boxes: torch.Tensor) -> tuple[torch.Tensor, ...]:
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + 0.5 * widths, boxes[:, 1] + 0.5 * heights, widths, heights


def encode_boxes(
    targets: torch.Tensor, anchors: torch.Tensor, weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0)
) -> torch.Tensor:
    """Faster R-CNN's regression targets of `targets` relative to `anchors` (both (N, 4)):
    the centre shift in anchor widths and heights, and the log of the size ratio, each
    multiplied by its weight (torchvision's detectors use (10, 10, 5, 5) for the second
    stage, to bring the targets to a scale where the loss is balanced)."""
    ax, ay, aw, ah = _centres_and_sizes(anchors)
    tx, ty, tw, th = _centres_and_sizes(targets)
    wx, wy, ww, wh = weights
    shift_x, shift_y = wx * (tx - ax) / aw, wy * (ty - ay) / ah
    return torch.stack([shift_x, shift_y, ww * torch.log(tw / aw), wh * torch.log(th / ah)], dim=1)


def decode_boxes(
    codes: torch.Tensor, anchors: torch.Tensor, weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0)
) -> torch.Tensor:
    """The inverse of `encode_boxes`, with the size offsets clamped at `SIZE_CLIP`."""
    ax, ay, aw, ah = _centres_and_sizes(anchors.to(codes.dtype))
    wx, wy, ww, wh = weights
    dx, dy = codes[:, 0] / wx, codes[:, 1] / wy
    dw = (codes[:, 2] / ww).clamp(max=SIZE_CLIP)
    dh = (codes[:, 3] / wh).clamp(max=SIZE_CLIP)
    cx, cy = dx * aw + ax, dy * ah + ay
    w, h = torch.exp(dw) * aw, torch.exp(dh) * ah
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=1)


def generate_anchors(sizes: Sequence[float], aspect_ratios: Sequence[float]) -> torch.Tensor:
    """The (len(ratios) * len(sizes), 4) anchors of one location, centred on (0, 0), in
    torchvision's convention: a ratio is height / width, each anchor keeps the area
    size², and corners are rounded to whole pixels. Ordered ratio-major."""
    scales = torch.as_tensor(sizes, dtype=torch.float32)
    h_ratios = torch.sqrt(torch.as_tensor(aspect_ratios, dtype=torch.float32))
    w_ratios = 1 / h_ratios
    ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)
    hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
    return (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()


def grid_anchors(
    base: torch.Tensor, feature_size: tuple[int, int], stride: tuple[int, int]
) -> torch.Tensor:
    """`base` anchors repeated at every location of a feature map, location-major. As in
    torchvision, location (i, j) is placed at pixel (j * stride_x, i * stride_y): the
    top-left corner of its cell, not the cell's centre."""
    rows, cols = feature_size
    ys = torch.arange(rows, dtype=torch.float32) * stride[0]
    xs = torch.arange(cols, dtype=torch.float32) * stride[1]
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    shifts = torch.stack([x, y, x, y], dim=-1).reshape(-1, 1, 4)
    return (shifts + base[None]).reshape(-1, 4)


def _round_half_away(x: torch.Tensor) -> torch.Tensor:
    """C's round(): halves go away from zero (torch.round sends them to the even number)."""
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def roi_pool(
    features: torch.Tensor,
    rois: torch.Tensor,
    output_size: int | tuple[int, int],
    spatial_scale: float = 1.0,
) -> torch.Tensor:
    """Fast R-CNN's RoI max pooling, with torchvision's rounding rules.

    `rois` is (K, 5): image index, then (x0, y0, x1, y1) in input pixels. Each box is
    scaled to the feature map and its corners rounded to whole cells (halves away from
    zero); the box then covers cells x0..x1 inclusive. It is cut into an output_size grid
    of bins, bin p spanning cells floor(p * size / n) to ceil((p + 1) * size / n), clipped
    to the map; each bin keeps its maximum, or 0 when it is empty. Returns
    (K, C, out_h, out_w)."""
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    _, channels, height, width = features.shape
    pooled = features.new_zeros(len(rois), channels, out_h, out_w)
    for k, roi in enumerate(rois):
        image = features[int(roi[0])]
        x0, y0, x1, y1 = (int(v) for v in _round_half_away(roi[1:] * spatial_scale))
        bin_h, bin_w = max(y1 - y0 + 1, 1) / out_h, max(x1 - x0 + 1, 1) / out_w
        for p in range(out_h):
            top = min(max(math.floor(p * bin_h) + y0, 0), height)
            bottom = min(max(math.ceil((p + 1) * bin_h) + y0, 0), height)
            for q in range(out_w):
                left = min(max(math.floor(q * bin_w) + x0, 0), width)
                right = min(max(math.ceil((q + 1) * bin_w) + x0, 0), width)
                if bottom > top and right > left:
                    pooled[k, :, p, q] = image[:, top:bottom, left:right].amax(dim=(1, 2))
    return pooled


def spatial_pyramid_pool(features: torch.Tensor, levels: Sequence[int] = (1, 2, 4)) -> torch.Tensor:
    """SPPNet's pyramid: max-pool the (N, C, H, W) map into an n x n grid for each level n
    and concatenate, giving C * sum(n²) numbers per image whatever H and W are. Bin p of n
    spans floor(p * H / n) to ceil((p + 1) * H / n), as `F.adaptive_max_pool2d` cuts it."""
    n_images, channels, height, width = features.shape
    parts = []
    for n in levels:
        grid = features.new_empty(n_images, channels, n, n)
        for p in range(n):
            top, bottom = (p * height) // n, -((-(p + 1) * height) // n)
            for q in range(n):
                left, right = (q * width) // n, -((-(q + 1) * width) // n)
                grid[:, :, p, q] = features[:, :, top:bottom, left:right].amax(dim=(2, 3))
        parts.append(grid.flatten(1))
    return torch.cat(parts, dim=1)


def label_anchors(
    anchors: torch.Tensor,
    targets: torch.Tensor,
    positive_iou: float = 0.7,
    negative_iou: float = 0.3,
) -> torch.Tensor:
    """Faster R-CNN's training labels for anchors: 1 positive, 0 negative, -1 ignored.

    Positive: IoU ≥ `positive_iou` with some target, or the best anchor of a target
    (every anchor tying for it, as torchvision's `Matcher` allows), so no small object
    goes without one. Negative: IoU < `negative_iou` with every target. The anchors in
    between are ambiguous and left out of the loss."""
    labels = torch.full((len(anchors),), -1, dtype=torch.long)
    if len(targets) == 0 or len(anchors) == 0:
        return labels.fill_(0)
    iou = box_iou(anchors, targets)  # (A, M)
    best = iou.max(dim=1).values
    labels[best < negative_iou] = 0
    labels[best >= positive_iou] = 1
    best_of_target = iou.max(dim=0).values
    is_best = ((iou == best_of_target[None]) & (best_of_target[None] > 0)).any(dim=1)
    labels[is_best] = 1
    return labels


def sample_anchors(
    labels: torch.Tensor,
    batch_size: int = 256,
    positive_fraction: float = 0.5,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Faster R-CNN's mini-batch of anchors for one image, as boolean masks (positive,
    negative): up to `batch_size * positive_fraction` positives drawn at random, negatives
    filling the rest. Most anchors are negatives, so without sampling the background
    would dominate the loss."""
    positive = torch.nonzero(labels == 1).flatten()
    negative = torch.nonzero(labels == 0).flatten()
    n_positive = min(len(positive), int(batch_size * positive_fraction))
    n_negative = min(len(negative), batch_size - n_positive)
    masks = []
    for indices, count in ((positive, n_positive), (negative, n_negative)):
        mask = torch.zeros(len(labels), dtype=torch.bool)
        mask[indices[torch.randperm(len(indices), generator=generator)[:count]]] = True
        masks.append(mask)
    return masks[0], masks[1]


def rpn_loss(
    objectness: torch.Tensor,
    codes: torch.Tensor,
    anchors: torch.Tensor,
    targets: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The RPN's two losses over one image's sampled anchors, as torchvision computes
    them: binary cross-entropy of the objectness logits (mean over the sample), and
    smooth L1 (beta 1/9) between the predicted `codes` of the positives and the
    `encode_boxes` codes of their best-overlapping target, summed and divided by the
    sample's size. The paper divides the box term by the number of anchor locations and
    weighs it by 10 instead, which balances the two terms about as well."""
    sampled = positive | negative
    matched = targets[box_iou(anchors, targets).argmax(dim=1)]
    objectness_loss = torch.nn.functional.binary_cross_entropy_with_logits(
        objectness[sampled], positive[sampled].to(objectness.dtype)
    )
    box_loss = (
        torch.nn.functional.smooth_l1_loss(
            codes[positive],
            encode_boxes(matched[positive], anchors[positive]),
            beta=1 / 9,
            reduction="sum",
        )
        / sampled.sum()
    )
    return objectness_loss, box_loss
