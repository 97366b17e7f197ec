"""Four small networks for 28x28 grey images, one per family, for a fair race.

They share a stem (a 3x3 conv to 16 channels at full resolution, then a 2x2 max pool)
and differ only in what follows, so a difference in the race is the family's, not the
stem's. Sizes were chosen so that all four cost about the same to train.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from torch import nn

from cnnbook.models.dense import DenseBlock, Transition
from cnnbook.models.inception import InceptionBlock
from cnnbook.models.residual import BasicBlock


def _conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def _stem() -> nn.Sequential:
    return nn.Sequential(*_conv_bn(1, 16), nn.MaxPool2d(2))  # 16 @ 14x14


def _gap_head(channels: int, num_classes: int) -> nn.Sequential:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))


def small_vgg(num_classes: int = 10) -> nn.Sequential:
    """3x3 conv-BN-ReLU layers and 2x2 max pools, then a fully connected head on 3x3 maps."""
    return nn.Sequential(OrderedDict(
        stem=_stem(),
        block2=nn.Sequential(*_conv_bn(16, 32), *_conv_bn(32, 32), nn.MaxPool2d(2)),  # 32 @ 7x7
        block3=nn.Sequential(*_conv_bn(32, 64), nn.MaxPool2d(2)),  # 64 @ 3x3
        head=nn.Sequential(nn.Flatten(), nn.Linear(64 * 3 * 3, num_classes)),
    ))  # fmt: skip


def small_inception(num_classes: int = 10) -> nn.Sequential:
    """Two Inception blocks (with ReLU after every conv, as in GoogLeNet, plus a batch norm
    on the block outputs) and global average pooling."""
    a = InceptionBlock(16, 8, 12, 24, 4, 8, 8)  # 48 @ 14x14
    b = InceptionBlock(48, 32, 32, 64, 8, 16, 16)  # 128 @ 7x7
    return nn.Sequential(OrderedDict(
        stem=_stem(),
        inception_a=nn.Sequential(a, nn.BatchNorm2d(a.out_channels), nn.MaxPool2d(2)),
        inception_b=nn.Sequential(b, nn.BatchNorm2d(b.out_channels)),
        head=_gap_head(b.out_channels, num_classes),
    ))  # fmt: skip


def small_resnet(num_classes: int = 10) -> nn.Sequential:
    """Three basic residual blocks (the second and third halve the size through a
    projection shortcut) and global average pooling."""
    return nn.Sequential(OrderedDict(
        stem=_stem(),
        layer1=BasicBlock(16, 16),  # 16 @ 14x14
        layer2=BasicBlock(16, 32, stride=2),  # 32 @ 7x7
        layer3=BasicBlock(32, 64, stride=2),  # 64 @ 4x4
        head=_gap_head(64, num_classes),
    ))  # fmt: skip


def small_densenet(num_classes: int = 10) -> nn.Sequential:
    """Two dense blocks of three layers (growth rates 8 and 16) with a transition
    between them, then BN-ReLU and global average pooling."""
    first = DenseBlock(16, 8, 3)  # 40 @ 14x14
    second = DenseBlock(24, 16, 3)  # 72 @ 7x7
    return nn.Sequential(OrderedDict(
        stem=_stem(),
        dense1=first,
        transition=Transition(first.out_channels, 24),
        dense2=second,
        head=nn.Sequential(nn.BatchNorm2d(second.out_channels), nn.ReLU(),
                           *_gap_head(second.out_channels, num_classes)),
    ))  # fmt: skip


SMALL_NETS: dict[str, Callable[[], nn.Sequential]] = {
    "VGG-style": small_vgg,
    "Inception-style": small_inception,
    "ResNet-style": small_resnet,
    "DenseNet-style": small_densenet,
}
