"""Chapter 8 (Object detection): the exercises, their cases and their points.

Every reference is computed here independently of the solutions and of `cnnbook.boxes`
and `cnnbook.metrics`: from torchvision (`box_iou`, `AnchorGenerator`, `BoxCoder`,
`roi_pool`), from PyTorch (`F.adaptive_max_pool2d`), or, where no library promises the
convention the exercise asks for (NMS with stable ties, YOLO targets, AP), from a plain
loop over Python numbers. `tests/test_grading_ch08.py` checks the loops against
torchvision's `nms` and torchmetrics' mAP (pycocotools) where those are defined.

Coordinates are drawn on a quarter-pixel grid, so areas, centres and scaled corners are
exact in float32 and a solution's rounding never depends on the order it computes in;
random cases whose answer would hinge on the last bit (an IoU within 1e-4 of the NMS
threshold, an RoI bin edge that float32 puts on the other side of an integer) are drawn
again.
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch
import torch.nn.functional as F

from cnnbook.grading.checks import Case, Exercise, close_float, close_tensor
from cnnbook.grading.operators import POOLING

NOTEBOOK = "08-detection"


def _boxes(gen: torch.Generator, n: int, extent: float = 40.0, largest: float = 20.0):
    """(n, 4) float32 boxes with corners on a quarter-pixel grid, each at least 1 wide."""
    corner = torch.randint(0, int(extent * 4), (n, 2), generator=gen) / 4
    size = torch.randint(4, int(largest * 4) + 1, (n, 2), generator=gen) / 4
    return torch.cat([corner, corner + size], dim=1).float()


def _iou(a: list[float], b: list[float]) -> float:
    """IoU of two boxes in Python floats (double precision)."""
    width = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    inter = width * max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    area_a = max(a[2] - a[0], 0.0) * max(a[3] - a[1], 0.0)
    area_b = max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0)
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


# Exercise 1: box IoU


def _box_iou_cases(seed: int) -> list[Case]:
    from torchvision.ops import box_iou

    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    same = _boxes(gen, 4)
    left = _boxes(gen, 3, extent=20, largest=10)
    right = left + torch.tensor([40.0, 0.0, 40.0, 0.0])
    square = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    touching = torch.tensor([[2.0, 0.0, 4.0, 2.0], [0.0, 2.0, 2.0, 4.0], [2.0, 2.0, 3.0, 3.0]])
    flat = torch.tensor([[3.0, 3.0, 3.0, 3.0], [1.0, 5.0, 9.0, 5.0]])  # a point and a segment
    around = torch.tensor([[0.0, 0.0, 10.0, 10.0], [2.0, 2.0, 4.0, 4.0], [2.5, 4.0, 7.0, 6.0]])
    # x1 < x0 or y1 < y0: area 0 by the spec. With both inverted, a product of two negative
    # widths is positive: clamping the product instead of each side gives IoU 1 here.
    inverted = torch.tensor([[10.0, 10.0, 0.0, 0.0], [6.0, 2.0, 2.0, 6.0], [2.0, 8.0, 8.0, 3.0]])
    pairs = [
        ("identical boxes (IoU 1 on the diagonal)", same, same.clone()),
        ("disjoint boxes", left, right),
        ("boxes touching along an edge or a corner (IoU 0)", square, touching),
        ("a zero-area point and segment against boxes around them (IoU 0)", flat, around),
        ("boxes with x1 < x0 or y1 < y0 (area 0: IoU 0 with every box)", inverted, around),
        ("an empty first set (result 0 x M)", torch.zeros(0, 4), _boxes(gen, 3)),
        ("an empty second set (result N x 0)", _boxes(gen, 2), torch.zeros(0, 4)),
    ]
    for _ in range(4):
        a, b = _boxes(gen, rng.randint(1, 7)), _boxes(gen, rng.randint(1, 7))
        pairs.append(("random boxes", a, b))
    return [
        Case(f"{text}: a {tuple(a.shape)}, b {tuple(b.shape)}", (a, b), {}, box_iou(a, b))
        for text, a, b in pairs
    ]


# Exercise 2: non-maximum suppression


def _nms_reference(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """Greedy NMS as a plain loop: by decreasing score (Python's sort is stable, so equal
    scores keep their input order), a box is kept unless a kept box overlaps it with an
    IoU strictly above the threshold."""
    rows, values = boxes.tolist(), scores.tolist()
    kept: list[int] = []
    for i in sorted(range(len(values)), key=lambda k: -values[k]):
        if all(_iou(rows[i], rows[k]) <= threshold for k in kept):
            kept.append(i)
    return torch.tensor(kept, dtype=torch.long)


def _clear_of(boxes: torch.Tensor, threshold: float, margin: float = 1e-4) -> bool:
    """No pair's IoU within `margin` of the threshold (so float32 cannot flip a decision).
    At threshold 0 every decision is exact: boxes on the grid overlap or they do not."""
    if threshold == 0:
        return True
    rows = boxes.tolist()
    return all(
        abs(_iou(rows[i], rows[j]) - threshold) > margin
        for i in range(len(rows))
        for j in range(i + 1, len(rows))
    )


def _clusters(rng: random.Random, gen: torch.Generator, threshold: float) -> torch.Tensor:
    """Boxes around a few centres, so that many overlap; redrawn until clear of the
    threshold."""
    while True:
        parts = []
        for _ in range(rng.randint(2, 4)):
            centre = _boxes(gen, 1, extent=60, largest=20)
            jitter = torch.randint(-12, 13, (rng.randint(2, 6), 4), generator=gen) / 4
            parts.append(centre + jitter)
        boxes = torch.cat(parts)
        boxes[:, 2:] = torch.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        if _clear_of(boxes, threshold):
            return boxes


def _tied_stacks(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """200 boxes in 40 stacks of 5, scored with three values: many exact ties among
    overlapping boxes, where which tied box survives is the input order. Above about 100
    elements PyTorch's default CPU sort is not stable, so a sort that only happens to keep
    ties in order on small inputs fails here."""
    stacks = torch.arange(40.0).repeat_interleave(5)[:, None] * 20
    jitter = torch.rand(200, 4, generator=gen)
    boxes = torch.cat([stacks + jitter[:, :2], stacks + 10 + jitter[:, 2:]], dim=1)
    return boxes, torch.randint(1, 4, (200,), generator=gen) / 4


def _nms_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    t = torch.tensor
    overlapping = t([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [21, 20, 31, 30]])
    settings = [
        ("IoU exactly at the threshold (kept, as suppression needs IoU > threshold)",
         t([[0.0, 0, 2, 1], [0, 0, 1, 1]]), t([0.9, 0.8]), 0.5),
        ("IoU exactly at the threshold, the smaller box first",
         t([[0.0, 0, 1, 1], [0, 0, 2, 1], [5, 5, 6, 6]]), t([0.7, 0.6, 0.9]), 0.5),
        ("tied scores (equal scores keep their input order)",
         overlapping, t([0.5, 0.5, 0.5, 0.5]), 0.5),
        ("tied scores among others",
         overlapping, t([0.3, 0.9, 0.3, 0.3]), 0.5),
        ("identical boxes, threshold 0.5", t([[4.0, 4, 9, 9]] * 3), t([0.2, 0.6, 0.4]), 0.5),
        ("identical boxes, threshold 1.0 (IoU 1 is not above it)",
         t([[4.0, 4, 9, 9]] * 3), t([0.2, 0.6, 0.4]), 1.0),
        ("no boxes (an empty int64 tensor)", torch.zeros(0, 4), torch.zeros(0), 0.5),
        ("a zero-area box inside a larger one (IoU 0: never suppressed)",
         t([[0.0, 0, 10, 10], [5, 5, 5, 5], [1, 1, 9, 9]]), t([0.9, 0.5, 0.7]), 0.3),
        ("a zero-area segment scored highest",
         t([[2.0, 3, 8, 3], [0, 0, 10, 10], [0.5, 0.5, 10, 10]]), t([0.95, 0.5, 0.7]), 0.5),
    ]  # fmt: skip
    for threshold in (0.3, 0.5, 0.7, 0.0):
        boxes = _clusters(rng, gen, threshold)
        scores = torch.rand(len(boxes), generator=gen)
        settings.append((f"{len(boxes)} boxes in clusters", boxes, scores, threshold))
    tied, scores = _tied_stacks(gen)
    settings.append(("200 boxes in stacks of 5 with three score values (exact ties)",
                     tied, scores, 0.3))  # fmt: skip
    return [
        Case(f"{text}: boxes {tuple(boxes.shape)}, iou_threshold={threshold}",
             (boxes, scores, threshold), {}, _nms_reference(boxes, scores, threshold))
        for text, boxes, scores, threshold in settings
    ]  # fmt: skip


# Exercise 3: anchors


def _near_half(sizes: tuple, ratios: tuple) -> bool:
    """Whether a half-width lands within 1e-3 of .5 without being a half exactly: float32
    and float64 could then round it differently."""
    for ratio in ratios:
        for size in sizes:
            for half in (size / math.sqrt(ratio) / 2, size * math.sqrt(ratio) / 2):
                distance = abs(half - math.floor(half) - 0.5)
                if 0 < distance < 1e-3:
                    return True
    return False


def _anchor_cases(seed: int) -> list[Case]:
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    rng = random.Random(seed)
    settings = [
        ((32, 64, 128), (0.5, 1.0, 2.0)),
        ((16,), (1.0,)),
        ((5, 7, 9), (1.0,)),  # half-widths 2.5, 3.5, 4.5: halves go to the even integer
        ((128, 256, 512), (0.5, 1.0, 2.0)),
        ((45,), (0.25, 4.0)),
    ]
    while len(settings) < 9:
        sizes = tuple(sorted(rng.sample(range(8, 300), rng.randint(1, 3))))
        ratios = tuple(sorted(rng.sample([0.25, 0.5, 1.0, 2.0, 4.0], rng.randint(1, 3))))
        if not _near_half(sizes, ratios):
            settings.append((sizes, ratios))
    cases = []
    for sizes, ratios in settings:
        generator = AnchorGenerator((sizes,), (ratios,))
        expected = generator.generate_anchors(list(sizes), list(ratios))
        cases.append(Case(f"sizes={sizes}, aspect_ratios={ratios}", (sizes, ratios), {}, expected))
    return cases


# Exercises 4 and 5: box coding


def _coding_settings(seed: int) -> list[tuple[str, torch.Tensor, torch.Tensor, tuple | None]]:
    """(description, targets, anchors, weights or None for the default)."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    settings = []
    for weights in (None, (10.0, 10.0, 5.0, 5.0), (1.0, 2.0, 0.5, 3.0), None):
        n = rng.randint(1, 8)
        settings.append(("random boxes", _boxes(gen, n, 60, 40), _boxes(gen, n, 60, 40), weights))
    same = _boxes(gen, 3)
    settings.append(("targets equal to their anchors", same, same.clone(), None))
    settings.append(("no boxes", torch.zeros(0, 4), torch.zeros(0, 4), (10.0, 10.0, 5.0, 5.0)))
    return settings


def _coding_case(text: str, first, anchors, weights, expected) -> Case:
    kwargs = {} if weights is None else {"weights": weights}
    label = "default weights" if weights is None else f"weights={weights}"
    return Case(f"{text}, {len(anchors)} boxes, {label}", (first, anchors), kwargs, expected)


def _encode_cases(seed: int) -> list[Case]:
    from torchvision.models.detection._utils import BoxCoder

    return [
        _coding_case(text, targets, anchors, weights,
                     BoxCoder(weights or (1.0, 1.0, 1.0, 1.0)).encode_single(targets, anchors))
        for text, targets, anchors, weights in _coding_settings(seed)
    ]  # fmt: skip


def _decode_cases(seed: int) -> list[Case]:
    from torchvision.models.detection._utils import BoxCoder

    gen = torch.Generator().manual_seed(seed + 1)
    cases = []
    for text, targets, anchors, weights in _coding_settings(seed):
        coder = BoxCoder(weights or (1.0, 1.0, 1.0, 1.0))
        codes = coder.encode_single(targets, anchors)  # decoding gives the targets back
        cases.append(_coding_case(f"codes of {text}", codes, anchors, weights,
                                  coder.decode_single(codes, anchors)))  # fmt: skip
    anchors = _boxes(gen, 6, 60, 40)
    for weights in (None, (1.0, 1.0, 5.0, 5.0)):
        coder = BoxCoder(weights or (1.0, 1.0, 1.0, 1.0))
        codes = torch.randn(6, 4, generator=gen)
        codes[:, 2:] *= 2
        codes[0, 2], codes[1, 3], codes[2, 2:] = 10.0, 50.0, 25.0  # beyond the clamp
        codes[3, 2:] = -6.0  # large and negative: shrinks, never clamped
        expected = coder.decode_single(codes, anchors)
        text = "large size offsets (clamped at log(1000/16))"
        cases.append(_coding_case(text, codes, anchors, weights, expected))
    return cases


# Exercise 6: RoI pooling


def _c_round(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _bins_agree(cells: int, n: int) -> bool:
    """Whether the bin edges floor(p * cells / n) and ceil((p + 1) * cells / n) come out
    the same in exact arithmetic, in float32 (torchvision's kernel) and in float64."""
    size32 = np.float32(cells) / np.float32(n)
    for p in range(n + 1):
        exact_floor, exact_ceil = (p * cells) // n, -((-p * cells) // n)
        for value in (float(np.float32(p) * size32), p * (cells / n)):
            if math.floor(value) != exact_floor or math.ceil(value) != exact_ceil:
                return False
    return True


def _roi_is_clear(roi: list[float], scale: float, out_h: int, out_w: int) -> bool:
    x0, y0, x1, y1 = (_c_round(v * scale) for v in roi[1:])
    return _bins_agree(max(y1 - y0 + 1, 1), out_h) and _bins_agree(max(x1 - x0 + 1, 1), out_w)


def _random_rois(gen, count, images, height, width, scale, out_h, out_w) -> torch.Tensor:
    rois = []
    while len(rois) < count:
        pixels_h, pixels_w = height / scale, width / scale
        x0 = float(torch.randint(int(-2 * 4 / scale), int(pixels_w * 4), (1,), generator=gen)) / 4
        y0 = float(torch.randint(int(-2 * 4 / scale), int(pixels_h * 4), (1,), generator=gen)) / 4
        w, h = (float(v) / 4 for v in torch.randint(0, int(pixels_w * 3), (2,), generator=gen))
        roi = [float(torch.randint(0, images, (1,), generator=gen)), x0, y0, x0 + w, y0 + h]
        if _roi_is_clear(roi, scale, out_h, out_w):
            rois.append(roi)
    return torch.tensor(rois)


def _roi_cases(seed: int) -> list[Case]:
    from torchvision.ops import roi_pool

    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    t = torch.tensor
    settings = [
        ("whole-cell boxes", (1, 2, 8, 8), t([[0.0, 0, 0, 7, 7], [0, 2, 1, 5, 6]]), 2, None),
        ("halves rounded away from zero (0.5 -> 1, -0.5 -> -1, 2.5 -> 3)", (1, 2, 8, 8),
         t([[0.0, 0.5, 1.5, 4.5, 5.5], [0, -0.5, 2.5, 2.5, 6.5]]), 2, None),
        ("boxes partly or wholly outside the map (empty bins give 0)", (1, 3, 6, 7),
         t([[0.0, -3, -2, 3, 4], [0, 4, 3, 12, 10], [0, -8, -8, -1, 2]]), 3, None),
        ("degenerate boxes: one cell, and x1 < x0", (1, 2, 6, 6),
         t([[0.0, 2, 3, 2, 3], [0, 5, 4, 2, 1]]), 2, None),
        ("several images, a non-square output", (3, 2, 7, 9),
         t([[2.0, 0, 0, 8, 6], [0, 1, 1, 6, 4], [1, 3, 2, 8, 6], [2, 4, 1, 5, 5]]), (3, 2), None),
        ("spatial_scale 0.5, corners in input pixels", (2, 2, 8, 10),
         t([[0.0, 1, 3, 9, 11], [1, 0, 0, 19, 15], [1, 2.5, 5, 7, 13]]), 2, 0.5),
        ("spatial_scale 0.25", (1, 3, 9, 11),
         t([[0.0, 2, 2, 30, 26], [0, 6, 10, 14, 38], [0, 0, 0, 43, 35]]), (2, 3), 0.25),
        ("a box smaller than the output grid (bins share cells)", (1, 1, 8, 8),
         t([[0.0, 2, 2, 4, 3]]), 7, None),
    ]  # fmt: skip
    for scale in (1.0, 0.5, 0.25, 1 / 16):
        shape = (rng.randint(1, 3), rng.randint(1, 3), rng.randint(4, 10), rng.randint(4, 10))
        out = rng.choice([1, 2, 3, (2, 3), (3, 2), 7])
        out_h, out_w = (out, out) if isinstance(out, int) else out
        rois = _random_rois(gen, rng.randint(2, 6), shape[0], *shape[2:], scale, out_h, out_w)
        settings.append(("random boxes", shape, rois, out, scale))
    cases = []
    for text, shape, rois, out, scale in settings:
        features = torch.randn(shape, generator=gen)
        out_h, out_w = (out, out) if isinstance(out, int) else out
        assert all(_roi_is_clear(roi, scale or 1.0, out_h, out_w) for roi in rois.tolist())
        kwargs = {} if scale is None else {"spatial_scale": scale}
        expected = roi_pool(features, rois, out, scale or 1.0)
        cases.append(Case(
            f"{text}: features {shape}, {len(rois)} rois, output_size={out}"
            + ("" if scale is None else f", spatial_scale={scale}"),
            (features, rois, out), kwargs, expected,
        ))  # fmt: skip
    return cases


# Exercise 7: spatial pyramid pooling


def _spp_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    settings = [
        ((2, 3, 4, 4), None),
        ((1, 2, 7, 5), (1, 2, 4)),
        ((2, 3, 13, 9), (1, 2, 3)),
        ((1, 4, 6, 6), (1,)),
        ((1, 2, 3, 3), (1, 2, 4)),  # a map smaller than the finest grid
        ((1, 1, 5, 11), (3, 2)),
    ]
    while len(settings) < 9:
        shape = (rng.randint(1, 3), rng.randint(1, 4), rng.randint(2, 15), rng.randint(2, 15))
        levels = tuple(sorted(rng.sample(range(1, 7), rng.randint(1, 3))))
        settings.append((shape, levels))
    cases = []
    for shape, levels in settings:
        features = torch.randn(shape, generator=gen)
        expected = torch.cat(
            [F.adaptive_max_pool2d(features, n).flatten(1) for n in levels or (1, 2, 4)], dim=1
        )
        kwargs = {} if levels is None else {"levels": levels}
        text = "default levels (1, 2, 4)" if levels is None else f"levels={levels}"
        cases.append(Case(f"features {shape}, {text}", (features,), kwargs, expected))
    return cases


# Exercise 8: YOLO targets


def _yolo_reference(boxes, labels, grid_size, num_classes, image_size) -> torch.Tensor:
    """A plain loop over the boxes in Python floats."""
    target = torch.zeros(grid_size, grid_size, 5 + num_classes)
    cell = image_size / grid_size
    areas: dict[tuple[int, int], float] = {}
    for (x0, y0, x1, y1), label in zip(boxes.tolist(), labels.tolist(), strict=True):
        cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
        i = min(math.floor(cy / cell), grid_size - 1)
        j = min(math.floor(cx / cell), grid_size - 1)
        if (i, j) in areas and w * h <= areas[i, j]:
            continue
        areas[i, j] = w * h
        row = [cx / cell - j, cy / cell - i, w / image_size, h / image_size, 1.0]
        row += [1.0 if c == label - 1 else 0.0 for c in range(num_classes)]
        target[i, j] = torch.tensor(row)
    return target


def _random_scene(gen, count, image_size, num_classes):
    """Boxes inside the image, corners on a quarter-pixel grid, and their labels."""
    corner = torch.randint(0, image_size * 4 - 8, (count, 2), generator=gen) / 4
    room = image_size - corner
    size = (torch.rand(count, 2, generator=gen) * room * 4).floor().clamp(min=1) / 4
    boxes = torch.cat([corner, corner + size], dim=1).float()
    return boxes, torch.randint(1, num_classes + 1, (count,), generator=gen)


def _ids(*values: int) -> torch.Tensor:
    """Class labels as the exercises take them: an int64 tensor."""
    return torch.tensor(values, dtype=torch.long)


def _yolo_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    t = torch.tensor
    settings = [
        ("one box", t([[100.0, 150, 220, 300]]), _ids(12), 7, 20, 448),
        ("boxes in different cells",
         t([[10.0, 10, 50, 40], [300, 20, 440, 100], [150, 200, 260, 330], [5, 380, 60, 440]]),
         _ids(1, 20, 7, 3), 7, 20, 448),
        ("two centres in one cell, the later box larger (it replaces the first)",
         t([[70.0, 70, 110, 110], [66, 66, 120, 120]]), _ids(2, 5), 7, 20, 448),
        ("two centres in one cell, the first box larger (it stays)",
         t([[66.0, 66, 120, 120], [70, 70, 110, 110]]), _ids(2, 5), 7, 20, 448),
        ("two centres in one cell with equal areas (the first stays)",
         t([[80.0, 88, 88, 120], [76, 96, 92, 112]]), _ids(4, 9), 7, 20, 448),
        ("a centre exactly on a cell boundary (it belongs to the cell after it)",
         t([[32.0, 96, 96, 160]]), _ids(6), 7, 20, 448),
        ("centres on the image's right and bottom edges (clamped to the last cell)",
         t([[448.0, 100, 448, 140], [200, 420, 260, 476], [420, 420, 476, 476]]),
         _ids(1, 2, 3), 7, 20, 448),
        ("a zero-area box alone in its cell, and one sharing a cell with a larger box",
         t([[200.0, 200, 200, 230], [10, 10, 10, 10], [5, 5, 30, 30]]),
         _ids(8, 1, 2), 7, 20, 448),
        ("no boxes", torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), 7, 20, 448),
        ("S = 1: every centre in the one cell",
         t([[10.0, 10, 50, 60], [20, 30, 90, 95], [0, 0, 30, 40]]), _ids(1, 3, 2), 1, 3, 100),
    ]  # fmt: skip
    for grid, classes, size in ((8, 5, 256), (7, 20, 448), (5, 3, 320), (6, 4, 300)):
        boxes, ids = _random_scene(gen, rng.randint(3, 12), size, classes)
        settings.append((f"{len(boxes)} random boxes", boxes, ids, grid, classes, size))
    return [
        Case(f"{text}: grid_size={grid}, num_classes={classes}, image_size={size}",
             (boxes, ids, grid, classes, size), {},
             _yolo_reference(boxes, ids, grid, classes, size))
        for text, boxes, ids, grid, classes, size in settings
    ]  # fmt: skip


# Exercise 9: average precision


def _ap_reference(scores: list[float], hits: list[bool], num_targets: int, method: str) -> float:
    """AP as a plain loop: walk the detections by decreasing score (stable), record
    recall and precision after each, then summarise the precision envelope."""
    recall, precision, found = [], [], 0
    for rank, k in enumerate(sorted(range(len(scores)), key=lambda i: -scores[i]), start=1):
        found += bool(hits[k])
        recall.append(found / num_targets)
        precision.append(found / rank)
    if method == "all":
        area, previous = 0.0, 0.0
        for k, r in enumerate(recall):
            area += (r - previous) * max(precision[k:])
            previous = r
        return area
    points = {"coco": 101, "voc11": 11}[method]
    levels = [i * (1.0 / (points - 1)) for i in range(points)]
    levels[-1] = 1.0
    best = [
        max((p for r, p in zip(recall, precision, strict=True) if r >= level), default=0.0)
        for level in levels
    ]
    return sum(best) / points


def _ap_settings(seed: int) -> list[tuple[str, torch.Tensor, torch.Tensor, int]]:
    """(description, scores, hits, num_targets). Target counts are prime to 10, so no
    recall but 0 and 1 falls on a level of the 0.01 or 0.1 grids: float32 and float64
    then compare recalls to levels alike."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    t = torch.tensor
    settings = []
    scores = torch.rand(7, generator=gen)
    settings.append(("perfect: every detection a hit, every target found", scores,
                     torch.ones(7, dtype=torch.bool), 7))  # fmt: skip
    settings.append(("no hits", torch.rand(5, generator=gen), torch.zeros(5, dtype=torch.bool), 3))
    settings.append(("no detections", torch.zeros(0), torch.zeros(0, dtype=torch.bool), 3))
    settings.append(("tied scores (equal scores keep their input order)",
                     t([0.9, 0.5, 0.5, 0.5, 0.2, 0.5]), t([True, False, True, False, True, True]),
                     7))  # fmt: skip
    settings.append(("hits found late, most targets missed", t([0.9, 0.8, 0.7, 0.6, 0.5]),
                     t([False, False, True, False, True]), 11))  # fmt: skip
    while len(settings) < 8:
        n = rng.randint(4, 25)
        hits = torch.rand(n, generator=gen) < rng.uniform(0.3, 0.8)
        targets = int(hits.sum()) + rng.randint(0, 6)
        while math.gcd(targets, 10) != 1:
            targets += 1
        settings.append(("random detections", torch.rand(n, generator=gen), hits, targets))
    return settings


def _ap_cases(seed: int) -> list[Case]:
    cases = []
    for text, scores, hits, num_targets in _ap_settings(seed):
        for method in ("coco", "voc11", "all"):
            expected = _ap_reference(scores.tolist(), hits.tolist(), num_targets, method)
            description = f"{text}: {len(scores)} detections, num_targets={num_targets}"
            kwargs = {"method": method}
            if method == "coco" and text.startswith("random"):
                kwargs, description = {}, f"{description}, default method"
            cases.append(Case(f"{description}, method={method!r}",
                              (scores, hits, num_targets), kwargs, expected))  # fmt: skip
    return cases


# Exercise 10: class-wise NMS


def _batched_nms_reference(boxes, scores, idxs, threshold) -> torch.Tensor:
    """NMS within each class (the plain loop above), then every kept index by decreasing
    score, equal scores in input order."""
    labels, values = idxs.tolist(), scores.tolist()
    kept: list[int] = []
    for c in sorted(set(labels)):
        members = [i for i, label in enumerate(labels) if label == c]
        local = _nms_reference(boxes[members], scores[members], threshold)
        kept += [members[k] for k in local.tolist()]
    kept.sort(key=lambda i: (-values[i], i))
    return torch.tensor(kept, dtype=torch.long)


def _crowd(gen: torch.Generator, n: int, threshold: float) -> torch.Tensor:
    """n boxes in a small area, so that most overlap; redrawn until clear of the threshold."""
    while True:
        boxes = _boxes(gen, n, extent=12, largest=14)
        if _clear_of(boxes, threshold):
            return boxes


def _batched_nms_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    t = torch.tensor
    same = [[4.0, 4, 14, 14]] * 3
    # Far apart in one image but equal after a fixed shift of 1000 per class: an offset
    # smaller than the coordinates makes classes collide.
    far = t([[1500.0, 1500, 1600, 1600], [500, 500, 600, 600], [520, 500, 620, 600]])
    settings = [
        ("identical boxes of three classes (a box suppresses only its own class)",
         t(same), t([0.9, 0.8, 0.7]), _ids(0, 1, 2), 0.5),
        ("identical boxes, two of one class", t(same), t([0.6, 0.9, 0.8]), _ids(1, 0, 1), 0.5),
        ("class ids that are not 0..K-1", _crowd(gen, 6, 0.5),
         t([0.3, 0.5, 0.9, 0.1, 0.7, 0.6]), _ids(7, 3, 12, 7, 3, 7), 0.5),
        ("coordinates beyond 1000", far, t([0.9, 0.8, 0.7]), _ids(0, 1, 1), 0.5),
        ("tied scores across classes (equal scores keep their input order)",
         t([[0.0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [30, 30, 40, 40]]),
         t([0.5, 0.5, 0.5, 0.5]), _ids(1, 1, 0, 1), 0.5),
        ("no boxes (an empty int64 tensor)", torch.zeros(0, 4), torch.zeros(0),
         torch.zeros(0, dtype=torch.long), 0.5),
    ]  # fmt: skip
    for threshold in (0.3, 0.5, 0.7, 0.0):
        boxes = _clusters(rng, gen, threshold)
        scores = torch.rand(len(boxes), generator=gen)
        classes = torch.randint(0, rng.randint(2, 4), (len(boxes),), generator=gen)
        settings.append((f"{len(boxes)} boxes in clusters, {int(classes.max()) + 1} classes",
                         boxes, scores, classes, threshold))  # fmt: skip
    tied, scores = _tied_stacks(gen)
    settings.append(("200 boxes in stacks of 5, two classes, three score values (exact ties)",
                     tied, scores, torch.randint(0, 2, (200,), generator=gen), 0.3))  # fmt: skip
    return [
        Case(f"{text}: boxes {tuple(boxes.shape)}, iou_threshold={threshold}",
             (boxes, scores, classes, threshold), {},
             _batched_nms_reference(boxes, scores, classes, threshold))
        for text, boxes, scores, classes, threshold in settings
    ]  # fmt: skip


# Exercise 11: labelling anchors for the RPN


def _anchor_label_reference(anchors, targets, positive_iou, negative_iou) -> torch.Tensor:
    """A plain loop: each anchor by its best IoU, then each target's best anchors (every
    anchor tying for the target's highest IoU, when that IoU is above 0) made positive."""
    rows, objects = anchors.tolist(), targets.tolist()
    if not objects:
        return torch.zeros(len(rows), dtype=torch.long)
    iou = [[_iou(a, b) for b in objects] for a in rows]
    labels = []
    for overlaps in iou:
        best = max(overlaps)
        labels.append(1 if best >= positive_iou else 0 if best < negative_iou else -1)
    for j in range(len(objects)):
        top = max((overlaps[j] for overlaps in iou), default=0.0)
        for i, overlaps in enumerate(iou):
            if top > 0 and overlaps[j] == top:
                labels[i] = 1
    return torch.tensor(labels, dtype=torch.long)


def _anchor_grid(stride: float, cells: int, sizes: tuple, ratios: tuple) -> torch.Tensor:
    """Anchors of `sizes` and `ratios` centred on a cells x cells grid, corners on the
    quarter-pixel grid."""
    shapes = []
    for ratio in ratios:
        for size in sizes:
            w, h = size / math.sqrt(ratio), size * math.sqrt(ratio)
            shapes.append((round(w * 2) / 4, round(h * 2) / 4))  # half-sizes on the grid
    anchors = []
    for i in range(cells):
        for j in range(cells):
            cx, cy = (j + 0.5) * stride, (i + 0.5) * stride
            anchors += [[cx - w, cy - h, cx + w, cy + h] for w, h in shapes]
    return torch.tensor(anchors)


def _labels_are_clear(anchors, targets, thresholds) -> bool:
    """No IoU within 1e-4 of a threshold, and every target's best IoU either tied exactly
    or 1e-6 above the next: float32 then decides every label as double precision does."""
    if len(targets) == 0:
        return True
    iou = [[_iou(a, b) for b in targets.tolist()] for a in anchors.tolist()]
    if any(abs(v - t) < 1e-4 for row in iou for v in row for t in thresholds):
        return False
    for column in zip(*iou, strict=True):
        top = max(column)
        if any(0 < top - v < 1e-6 for v in column):
            return False
    return True


def _anchor_label_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    t = torch.tensor
    square = t([[0.0, 0, 8, 8], [8, 0, 16, 8], [0, 8, 8, 16], [8, 8, 16, 16], [4, 4, 12, 12]])
    settings = [
        ("an object every anchor misses by IoU 0.7: its best anchor is positive anyway",
         square, t([[3.0, 3, 11, 13]]), None),
        ("an object whose best anchor is below negative_iou: the rule makes it positive",
         square, t([[2.0, 2, 3, 3]]), None),
        ("three anchors tied for an object's best IoU: all three positive",
         square, t([[4.0, 0, 12, 8]]), None),
        ("IoU exactly 0.5 and 0.25 against thresholds 0.5 and 0.25 (positive from 0.5 up, "
         "negative only below 0.25)",
         t([[0.0, 0, 4, 4], [0, 0, 8, 4], [0, 0, 16, 4], [0, 0, 5, 4]]), t([[0.0, 0, 4, 4]]),
         (0.5, 0.25)),
        ("an object no anchor overlaps (no anchor is made positive for it)",
         square, t([[40.0, 40, 48, 48], [0, 0, 8, 8]]), None),
        ("no objects (every anchor negative)", square, torch.zeros(0, 4), None),
        ("no anchors (an empty int64 tensor)", torch.zeros(0, 4), t([[0.0, 0, 8, 8]]), None),
    ]  # fmt: skip
    for thresholds in (None, None, (0.6, 0.4), (0.5, 0.1)):
        while True:
            stride = rng.choice([8, 16])
            anchors = _anchor_grid(stride, rng.randint(2, 4), rng.choice([(16,), (12, 24)]),
                                   rng.choice([(1.0,), (0.5, 1.0, 2.0)]))  # fmt: skip
            extent = float(anchors[:, 2:].max())
            targets = _boxes(gen, rng.randint(1, 4), extent=extent * 0.8, largest=extent / 2)
            if _labels_are_clear(anchors, targets, thresholds or (0.7, 0.3)):
                break
        settings.append((f"{len(targets)} objects on a grid of anchors", anchors, targets,
                         thresholds))  # fmt: skip
    cases = []
    for text, anchors, targets, thresholds in settings:
        positive, negative = thresholds or (0.7, 0.3)
        kwargs = {} if thresholds is None else {"positive_iou": positive, "negative_iou": negative}
        label = "" if thresholds is None else f", positive_iou={positive}, negative_iou={negative}"
        cases.append(Case(
            f"{text}: {len(anchors)} anchors, {len(targets)} objects{label}",
            (anchors, targets), kwargs,
            _anchor_label_reference(anchors, targets, positive, negative),
        ))  # fmt: skip
    return cases


# Exercise 12: the YOLO loss


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _cell_iou(box, target, i: int, j: int, grid: int) -> float:
    """IoU of two (x, y, w, h) boxes of cell (i, j), centres in the cell, sizes as
    fractions of the image; computed in image fractions."""

    def corners(x, y, w, h):
        cx, cy = (j + x) / grid, (i + y) / grid
        return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]

    return _iou(corners(*box), corners(*target))


def _yolo_loss_terms(output, targets, boxes_per_cell, lambda_coord, lambda_noobj):
    """(loss, smallest gap between a cell's best IoU and its runner-up) by a loop over
    cells in double precision."""
    out = output.double().permute(0, 2, 3, 1).tolist()
    goal = targets.double().tolist()
    total, gap = 0.0, math.inf
    for image, wanted in zip(out, goal, strict=True):
        for i, (row, wanted_row) in enumerate(zip(image, wanted, strict=True)):
            for j, (values, target) in enumerate(zip(row, wanted_row, strict=True)):
                boxes = [[_sigmoid(v) for v in values[5 * b : 5 * b + 5]]
                         for b in range(boxes_per_cell)]  # fmt: skip
                if target[4] <= 0:
                    total += lambda_noobj * sum(box[4] ** 2 for box in boxes)
                    continue
                ious = [_cell_iou(box[:4], target[:4], i, j, len(image)) for box in boxes]
                best = ious.index(max(ious))
                others = sorted({round(v, 15) for v in ious}, reverse=True)
                if len(others) > 1:
                    gap = min(gap, others[0] - others[1])
                for b, box in enumerate(boxes):
                    if b != best:
                        total += lambda_noobj * box[4] ** 2
                        continue
                    centre = (box[0] - target[0]) ** 2 + (box[1] - target[1]) ** 2
                    size = sum((math.sqrt(box[k]) - math.sqrt(target[k])) ** 2 for k in (2, 3))
                    total += lambda_coord * (centre + size) + (box[4] - ious[best]) ** 2
                logits = values[5 * boxes_per_cell :]
                top = max(logits)
                log_sum = top + math.log(sum(math.exp(v - top) for v in logits))
                total += log_sum - logits[target[5:].index(1.0)]
    return total / len(out), gap


def _yolo_loss_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)

    def scene(grid, classes, count, size=64):
        if count == 0:
            return torch.zeros(grid, grid, 5 + classes)
        boxes, labels = _random_scene(gen, count, size, classes)
        return _yolo_reference(boxes, labels, grid, classes, size)

    def raw(n, grid, boxes_per_cell, classes):
        return torch.randn(n, boxes_per_cell * 5 + classes, grid, grid, generator=gen) * 1.5

    settings = []  # (description, output, targets, B, lambdas or None)
    settings.append(("no objects (only the confidences, weighted by lambda_noobj)",
                     raw(2, 3, 2, 3), torch.stack([scene(3, 3, 0)] * 2), 2, None))  # fmt: skip
    settings.append(("B = 1 (the cell's only predictor is responsible)", raw(1, 4, 1, 2),
                     scene(4, 2, 3)[None], 1, None))  # fmt: skip
    twins = raw(1, 3, 2, 4)
    twins[:, 5:10] = twins[:, 0:5]
    settings.append(("two identical predictors per cell (the first is responsible)", twins,
                     scene(3, 4, 4)[None], 2, None))  # fmt: skip
    flat = scene(3, 2, 2)
    flat[..., 2] = torch.where(flat[..., 4] > 0, 0.0, flat[..., 2])  # zero-width boxes
    settings.append(("objects of zero width", raw(1, 3, 2, 2), flat[None], 2, None))
    drawn = [("lambda_coord=1, lambda_noobj=1", 2, 4, 2, 3, (1.0, 1.0))]
    while len(drawn) < 5:
        n = rng.randint(1, 4)
        drawn.append((f"a batch of {n}", n, rng.randint(2, 7), rng.randint(1, 3),
                      rng.randint(1, 5), None))  # fmt: skip
    for text, n, grid, boxes_per_cell, classes, lambdas in drawn:
        while True:  # redrawn until no cell's best predictor is within 1e-5 of another
            output = raw(n, grid, boxes_per_cell, classes)
            targets = torch.stack([scene(grid, classes, rng.randint(1, 8)) for _ in range(n)])
            if _yolo_loss_terms(output, targets, boxes_per_cell, 5.0, 0.5)[1] > 1e-5:
                break
        settings.append((text, output, targets, boxes_per_cell, lambdas))
    cases = []
    for text, output, targets, boxes_per_cell, lambdas in settings:
        coord, noobj = lambdas or (5.0, 0.5)
        expected, _ = _yolo_loss_terms(output, targets, boxes_per_cell, coord, noobj)
        kwargs = {} if lambdas is None else {"lambda_coord": coord, "lambda_noobj": noobj}
        cases.append(Case(
            f"{text}: output {tuple(output.shape)}, boxes_per_cell={boxes_per_cell}",
            (output, targets, boxes_per_cell), kwargs, expected,
        ))  # fmt: skip
    return cases


def _same_loss(got, case: Case) -> str | None:
    """A one-element tensor (a loss must be a tensor to be backpropagated) within 1e-5,
    relative, of the double-precision reference."""
    if not isinstance(got, torch.Tensor):
        return f"expected a one-element tensor, got {type(got).__name__}"
    if got.numel() != 1:
        return f"expected a one-element tensor, got shape {tuple(got.shape)}"
    value = float(got.detach())
    if not math.isclose(value, case.expected, rel_tol=1e-5, abs_tol=1e-6):
        return f"got {value:.6f}, expected {case.expected:.6f}"
    return None


LIBRARIES = frozenset({"torchvision", "cnnbook"})
CODER = LIBRARIES | {"BoxCoder", "encode_single", "decode_single"}
ADAPTIVE_MAX = frozenset({"adaptive_max_pool2d", "adaptive_max_pool2d_with_indices",
                          "AdaptiveMaxPool2d", "cnnbook"})  # fmt: skip

# Points per exercise, next to the cases that earn them; the chapter is worth 18. The
# torchvision operators are watched too: importing torchvision under a name built at run
# time registers its kernels over the watch's, which the grader scores as tampering.
EXERCISES = (
    Exercise("box_iou", 1, _box_iou_cases, close_tensor(atol=1e-6, rtol=1e-5),
             LIBRARIES | {"box_iou"}),
    Exercise("nms", 2, _nms_cases, close_tensor(atol=0.0, rtol=0.0),
             LIBRARIES | {"nms", "batched_nms"}, frozenset({"torchvision::nms"})),
    Exercise("generate_anchors", 1, _anchor_cases, close_tensor(atol=0.0, rtol=0.0),
             LIBRARIES | {"AnchorGenerator", "anchor_utils"}),
    Exercise("encode_boxes", 1, _encode_cases, close_tensor(atol=1e-5, rtol=1e-4), CODER),
    Exercise("decode_boxes", 1, _decode_cases, close_tensor(atol=1e-4, rtol=1e-5), CODER),
    Exercise("roi_pool", 2, _roi_cases, close_tensor(atol=0.0, rtol=0.0),
             LIBRARIES | {"roi_pool", "RoIPool"}, frozenset({"torchvision::roi_pool"})),
    Exercise("spatial_pyramid_pool", 1, _spp_cases, close_tensor(atol=0.0, rtol=0.0),
             ADAPTIVE_MAX, POOLING),  # max_pool2d with the right kernel is a bin
    Exercise("yolo_targets", 2, _yolo_cases, close_tensor(atol=1e-5, rtol=1e-5),
             frozenset({"cnnbook"})),
    Exercise("average_precision", 2, _ap_cases, close_float,
             frozenset({"cnnbook", "torchmetrics", "pycocotools", "sklearn"})),
    Exercise("batched_nms", 1, _batched_nms_cases, close_tensor(atol=0.0, rtol=0.0),
             LIBRARIES | {"nms", "batched_nms"}, frozenset({"torchvision::nms"})),
    Exercise("label_anchors", 2, _anchor_label_cases, close_tensor(atol=0.0, rtol=0.0),
             LIBRARIES | {"Matcher", "box_iou"}),
    Exercise("yolo_loss", 2, _yolo_loss_cases, _same_loss, frozenset({"cnnbook"})),
)  # fmt: skip
