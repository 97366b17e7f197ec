"""Scores from data-set-level counts: segmentation from a confusion matrix (Chapter 7),
detection from detections pooled over all images (Chapter 8).

Segmentation scores are computed from one confusion matrix summed over the whole data set, never as
an average of per-image scores: a class that is missing from one image would otherwise
count as a perfect or a zero score there. The conventions are those of the FCN paper's
mean IU and of `torchmetrics`' `MulticlassJaccardIndex` (checked in the tests): pixels
whose target is `ignore_index` are dropped, and a class that appears neither in the
predictions nor in the targets has no IoU and is left out of the mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from cnnbook.boxes import box_iou


def confusion_matrix(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int | None = None
) -> torch.Tensor:
    """Counts[t, p] of pixels with target class t predicted as p, as int64 (K, K).

    `pred` and `target` hold class ids of the same shape (any number of dimensions);
    pixels whose target is `ignore_index` are not counted."""
    pred, target = pred.flatten(), target.flatten()
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    index = target.long() * num_classes + pred.long()
    counts = torch.bincount(index, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def pixel_accuracy(confusion: torch.Tensor) -> float:
    """The share of counted pixels whose class is right: dominated by the largest class."""
    return float(confusion.diag().sum() / confusion.sum())


def iou_per_class(confusion: torch.Tensor) -> torch.Tensor:
    """IoU_k = TP / (TP + FP + FN) for each class, nan where the class is in neither the
    predictions nor the targets (0 / 0: no evidence either way)."""
    confusion = confusion.double()
    true_positive = confusion.diag()
    union = confusion.sum(0) + confusion.sum(1) - true_positive
    return torch.where(union > 0, true_positive / union.clamp(min=1), torch.nan)


def mean_iou_from_confusion(confusion: torch.Tensor, ignore_index: int | None = None) -> float:
    """The mean of the defined per-class IoUs; an `ignore_index` that names a class also
    leaves that class out of the mean."""
    iou = iou_per_class(confusion)
    if ignore_index is not None and 0 <= ignore_index < len(iou):
        iou[ignore_index] = torch.nan
    return float(iou.nanmean())


def mean_iou(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int | None = None
) -> float:
    """Mean IoU of one set of predictions; for batches, sum their confusion matrices and
    call `mean_iou_from_confusion` once."""
    confusion = confusion_matrix(pred, target, num_classes, ignore_index)
    return mean_iou_from_confusion(confusion, ignore_index)


# Detection: average precision over detections pooled from every image (Chapter 8).


def match_detections(
    prediction: dict[str, torch.Tensor],
    target: dict[str, torch.Tensor],
    label: int,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One image, one class: (scores, is_true_positive, number of targets), COCO's way.

    The `max_detections` best detections of the class are taken by decreasing score;
    each is matched to the unmatched target of the class it overlaps most, if that IoU
    is at least `iou_threshold`. A second detection of an already-found object is
    therefore a false positive, as is one that overlaps nothing enough."""
    mine = prediction["labels"] == label
    scores, boxes = prediction["scores"][mine], prediction["boxes"][mine]
    order = torch.sort(scores, descending=True, stable=True).indices[:max_detections]
    scores, boxes = scores[order], boxes[order]
    truth = target["boxes"][target["labels"] == label]
    hits = torch.zeros(len(scores), dtype=torch.bool)
    if len(truth) and len(boxes):
        iou = box_iou(boxes, truth)
        taken = torch.zeros(len(truth), dtype=torch.bool)
        for d in range(len(boxes)):
            overlaps = torch.where(taken, -1.0, iou[d])
            best = int(overlaps.argmax())
            if overlaps[best] >= iou_threshold:
                taken[best] = hits[d] = True
    return scores, hits, len(truth)


def average_precision(
    scores: torch.Tensor, hits: torch.Tensor, num_targets: int, method: str = "coco"
) -> float:
    """AP of detections pooled over a data set, from their scores and true-positive flags.

    The precision-recall curve is made monotone (each precision replaced by the best
    precision at any higher recall), then summarised: "coco" averages it at the 101
    recalls 0, 0.01, ..., 1; "voc11" at the 11 recalls 0, 0.1, ..., 1 (PASCAL VOC
    2007); "all" integrates it over every recall step (VOC 2010 and later)."""
    order = torch.sort(scores, descending=True, stable=True).indices
    hits = hits[order].double()
    true_positives, false_positives = hits.cumsum(0), (1 - hits).cumsum(0)
    recall = true_positives / num_targets
    precision = true_positives / (true_positives + false_positives).clamp(min=1e-12)
    envelope = precision.flip(0).cummax(0).values.flip(0)  # best precision at recall >= r
    if method == "all":
        steps = torch.diff(recall, prepend=recall.new_zeros(1))
        return float((steps * envelope).sum())
    points = {"coco": 101, "voc11": 11}[method]
    # the grid exactly as COCO's NumPy code builds it (i * step, last set to 1): a recall
    # that lands on a level must compare the same way there and here
    levels = torch.arange(points, dtype=torch.float64) * (1.0 / (points - 1))
    levels[-1] = 1.0
    index = torch.searchsorted(recall, levels)  # first detection reaching each recall
    reached = index < len(recall)
    values = torch.zeros(points, dtype=torch.float64)
    values[reached] = envelope[index[reached]]
    return float(values.mean())


def mean_average_precision(
    predictions: Sequence[dict[str, torch.Tensor]],
    targets: Sequence[dict[str, torch.Tensor]],
    iou_threshold: float = 0.5,
    method: str = "coco",
    max_detections: int = 100,
) -> tuple[float, dict[int, float]]:
    """mAP at one IoU threshold and the AP of each class, over a data set given as
    torchmetrics takes it: per image, predictions {"boxes", "scores", "labels"} and
    targets {"boxes", "labels"}. A class with no target anywhere has no AP (COCO)."""
    classes = sorted({int(c) for t in targets for c in t["labels"]})
    per_class = {}
    for label in classes:
        matched = [
            match_detections(p, t, label, iou_threshold, max_detections)
            for p, t in zip(predictions, targets, strict=True)
        ]
        scores = torch.cat([m[0] for m in matched])
        hits = torch.cat([m[1] for m in matched])
        per_class[label] = average_precision(scores, hits, sum(m[2] for m in matched), method)
    return sum(per_class.values()) / max(len(per_class), 1), per_class
