"""Chapter 8's box operations and mAP against torchvision and torchmetrics (pycocotools)."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import box_iou as tv_box_iou
from torchvision.ops import nms as tv_nms

from cnnbook.boxes import (
    SIZE_CLIP,
    box_iou,
    class_wise_nms,
    decode_boxes,
    encode_boxes,
    generate_anchors,
    grid_anchors,
    label_anchors,
    nms,
    roi_pool,
    spatial_pyramid_pool,
)
from cnnbook.metrics import average_precision, mean_average_precision


def _boxes(n, gen, scale=50.0):
    corner = torch.rand(n, 2, generator=gen) * scale
    return torch.cat([corner, corner + torch.rand(n, 2, generator=gen) * 30 + 2], dim=1)


@pytest.mark.parametrize("seed", range(5))
def test_iou_and_nms_equal_torchvision(seed):
    gen = torch.Generator().manual_seed(seed)
    a, b = _boxes(7, gen), _boxes(5, gen)
    torch.testing.assert_close(box_iou(a, b), tv_box_iou(a, b))
    boxes, scores = _boxes(60, gen), torch.rand(60, generator=gen)
    for threshold in (0.0, 0.3, 0.5, 0.7, 1.0):
        assert torch.equal(nms(boxes, scores, threshold), tv_nms(boxes, scores, threshold))


def test_nms_suppresses_only_strictly_above_the_threshold_and_keeps_ties_in_order():
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 30, 30]])  # IoU 0.5
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.5).tolist() == [0, 1, 2] == tv_nms(boxes, scores, 0.5).tolist()
    assert nms(boxes, scores, 0.49).tolist() == [0, 2] == tv_nms(boxes, scores, 0.49).tolist()
    tied = torch.tensor([0.5, 0.5, 0.5])
    assert nms(boxes, tied, 0.3).tolist() == [0, 2]  # equal scores: input order decides


@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)])
def test_box_coding_equals_torchvision_including_the_clamp(weights):
    gen = torch.Generator().manual_seed(1)
    anchors, targets = _boxes(20, gen), _boxes(20, gen)
    coder = BoxCoder(weights)
    codes = encode_boxes(targets, anchors, weights)
    torch.testing.assert_close(codes, coder.encode_single(targets, anchors))
    torch.testing.assert_close(decode_boxes(codes, anchors, weights), targets)
    wild = torch.randn(20, 4, generator=gen) * 3
    wild[0, 2] = 100.0  # far beyond the clamp
    torch.testing.assert_close(
        decode_boxes(wild, anchors, weights), coder.decode_single(wild, anchors)
    )
    width = anchors[0, 2] - anchors[0, 0]
    decoded = decode_boxes(wild, anchors, weights)
    assert torch.isclose(decoded[0, 2] - decoded[0, 0], width * torch.exp(torch.tensor(SIZE_CLIP)))


def test_anchors_equal_torchvisions_generator():
    sizes, ratios = (32, 64, 128), (0.5, 1.0, 2.0)
    base = generate_anchors(sizes, ratios)
    generator = AnchorGenerator((sizes,), (ratios,))
    torch.testing.assert_close(base, generator.generate_anchors(sizes, ratios))
    heights, widths = base[:, 3] - base[:, 1], base[:, 2] - base[:, 0]
    assert (heights[:3] < widths[:3]).all()  # ratio 0.5 = height / width: wide anchors first
    images = ImageList(torch.zeros(1, 3, 64, 96), [(64, 96)])
    expected = generator(images, [torch.zeros(1, 8, 4, 6)])[0]
    torch.testing.assert_close(grid_anchors(base, (4, 6), (16, 16)), expected)
    assert len(expected) == 4 * 6 * 9


def _detections(seed):
    """Images with misses, duplicates and false positives, as torchmetrics takes them."""
    gen = torch.Generator().manual_seed(seed)
    predictions, targets = [], []
    for _ in range(6):
        n = int(torch.randint(0, 5, (1,), generator=gen))
        truth, labels = _boxes(n, gen), torch.randint(1, 4, (n,), generator=gen)
        boxes = torch.cat([truth + torch.randn(n, 4, generator=gen) * 3,  # found, roughly
                           truth[: n // 2] + torch.randn(n // 2, 4, generator=gen) * 2,  # twice
                           _boxes(3, gen)])  # fmt: skip
        boxes[:, 2:] = torch.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        guessed = torch.cat([labels, labels[: n // 2], torch.randint(1, 4, (3,), generator=gen)])
        scores = torch.rand(len(boxes), generator=gen)
        predictions.append({"boxes": boxes, "scores": scores, "labels": guessed})
        targets.append({"boxes": truth, "labels": labels})
    return predictions, targets


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("threshold", [0.5, 0.75])
def test_map_equals_torchmetrics_with_pycocotools(seed, threshold):
    from torchmetrics.detection import MeanAveragePrecision

    predictions, targets = _detections(seed)
    # COCO's recall grid, built as its NumPy code does. torchmetrics' default is
    # torch.linspace in float32, whose levels differ from COCO's in the last bits: where a
    # recall lands exactly on a level (3/10 = 0.3, say) the two disagree, by up to 1e-3 AP
    # in these cases. pycocotools itself, run directly, agrees with ours on the default.
    levels = (np.arange(101) * 0.01).tolist()
    levels[-1] = 1.0
    metric = MeanAveragePrecision(iou_thresholds=[threshold], rec_thresholds=levels,
                                  class_metrics=True)  # fmt: skip
    metric.update(predictions, targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = metric.compute()
    ours, per_class = mean_average_precision(predictions, targets, iou_threshold=threshold)
    assert ours == pytest.approx(float(reference["map"]), abs=1e-6)
    expected = dict(zip(reference["classes"].tolist(), reference["map_per_class"].tolist(),
                        strict=True))  # fmt: skip
    assert per_class == pytest.approx({k: v for k, v in expected.items() if v >= 0}, abs=1e-6)


def test_the_three_ap_summaries_on_a_hand_checked_curve():
    # 4 targets; by score: hit, miss, hit, hit, miss -> recall .25 .25 .5 .75 .75
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5])
    hits = torch.tensor([True, False, True, True, False])
    # monotone precision: 1 up to recall .25, then 3/4 up to .75, nothing beyond
    assert average_precision(scores, hits, 4, "all") == pytest.approx(0.25 * 1 + 0.5 * 0.75)
    assert average_precision(scores, hits, 4, "voc11") == pytest.approx((3 * 1 + 5 * 0.75) / 11)
    assert average_precision(scores, hits, 4, "coco") == pytest.approx((26 * 1 + 50 * 0.75) / 101)


@pytest.mark.parametrize("scale", [1.0, 0.5, 1 / 16])
@pytest.mark.parametrize("output_size", [1, 2, (3, 2), 7])
def test_roi_pool_equals_torchvision_with_its_rounding(scale, output_size):
    from torchvision.ops import roi_pool as tv_roi_pool

    gen = torch.Generator().manual_seed(7)
    features = torch.randn(2, 3, 9, 11, generator=gen)
    pixels = 1 / scale
    corners = torch.rand(12, 2, generator=gen) * 8 * pixels
    rois = torch.cat([torch.randint(0, 2, (12, 1), generator=gen).float(), corners,
                      corners + torch.rand(12, 2, generator=gen) * 6 * pixels], dim=1)  # fmt: skip
    rois[0, 1:] = torch.tensor([0.5, 1.5, 2.5, 3.5]) * pixels  # halves: rounded away from zero
    rois[1, 1:] = torch.tensor([-3.0, -2.0, 20.0, 30.0]) * pixels  # beyond the map
    rois[2, 1:] = torch.tensor([4.0, 4.0, 4.0, 4.0]) * pixels  # a single cell
    expected = tv_roi_pool(features, rois, output_size, scale)
    torch.testing.assert_close(roi_pool(features, rois, output_size, scale), expected)


@pytest.mark.parametrize("size", [(4, 4), (7, 5), (13, 9)])
def test_spatial_pyramid_pool_has_a_fixed_length_and_equals_adaptive_pooling(size):
    features = torch.randn(2, 3, *size)
    levels = (1, 2, 4)
    pooled = spatial_pyramid_pool(features, levels)
    assert pooled.shape == (2, 3 * (1 + 4 + 16))
    expected = torch.cat([F.adaptive_max_pool2d(features, n).flatten(1) for n in levels], dim=1)
    torch.testing.assert_close(pooled, expected)


def test_class_wise_nms_equals_torchvision_batched_nms():
    gen = torch.Generator().manual_seed(3)
    corner = torch.rand(120, 2, generator=gen) * 30
    boxes = torch.cat([corner, corner + 5 + torch.rand(120, 2, generator=gen) * 20], 1)
    scores, labels = torch.rand(120, generator=gen), torch.randint(1, 4, (120,), generator=gen)
    for threshold in (0.2, 0.5, 0.8):
        mine = class_wise_nms(boxes, scores, labels, threshold)
        assert torch.equal(mine, torchvision.ops.batched_nms(boxes, scores, labels, threshold))
    assert class_wise_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0), 0.5).numel() == 0


def test_anchor_labels_follow_faster_rcnn_thresholds_and_best_anchor_rule():
    anchors = torch.tensor([[0.0, 0, 10, 10], [1, 0, 11, 10], [4, 0, 14, 10], [30, 30, 40, 40],
                            [50, 50, 52, 52]])  # fmt: skip
    targets = torch.tensor([[0.0, 0, 10, 10], [49, 49, 60, 60]])
    iou = torchvision.ops.box_iou(anchors, targets).max(1).values
    labels = label_anchors(anchors, targets)
    # IoU 1 -> positive; 0.82 -> positive; 0.43 -> ignored; 0 -> negative; the last one
    # overlaps its target by only 4/121 but is that target's best anchor -> positive
    assert iou[2] > 0.3 and iou[4] < 0.3
    assert labels.tolist() == [1, 1, -1, 0, 1]
    assert label_anchors(anchors, torch.zeros(0, 4)).tolist() == [0] * 5


def test_the_rpn_loss_is_torchvision_s_on_the_same_sample():
    from torchvision.models.detection.rpn import RegionProposalNetwork

    from cnnbook.boxes import (
        encode_boxes,
        generate_anchors,
        grid_anchors,
        label_anchors,
        rpn_loss,
        sample_anchors,
    )

    anchors = grid_anchors(generate_anchors((8, 16, 32), (0.5, 1.0, 2.0)), (8, 8), (8, 8))
    targets = torch.tensor([[10.0, 12, 30, 40], [35, 5, 60, 25]])
    labels = label_anchors(anchors, targets)
    gen = torch.Generator().manual_seed(0)
    positive, negative = sample_anchors(labels, batch_size=64, generator=gen)
    assert not (positive & negative).any() and (labels[positive] == 1).all()
    assert (labels[negative] == 0).all() and int(positive.sum() + negative.sum()) == 64
    logits, codes = (
        torch.randn(len(anchors), generator=gen),
        torch.randn(len(anchors), 4, generator=gen),
    )
    reference = RegionProposalNetwork(
        None, None, 0.7, 0.3, 64, 0.5, {"testing": 1}, {"testing": 1}, 0.7
    )
    reference.fg_bg_sampler = lambda _: ([positive], [negative])
    matched = targets[box_iou(anchors, targets).argmax(1)]
    theirs = reference.compute_loss(
        logits, codes, [labels.float()], [encode_boxes(matched, anchors)]
    )
    torch.testing.assert_close(
        torch.stack(rpn_loss(logits, codes, anchors, targets, positive, negative)),
        torch.stack(theirs),
    )


def test_the_sample_caps_positives_at_their_share():
    from cnnbook.boxes import sample_anchors

    labels = torch.tensor([1] * 200 + [0] * 300 + [-1] * 50)
    positive, negative = sample_anchors(
        labels, batch_size=256, generator=torch.Generator().manual_seed(1)
    )
    assert int(positive.sum()) == 128 and int(negative.sum()) == 128
