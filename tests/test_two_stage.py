"""The two-stage detector timed against YOLO is Faster R-CNN's second half on YOLO's
backbone: its RPN has 2A scores and 4A offsets per location, its proposals are NMS-thinned
and capped, and its head scores every proposal."""

import torch

from cnnbook.boxes import box_iou
from cnnbook.models.two_stage import TwoStageDetector, yolo_backbone
from cnnbook.models.yolo import tiny_yolo


def detector(proposals: int = 300) -> TwoStageDetector:
    torch.manual_seed(0)
    return TwoStageDetector(yolo_backbone(tiny_yolo(2, 3)), 128, 3, proposals=proposals).eval()


def test_the_backbone_is_yolo_s_without_its_output_layer():
    with torch.no_grad():
        features = yolo_backbone(tiny_yolo(2, 3))(torch.zeros(1, 3, 64, 64))
    assert features.shape == (1, 128, 8, 8)


def test_the_rpn_has_two_scores_and_four_offsets_per_anchor():
    model = detector()
    assert model.rpn_scores.out_channels == 2 * 9 and model.rpn_offsets.out_channels == 4 * 9


def test_proposals_are_inside_the_image_capped_and_thinned_by_nms():
    model = detector(proposals=50)
    with torch.no_grad():
        logits, offsets, proposals = model(torch.randn(2, 3, 64, 64))
    assert len(proposals) == 2 and all(0 < len(p) <= 50 for p in proposals)
    for boxes in proposals:
        assert boxes.min() >= 0 and boxes.max() <= 64
        iou = box_iou(boxes, boxes).fill_diagonal_(0)
        assert iou.max() <= 0.7
    total = sum(len(p) for p in proposals)
    assert logits.shape == (total, 4) and offsets.shape == (total, 12)
