"""Generated scenes: coloured shapes on textured backgrounds, with masks and boxes.

One generator serves three tasks. Classification uses `Scenes.classes` (the shape that
covers most pixels), segmentation uses `Scenes.masks` and detection uses `Scenes.boxes`
with `Scenes.labels`. Everything is derived from the painted pixels, so the labels are
exact even when shapes overlap, and a seed fixes the whole data set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

SHAPES = ("circle", "square", "triangle")
MIN_VISIBLE_PIXELS = 12  # a sliver left by overlapping shapes is painted but gets no box


@dataclass
class Scenes:
    """A batch of scenes; class ids count from 1 because 0 is the background."""

    images: torch.Tensor  # (N, 3, H, W) float in [0, 1]
    masks: torch.Tensor  # (N, H, W) long: 0 background, k for SHAPES[k - 1]
    boxes: list[torch.Tensor]  # per image (M, 4) float (x0, y0, x1, y1), pixel edges
    labels: list[torch.Tensor]  # per image (M,) long in 1..len(SHAPES)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def classes(self) -> torch.Tensor:
        """Per image, the 0-based class of the shape with the most visible pixels."""
        counts = torch.stack(
            [(self.masks == k).flatten(1).sum(1) for k in range(1, len(SHAPES) + 1)], 1
        )
        return counts.argmax(1)


def _shape_mask(
    kind: str, yy: torch.Tensor, xx: torch.Tensor, cy: float, cx: float, r: float
) -> torch.Tensor:
    dy, dx = yy - cy, xx - cx
    if kind == "circle":
        return dy**2 + dx**2 <= r**2
    if kind == "square":
        return (dy.abs() <= r) & (dx.abs() <= r)
    # upward triangle: apex at (cy - r), base of half-width r at (cy + r)
    depth = (dy + r) / (2 * r)
    return (depth >= 0) & (depth <= 1) & (dx.abs() <= r * depth)


def _background(size: int, gen: torch.Generator) -> torch.Tensor:
    """A base colour modulated by two random gratings and pixel noise: texture to ignore."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    base = 0.25 + 0.5 * torch.rand(3, 1, 1, generator=gen)
    texture = torch.zeros(size, size)
    for _ in range(2):
        angle, freq, phase = (
            torch.rand(3, generator=gen) * torch.tensor([math.pi, 0.5, 2 * math.pi])
        ).tolist()
        texture += torch.sin(freq * (xx * math.cos(angle) + yy * math.sin(angle)) + phase)
    noise = 0.03 * torch.randn(3, size, size, generator=gen)
    return (base + 0.06 * texture + noise).clamp(0, 1)


def make_scenes(
    n: int,
    size: int = 64,
    min_objects: int = 1,
    max_objects: int = 3,
    seed: int = 0,
) -> Scenes:
    """Draw `n` scenes of `size` x `size` pixels with 1 to `max_objects` shapes each."""
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    images = torch.empty(n, 3, size, size)
    masks = torch.zeros(n, size, size, dtype=torch.long)
    boxes, labels = [], []
    for i in range(n):
        image = _background(size, gen)
        instance = torch.zeros(size, size, dtype=torch.long)  # which object owns each pixel
        count = int(torch.randint(min_objects, max_objects + 1, (1,), generator=gen))
        kinds = torch.randint(0, len(SHAPES), (count,), generator=gen).tolist()
        for j, kind in enumerate(kinds, start=1):
            r = size * (0.08 + 0.14 * float(torch.rand(1, generator=gen)))
            cy, cx = (r + (size - 2 * r) * torch.rand(2, generator=gen)).tolist()
            colour = torch.rand(3, generator=gen)
            if (colour - image.mean((1, 2))).abs().sum() < 0.6:  # keep shapes visible
                colour = 1 - colour
            inside = _shape_mask(SHAPES[kind], yy, xx, cy, cx, r)
            image[:, inside] = colour.view(3, 1)
            instance[inside] = j
        image += 0.02 * torch.randn(3, size, size, generator=gen)
        images[i] = image.clamp(0, 1)
        img_boxes, img_labels = [], []
        for j, kind in enumerate(kinds, start=1):
            ys, xs = torch.nonzero(instance == j, as_tuple=True)
            masks[i][instance == j] = kind + 1
            if len(ys) < MIN_VISIBLE_PIXELS:
                continue
            img_boxes.append(torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float())
            img_labels.append(kind + 1)
        boxes.append(torch.stack(img_boxes) if img_boxes else torch.zeros(0, 4))
        labels.append(torch.tensor(img_labels, dtype=torch.long))
    return Scenes(images, masks, boxes, labels)


def simulate_detections(
    scenes: Scenes,
    seed: int,
    found: float = 0.85,
    duplicate: float = 0.2,
    wrong_class: float = 0.05,
    max_false_positives: int = 2,
    jitter: float = 0.12,
) -> list[dict[str, torch.Tensor]]:
    """What an imperfect detector returns on `scenes`, to exercise a detection metric
    with every kind of error at known rates: each object gets a box with probability
    `found` and, independently, another with probability `duplicate` (so it is found at
    least once with probability 1 - (1 - found)(1 - duplicate), 0.88 by default, and
    twice with found * duplicate, 0.17), each box's corners moved by `jitter` times its
    size (a loose box may miss IoU 0.5) and its class wrong with probability
    `wrong_class`; and each image gets up to `max_false_positives` boxes on nothing.
    Tighter boxes tend to score higher, as they would from a trained detector, but not
    always."""
    gen = torch.Generator().manual_seed(seed)

    def uniform() -> float:
        return float(torch.rand(1, generator=gen))

    detections = []
    for boxes, labels in zip(scenes.boxes, scenes.labels, strict=True):
        found_boxes, names, scores = [], [], []
        for box, label in zip(boxes, labels.tolist(), strict=True):
            copies = (uniform() < found) + (uniform() < duplicate)
            for _ in range(copies):
                noise = torch.randn(4, generator=gen) * jitter
                found_boxes.append(box + noise * (box[2:] - box[:2]).repeat(2))
                names.append(int(torch.randint(1, len(SHAPES) + 1, (1,), generator=gen))
                             if uniform() < wrong_class else label)  # fmt: skip
                scores.append(min(max(1 - 3 * float(noise.abs().mean()) + 0.3 * uniform(),
                                      0.01), 1.0))  # fmt: skip
        for _ in range(int(torch.randint(0, max_false_positives + 1, (1,), generator=gen))):
            corner = torch.rand(2, generator=gen) * (scenes.images.shape[-1] * 0.7)
            found_boxes.append(torch.cat([corner, corner + 6 + torch.rand(2, generator=gen) * 14]))
            names.append(int(torch.randint(1, len(SHAPES) + 1, (1,), generator=gen)))
            scores.append(0.8 * uniform())
        detections.append({
            "boxes": torch.stack(found_boxes) if found_boxes else torch.zeros(0, 4),
            "scores": torch.tensor(scores, dtype=torch.float32),
            "labels": torch.tensor(names, dtype=torch.long),
        })  # fmt: skip
    return detections
