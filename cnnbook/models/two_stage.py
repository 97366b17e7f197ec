"""A two-stage detector assembled from Chapter 8's parts, to time against YOLO.

The notes say YOLO is faster than Faster R-CNN. A fair measurement runs both on the same
backbone and input: `TwoStageDetector` puts Faster R-CNN's second half (a Region Proposal
Network over the backbone's feature map, proposal selection by objectness and NMS, RoI
pooling and a fully connected head) on the backbone of `tiny_yolo`, so the only
difference from YOLO is the second stage. It is not trained: its time does not depend on
its weights, except through how many proposals survive NMS, which is capped as in the
paper (300 at test time).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torchvision
from torch import nn

from cnnbook.boxes import decode_boxes, generate_anchors, grid_anchors


class TwoStageDetector(nn.Module):
    """backbone -> RPN (3x3 conv, then 2A objectness scores and 4A box offsets per
    location, A anchors) -> the best proposals after NMS -> RoI pooling -> a head that
    scores num_classes + 1 classes (background first) and regresses a box per class."""

    def __init__(
        self,
        backbone: nn.Module,
        channels: int,
        num_classes: int,
        stride: int = 8,
        sizes: Sequence[float] = (8, 16, 32),
        aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
        roi_size: int = 4,
        proposals: int = 300,
        hidden: int = 256,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.stride, self.roi_size, self.proposals = stride, roi_size, proposals
        self.register_buffer("cell_anchors", generate_anchors(sizes, aspect_ratios))
        anchors = len(self.cell_anchors)
        self.rpn_conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.rpn_scores = nn.Conv2d(channels, 2 * anchors, 1)
        self.rpn_offsets = nn.Conv2d(channels, 4 * anchors, 1)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * roi_size * roi_size, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
        )
        self.class_scores = nn.Linear(hidden, num_classes + 1)
        self.box_offsets = nn.Linear(hidden, 4 * num_classes)

    def propose(self, features: torch.Tensor, image_size: int) -> list[torch.Tensor]:
        """Per image, the proposals of the RPN: every anchor decoded by its offsets,
        clipped to the image, ranked by objectness, thinned by NMS at IoU 0.7 and cut to
        `self.proposals`, as Faster R-CNN does at test time."""
        hidden = torch.relu(self.rpn_conv(features))
        n, _, rows, cols = features.shape
        anchors = grid_anchors(self.cell_anchors, (rows, cols), (self.stride, self.stride))
        # (N, A * k, H, W) -> (N, H * W * A, k): location-major, as grid_anchors orders them
        scores = self.rpn_scores(hidden).permute(0, 2, 3, 1).reshape(n, -1, 2)
        offsets = self.rpn_offsets(hidden).permute(0, 2, 3, 1).reshape(n, -1, 4)
        objectness = scores.softmax(-1)[..., 1]
        proposals = []
        for image in range(n):
            boxes = decode_boxes(offsets[image], anchors.to(offsets.device))
            boxes = boxes.clamp(0, image_size)
            keep = torchvision.ops.nms(boxes, objectness[image], 0.7)[: self.proposals]
            proposals.append(boxes[keep])
        return proposals

    def forward(
        self, images: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """(class logits (P, C + 1), box offsets (P, 4C), proposals per image) for the P
        proposals of the whole batch."""
        features = self.backbone(images)
        proposals = self.propose(features, images.shape[-1])
        pooled = torchvision.ops.roi_pool(
            features, proposals, self.roi_size, spatial_scale=1 / self.stride
        )
        hidden = self.head(pooled)
        return self.class_scores(hidden), self.box_offsets(hidden), proposals


def yolo_backbone(detector: nn.Sequential) -> nn.Sequential:
    """`tiny_yolo` without its last 1x1 convolution: the feature map both detectors read."""
    return detector[:-1]
