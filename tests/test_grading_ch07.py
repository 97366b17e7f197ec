"""Chapter 7's grading spec: the package against its cases, the FCN head's reference
against the package's FCN, and plausible wrong answers."""

import pytest
import torch
import torch.nn.functional as F

from cnnbook import metrics
from cnnbook.grading.chapters import ch07
from cnnbook.grading.checks import PUBLIC_SEED, report, run_cases
from cnnbook.models.fcn import FCN

EXERCISES = {ex.name: ex for ex in ch07.EXERCISES}


def test_the_package_passes_every_case():
    for name, fn in (
        ("mean_iou", metrics.mean_iou),
        ("confusion_matrix", metrics.confusion_matrix),
    ):
        for seed in (PUBLIC_SEED, 2024):
            result = run_cases(EXERCISES[name], fn, seed)
            assert result.ok, report(result)


def test_a_mean_over_the_target_s_classes_only_fails_where_a_class_is_only_predicted():
    """A class the model predicts but the target never contains has IoU 0 and counts."""

    def mean_iou(pred, target, num_classes, ignore_index=None):
        matrix = metrics.confusion_matrix(pred, target, num_classes, ignore_index).double()
        hits = matrix.diag()
        union = matrix.sum(0) + matrix.sum(1) - hits
        scored = matrix.sum(1) > 0  # the wrong part: only the target's classes
        if ignore_index is not None and 0 <= ignore_index < num_classes:
            scored[ignore_index] = False
        return float((hits[scored] / union[scored]).mean())

    result = run_cases(EXERCISES["mean_iou"], mean_iou)
    assert result.passed == result.total - 2, report(result)
    assert all("only predicted" in f for f in result.failures)


EXERCISE = EXERCISES["fcn_head"]


@pytest.mark.parametrize("stride", [32, 16, 8])
def test_the_fcn_head_reference_is_the_package_s_fcn(stride):
    """The reference, fed the package's FCN's own pooled features and layers, gives the
    network's output."""
    torch.manual_seed(0)
    model = FCN(num_classes=3, stride=stride).eval()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        pools, features = [], x
        for stage in model.stages:
            features = stage(features)
            pools.append(features)
        scores = model.score_pool5(model.head(pools[4]))
        skips = []
        for pool, score, up in (
            (pools[3], "score_pool4", "up_pool5"),
            (pools[2], "score_pool3", "up_pool4"),
        )[: {32: 0, 16: 1, 8: 2}[stride]]:
            layer = getattr(model, score)
            skips.append((pool, layer.weight[:, :, 0, 0], layer.bias, getattr(model, up).weight))
        got = ch07._fcn_reference(scores, skips, model.upsample.weight)
        torch.testing.assert_close(got, model(x), atol=1e-5, rtol=1e-5)  # fmt: skip


def _head(upsample="weights", bias=True):
    def fcn_head(scores, skips, final_weight):
        for features, weight, b, up_weight in skips:
            if upsample == "weights":
                up = F.conv_transpose2d(scores, up_weight, stride=2, padding=1)
            else:
                up = F.interpolate(scores, scale_factor=2, mode="bilinear", align_corners=False)
            scores = up + F.conv2d(features, weight[:, :, None, None], b if bias else None)
        factor = final_weight.shape[-1] // 2
        return F.conv_transpose2d(scores, final_weight, stride=factor, padding=factor // 2)

    return fcn_head


def test_wrong_fcn_heads_fail():
    assert run_cases(EXERCISE, _head()).ok
    interpolated = run_cases(EXERCISE, _head(upsample="interpolate"))
    # only the cases without skips or with bilinear weights (up to the border) can pass
    assert interpolated.passed <= 3, report(interpolated)
    no_bias = run_cases(EXERCISE, _head(bias=False))
    assert no_bias.passed <= no_bias.total - 4, report(no_bias)
    assert all("FCN-32s" not in f for f in no_bias.failures)  # no skip, no bias to forget
