"""LeNet-5, AlexNet, VGG and the Network-in-Network block: the plain stacks.

These networks are straight chains of layers, so each is an `nn.Sequential` whose named
stages follow the paper's own names (C1, S2, ... for LeNet-5; conv1 ... fc8 for AlexNet).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

# VGG-16, configuration D of Simonyan & Zisserman: channels of each 3x3 conv, "M" a 2x2 pool.
VGG16: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                                512, 512, 512, "M", 512, 512, 512, "M")  # fmt: skip


def lenet5(num_classes: int = 10) -> nn.Sequential:
    """LeNet-5 for 32x32 grey images (LeCun et al., 1998), as textbooks redraw it.

    Two deliberate simplifications of the paper: C3 connects to all six S2 maps (the
    paper used a sparse table to save parameters and break symmetry), and the
    subsampling layers are plain average pools (the paper gave each a trainable
    coefficient and bias). The output is a linear layer instead of RBF units.
    """
    return nn.Sequential(OrderedDict(
        C1=nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh()),      # 6 @ 28x28
        S2=nn.AvgPool2d(2),                                   # 6 @ 14x14
        C3=nn.Sequential(nn.Conv2d(6, 16, 5), nn.Tanh()),     # 16 @ 10x10
        S4=nn.AvgPool2d(2),                                   # 16 @ 5x5
        C5=nn.Sequential(nn.Conv2d(16, 120, 5), nn.Tanh()),   # 120 @ 1x1
        F6=nn.Sequential(nn.Flatten(), nn.Linear(120, 84), nn.Tanh()),
        output=nn.Linear(84, num_classes),
    ))  # fmt: skip


def alexnet(num_classes: int = 1000, groups: int = 2) -> nn.Sequential:
    """AlexNet as in Krizhevsky et al. (2012), for 227x227 RGB inputs.

    `groups=2` reproduces the two-GPU split: conv2, conv4 and conv5 only see the maps
    computed on their own GPU, which halves their weights. Local response normalization
    follows conv1 and conv2, and the 3x3 pools with stride 2 overlap.
    """

    def conv(cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, g: int = 1):
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride, padding, groups=g), nn.ReLU())

    def lrn():  # a fresh module per use: a shared one would confuse per-layer hooks
        # the paper's alpha = 1e-4 multiplies the plain sum; PyTorch divides alpha by size
        return nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)

    return nn.Sequential(OrderedDict(
        conv1=nn.Sequential(*conv(3, 96, 11, stride=4), lrn(), nn.MaxPool2d(3, 2)),
        conv2=nn.Sequential(*conv(96, 256, 5, padding=2, g=groups), lrn(), nn.MaxPool2d(3, 2)),
        conv3=conv(256, 384, 3, padding=1),
        conv4=conv(384, 384, 3, padding=1, g=groups),
        conv5=nn.Sequential(*conv(384, 256, 3, padding=1, g=groups), nn.MaxPool2d(3, 2)),
        fc6=nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU()),
        fc7=nn.Sequential(nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU()),
        fc8=nn.Linear(4096, num_classes),
    ))  # fmt: skip


def vgg(
    config: Sequence[int | str] = VGG16,
    num_classes: int = 1000,
    in_channels: int = 3,
    hidden: int = 4096,
    batch_norm: bool = False,
) -> nn.Sequential:
    """A VGG network: 3x3 convolutions with stride 1 and padding 1 (the size stays),
    2x2 max pools with stride 2 (the size halves), then three fully connected layers.

    The stages are named block1, block2, ... (one per pool) and classifier. For a 224x224
    input the last block leaves 512 maps of 7x7, the 25,088 inputs of the first FC layer.
    """
    stages: OrderedDict[str, nn.Module] = OrderedDict()
    layers: list[nn.Module] = []
    channels = in_channels
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
            stages[f"block{len(stages) + 1}"] = nn.Sequential(*layers)
            layers = []
            continue
        layers.append(nn.Conv2d(channels, int(item), 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(int(item)))
        layers.append(nn.ReLU())
        channels = int(item)
    spatial = 224 // 2 ** config.count("M")
    stages["classifier"] = nn.Sequential(
        nn.Flatten(),
        nn.Linear(channels * spatial * spatial, hidden), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(hidden, num_classes),
    )  # fmt: skip
    return nn.Sequential(stages)


def nin_block(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
              padding: int = 0) -> nn.Sequential:  # fmt: skip
    """A Network-in-Network block (Lin et al., 2014): one spatial convolution followed by
    two 1x1 convolutions, i.e. a small MLP applied at every pixel across channels."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 1), nn.ReLU(),
    )  # fmt: skip
