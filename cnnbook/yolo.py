"""YOLO v1 on the generated scenes (Chapter 8): targets, loss, decoding and training.

YOLO casts detection as one regression: an S x S grid over the image, and in every cell
B boxes (x, y, w, h, confidence) plus C class scores. The cell that holds an object's
centre is responsible for it. Everything here is written for one network output of
shape (N, B * 5 + C, S, S), the layout a convolutional head produces; the targets are
(N, S, S, 5 + C), one object per cell, as in the paper.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.boxes import class_wise_nms
from cnnbook.metrics import mean_average_precision
from cnnbook.runtime import progress_bar


def yolo_targets(
    boxes: torch.Tensor, labels: torch.Tensor, grid_size: int, num_classes: int, image_size: int
) -> torch.Tensor:
    """The (S, S, 5 + C) target of one image.

    The cell (row i, column j) holding a box's centre gets the centre's offset inside the
    cell (0 to 1), the box's width and height as fractions of the image, confidence 1 and
    the one-hot class (labels count from 1; 0 is the background). A centre on the far
    edge belongs to the last cell. A cell describes one object only: of several centres
    in one cell the larger box is kept, the first on equal areas."""
    cell = image_size / grid_size
    target = torch.zeros(grid_size, grid_size, 5 + num_classes)
    kept_area = torch.full((grid_size, grid_size), -1.0)
    for (x0, y0, x1, y1), label in zip(boxes.tolist(), labels.tolist(), strict=True):
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        i = min(math.floor(cy / cell), grid_size - 1)
        j = min(math.floor(cx / cell), grid_size - 1)
        area = (x1 - x0) * (y1 - y0)
        if area <= kept_area[i, j]:
            continue
        kept_area[i, j] = area
        target[i, j] = 0
        target[i, j, :5] = torch.tensor(
            [cx / cell - j, cy / cell - i, (x1 - x0) / image_size, (y1 - y0) / image_size, 1.0]
        )
        target[i, j, 4 + label] = 1
    return target


@dataclass
class YoloOutput:
    """A raw output split into its meanings; every part is (N, S, S, ...)."""

    xy: torch.Tensor  # (N, S, S, B, 2) centre offsets in the cell, 0 to 1
    wh: torch.Tensor  # (N, S, S, B, 2) sizes as fractions of the image, 0 to 1
    confidence: torch.Tensor  # (N, S, S, B)
    class_logits: torch.Tensor  # (N, S, S, C)


def split_output(output: torch.Tensor, boxes_per_cell: int) -> YoloOutput:
    """Squash the (N, B * 5 + C, S, S) output into valid ranges with sigmoids. (The
    paper regresses raw numbers; bounded outputs keep an untrained net's boxes on the
    image and its square roots defined.)"""
    out = output.permute(0, 2, 3, 1)
    per_box = out[..., : boxes_per_cell * 5].unflatten(-1, (boxes_per_cell, 5)).sigmoid()
    return YoloOutput(per_box[..., :2], per_box[..., 2:4], per_box[..., 4],
                      out[..., boxes_per_cell * 5 :])  # fmt: skip


def cell_boxes_to_corners(xy: torch.Tensor, wh: torch.Tensor, image_size: int) -> torch.Tensor:
    """(x0, y0, x1, y1) pixel boxes from cell offsets and image fractions, for tensors
    shaped (N, S, S, B, 2) or (N, S, S, 1, 2)."""
    grid = xy.shape[1]
    cell = image_size / grid
    rows = torch.arange(grid, device=xy.device, dtype=xy.dtype).view(1, grid, 1, 1)
    cols = torch.arange(grid, device=xy.device, dtype=xy.dtype).view(1, 1, grid, 1)
    cx, cy = (cols + xy[..., 0]) * cell, (rows + xy[..., 1]) * cell
    w, h = wh[..., 0] * image_size, wh[..., 1] * image_size
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def _paired_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of corresponding boxes (same shape (..., 4)), not all pairs."""
    top_left = torch.maximum(a[..., :2], b[..., :2])
    bottom_right = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).prod(-1)
    return inter / (area_a + area_b - inter).clamp(min=1e-9)


def yolo_loss(
    output: torch.Tensor,
    targets: torch.Tensor,
    boxes_per_cell: int,
    image_size: int,
    lambda_coord: float = 5.0,
    lambda_noobj: float = 0.5,
) -> torch.Tensor:
    """YOLO v1's sum-squared loss, averaged over the images of the batch.

    In a cell with an object, the predictor whose box overlaps the target most is
    "responsible": its centre and the square roots of its size are pulled to the
    target's (weighted by lambda_coord), and its confidence to that IoU. Every other
    predictor's confidence is pushed to 0, weighted by lambda_noobj because most cells
    are empty and would otherwise swamp the gradient. The class scores of object cells
    are trained with cross-entropy (the paper used squared error on probabilities)."""
    parts = split_output(output, boxes_per_cell)
    has_object = targets[..., 4] > 0
    target_xy = targets[..., None, 0:2].expand_as(parts.xy)
    target_wh = targets[..., None, 2:4].expand_as(parts.wh)
    with torch.no_grad():
        iou = _paired_iou(
            cell_boxes_to_corners(parts.xy, parts.wh, image_size),
            cell_boxes_to_corners(target_xy, target_wh, image_size),
        )
        best = iou.argmax(-1)
    responsible = F.one_hot(best, boxes_per_cell).bool() & has_object[..., None]
    centre_error = ((parts.xy - target_xy) ** 2).sum(-1)
    size_error = ((parts.wh.sqrt() - target_wh.sqrt()) ** 2).sum(-1)
    coord = centre_error + size_error
    loss = (
        lambda_coord * coord[responsible].sum()
        + ((parts.confidence - iou) ** 2)[responsible].sum()
        + lambda_noobj * (parts.confidence**2)[~responsible].sum()
        + F.cross_entropy(
            parts.class_logits[has_object], targets[..., 5:][has_object].argmax(-1), reduction="sum"
        )
    )
    return loss / len(output)


@torch.no_grad()
def yolo_detect(
    model: nn.Module,
    images: torch.Tensor,
    boxes_per_cell: int,
    score_threshold: float = 0.05,
    iou_threshold: float | None = 0.5,
    batch_size: int = 100,
) -> list[dict[str, torch.Tensor]]:
    """Per image, detections {"boxes", "scores", "labels"} on the CPU, as torchmetrics
    takes them. A box's score for class c is its confidence times the cell's probability
    of c (the paper's class-specific confidence); boxes scoring below `score_threshold`
    are dropped, then NMS runs class by class (`iou_threshold=None` skips it, to see the
    raw predictions)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    image_size = images.shape[-1]
    results = []
    for start in range(0, len(images), batch_size):
        parts = split_output(model(images[start : start + batch_size].to(device)), boxes_per_cell)
        corners = cell_boxes_to_corners(parts.xy, parts.wh, image_size).cpu()
        probs = parts.class_logits.softmax(-1).cpu()
        scores = parts.confidence.cpu()[..., None] * probs[..., None, :]  # (N, S, S, B, C)
        num_classes = probs.shape[-1]
        for n in range(len(corners)):
            score = scores[n].reshape(-1)
            label = torch.arange(1, num_classes + 1).repeat(score.numel() // num_classes)
            box = corners[n][..., None, :].expand(-1, -1, -1, num_classes, -1).reshape(-1, 4)
            keep = score >= score_threshold
            box, score, label = box[keep], score[keep], label[keep]
            if iou_threshold is not None:
                order = class_wise_nms(box, score, label, iou_threshold)
                box, score, label = box[order], score[order], label[order]
            results.append({"boxes": box, "scores": score, "labels": label})
    model.train(was_training)
    return results


@dataclass
class DetectionHistory:
    """Per-epoch training loss and held-out mAP@0.5 (COCO's 101-point AP)."""

    train_loss: list[float] = field(default_factory=list)
    map50: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_yolo(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    val_images: torch.Tensor,
    val_targets: Sequence[dict[str, torch.Tensor]],
    boxes_per_cell: int,
    epochs: int,
    device: torch.device | str,
    lr: float = 3e-3,
    batch_size: int = 32,
    progress: bool = True,
) -> DetectionHistory:
    """Adam with a one-cycle schedule on `yolo_loss`; held-out mAP@0.5 after each epoch.

    `images` and `val_images` should be standardized; `targets` is (N, S, S, 5 + C)
    from `yolo_targets`, `val_targets` the held-out boxes and labels per image."""
    model.to(device=device, memory_format=torch.channels_last)
    image_size = images.shape[-1]
    steps_per_epoch = math.ceil(len(images) / batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, lr, total_steps=epochs * steps_per_epoch
    )
    history = DetectionHistory()
    start = time.perf_counter()
    for _ in progress_bar(range(epochs), progress, desc="epochs"):
        model.train()
        total = 0.0
        order = torch.randperm(len(images))
        for first in range(0, len(images), batch_size):
            index = order[first : first + batch_size]
            x, y = images[index].to(device), targets[index].to(device)
            loss = yolo_loss(model(x), y, boxes_per_cell, image_size)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(index)
        history.train_loss.append(total / len(images))
        detections = yolo_detect(model, val_images, boxes_per_cell)
        history.map50.append(mean_average_precision(detections, val_targets)[0])
    history.seconds = time.perf_counter() - start
    return history
