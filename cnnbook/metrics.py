"""Segmentation scores from a dataset-level confusion matrix.

Scores are computed from one confusion matrix summed over the whole data set, never as
an average of per-image scores: a class that is missing from one image would otherwise
count as a perfect or a zero score there. The conventions are those of the FCN paper's
mean IU and of `torchmetrics`' `MulticlassJaccardIndex` (checked in the tests): pixels
whose target is `ignore_index` are dropped, and a class that appears neither in the
predictions nor in the targets has no IoU and is left out of the mean.
"""

from __future__ import annotations

import torch


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
