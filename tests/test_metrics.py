"""Segmentation scores against torchmetrics, the reference the chapter cites."""

import math

import pytest
import torch
from torchmetrics.classification import MulticlassConfusionMatrix, MulticlassJaccardIndex

from cnnbook.metrics import (
    confusion_matrix,
    iou_per_class,
    mean_iou,
    mean_iou_from_confusion,
    pixel_accuracy,
)


def _labels(seed, k, shape, absent=0, ignore=None):
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(0, k - absent, shape, generator=gen)
    noise = torch.randint(0, k - absent, shape, generator=gen)
    pred = torch.where(torch.rand(shape, generator=gen) < 0.6, target, noise)
    if ignore == 255:
        target[torch.rand(shape, generator=gen) < 0.3] = 255
    return pred, target


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ignore", [None, 255, 0, 2])
@pytest.mark.parametrize("absent", [0, 1])
def test_scores_equal_torchmetrics(seed, ignore, absent):
    k = 4
    pred, target = _labels(seed, k, (3, 9, 7), absent, ignore)
    reference = MulticlassConfusionMatrix(k, ignore_index=ignore, validate_args=False)
    torch.testing.assert_close(confusion_matrix(pred, target, k, ignore), reference(pred, target))
    expected = float(
        MulticlassJaccardIndex(k, ignore_index=ignore, validate_args=False)(pred, target)
    )
    assert mean_iou(pred, target, k, ignore) == pytest.approx(expected, abs=1e-6)


def test_a_class_in_neither_prediction_nor_target_has_no_iou():
    pred = torch.tensor([0, 0, 1, 1])
    target = torch.tensor([0, 1, 1, 1])
    iou = iou_per_class(confusion_matrix(pred, target, 3))
    assert iou[:2].tolist() == [0.5, 2 / 3] and math.isnan(iou[2])
    assert mean_iou(pred, target, 3) == pytest.approx((0.5 + 2 / 3) / 2)


def test_predicting_an_absent_class_scores_zero_for_it():
    pred, target = torch.tensor([2, 0]), torch.tensor([0, 0])
    assert iou_per_class(confusion_matrix(pred, target, 3)).nan_to_num(-1).tolist() == [0.5, -1, 0]


def test_all_background_prediction_has_high_pixel_accuracy_and_low_mean_iou():
    target = torch.zeros(10, 10, dtype=torch.long)
    target[:2, :2], target[5:7, 5:8] = 1, 2
    confusion = confusion_matrix(torch.zeros_like(target), target, 3)
    assert pixel_accuracy(confusion) == pytest.approx(0.9)
    assert mean_iou_from_confusion(confusion) == pytest.approx(0.9 / 3)


def test_a_data_set_is_scored_from_the_summed_confusion_not_the_mean_of_images():
    pred, target = _labels(3, 3, (4, 6, 6))
    total = sum(confusion_matrix(p, t, 3) for p, t in zip(pred, target, strict=True))
    assert mean_iou_from_confusion(total) == pytest.approx(mean_iou(pred, target, 3))
    per_image = sum(mean_iou(p, t, 3) for p, t in zip(pred, target, strict=True)) / 4
    assert per_image != pytest.approx(mean_iou(pred, target, 3), abs=1e-6)
