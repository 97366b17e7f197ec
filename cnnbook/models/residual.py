"""ResNet (He et al., 2016): plain and residual blocks, ImageNet and CIFAR-style nets.

`PlainBlock` and `BasicBlock` differ in one line, the `+ self.shortcut(x)`, so the
degradation experiment compares networks that are otherwise identical.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


def _projection(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """The shortcut W_s: identity when shapes agree, else a strided 1x1 conv + BN."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class PlainBlock(nn.Module):
    """Two 3x3 conv-BN layers with ReLU, no shortcut: the block of a "plain" network."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.residual(x))


class BasicBlock(PlainBlock):
    """ResNet's basic block: relu(F(x) + x), with F the plain block's two layers and a
    projection shortcut when the stride or the channel count changes the shape."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__(in_channels, out_channels, stride)
        self.shortcut = _projection(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.residual(x) + self.shortcut(x))


class Bottleneck(nn.Module):
    """ResNet-50's block: 1x1 reduces to `mid_channels`, 3x3 works there (with the
    stride), 1x1 expands to 4 x `mid_channels`; plus the shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, mid_channels: int, stride: int = 1):
        super().__init__()
        out_channels = mid_channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, mid_channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid_channels)
        self.conv2 = nn.Conv2d(mid_channels, mid_channels, 3, stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid_channels)
        self.conv3 = nn.Conv2d(mid_channels, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut = _projection(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return F.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


def resnet(block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, ...],
           num_classes: int = 1000) -> nn.Sequential:  # fmt: skip
    """An ImageNet ResNet: 7x7 stem and max-pool, four stages of `layers` blocks with 64,
    128, 256 and 512 base channels (the first block of stages 2-4 halves the size),
    global average pooling and one linear layer."""
    expansion = getattr(block, "expansion", 1)
    stages: OrderedDict[str, nn.Module] = OrderedDict(
        stem=nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
    )
    channels = 64
    for index, (count, width) in enumerate(zip(layers, (64, 128, 256, 512), strict=True)):
        blocks = []
        for i in range(count):
            stride = 2 if index > 0 and i == 0 else 1
            blocks.append(block(channels, width, stride))
            channels = width * expansion
        stages[f"layer{index + 1}"] = nn.Sequential(*blocks)
    stages["head"] = nn.Sequential(
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)
    )
    return nn.Sequential(stages)


def resnet18(num_classes: int = 1000) -> nn.Sequential:
    return resnet(BasicBlock, (2, 2, 2, 2), num_classes)


def resnet50(num_classes: int = 1000) -> nn.Sequential:
    return resnet(Bottleneck, (3, 4, 6, 3), num_classes)


def cifar_net(depth: int, residual: bool, widths: tuple[int, int, int] = (16, 32, 64),
              in_channels: int = 1, num_classes: int = 10) -> nn.Sequential:  # fmt: skip
    """He et al.'s CIFAR networks with depth = 6n + 2 weight layers: a 3x3 stem, three
    stages of n two-layer blocks (the size halves at each new stage), global average
    pooling and a linear layer. `residual` picks `BasicBlock` over `PlainBlock`."""
    if (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2, got {depth}")
    n = (depth - 2) // 6
    block = BasicBlock if residual else PlainBlock
    stages: OrderedDict[str, nn.Module] = OrderedDict(
        stem=nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]), nn.ReLU(),
        )
    )  # fmt: skip
    channels = widths[0]
    for index, width in enumerate(widths):
        blocks = []
        for i in range(n):
            blocks.append(block(channels, width, 2 if index > 0 and i == 0 else 1))
            channels = width
        stages[f"stage{index + 1}"] = nn.Sequential(*blocks)
    stages["head"] = nn.Sequential(
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)
    )
    return nn.Sequential(stages)
