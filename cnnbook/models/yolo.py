"""A YOLO-style detector small enough to train on a CPU in seconds (Chapter 8).

The paper's network is 24 convolutional layers and two dense ones, reading 448-pixel
images into a 7 x 7 grid. Here three stride-2 poolings turn a 64-pixel scene into an
8 x 8 grid of 8-pixel cells, and a 1 x 1 convolution produces each cell's B boxes and C
class scores: the same output layout, fully convolutional.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def _conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.LeakyReLU(0.1)]  # fmt: skip


def tiny_yolo(
    boxes_per_cell: int = 2, num_classes: int = 3, widths: Sequence[int] = (16, 32, 64, 128)
) -> nn.Sequential:
    """Output (N, boxes_per_cell * 5 + num_classes, H / 8, W / 8). Leaky ReLU with slope
    0.1, as in YOLO; batch normalization, which YOLO v2 added, lets it train fast."""
    w1, w2, w3, w4 = widths
    return nn.Sequential(*_conv(3, w1), nn.MaxPool2d(2), *_conv(w1, w2), nn.MaxPool2d(2),
                         *_conv(w2, w3), nn.MaxPool2d(2), *_conv(w3, w4), *_conv(w4, w4),
                         nn.Conv2d(w4, boxes_per_cell * 5 + num_classes, 1))  # fmt: skip
