"""DenseNet (Huang et al., 2017): every layer sees the concatenation of all earlier maps."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


def dense_layer(in_channels: int, growth_rate: int, bn_size: int | None = None) -> nn.Sequential:
    """One composite layer H: BN-ReLU-Conv3x3 producing `growth_rate` maps. With
    `bn_size` (DenseNet-B) a BN-ReLU-Conv1x1 first reduces the input to
    bn_size x growth_rate maps, so the 3x3 conv's cost stops growing with depth."""
    layers: list[nn.Module] = []
    if bn_size is not None:
        layers += [
            nn.BatchNorm2d(in_channels), nn.ReLU(),
            nn.Conv2d(in_channels, bn_size * growth_rate, 1, bias=False),
        ]  # fmt: skip
        in_channels = bn_size * growth_rate
    layers += [
        nn.BatchNorm2d(in_channels), nn.ReLU(),
        nn.Conv2d(in_channels, growth_rate, 3, padding=1, bias=False),
    ]  # fmt: skip
    return nn.Sequential(*layers)


class DenseBlock(nn.Module):
    """`num_layers` dense layers; layer i sees in_channels + i x growth_rate maps, and the
    block returns all of them concatenated: in_channels + num_layers x growth_rate."""

    def __init__(self, in_channels: int, growth_rate: int, num_layers: int,
                 bn_size: int | None = None):  # fmt: skip
        super().__init__()
        self.layers = nn.ModuleList(
            dense_layer(in_channels + i * growth_rate, growth_rate, bn_size)
            for i in range(num_layers)
        )
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)


class Transition(nn.Module):
    """Between dense blocks: BN, ReLU, a 1x1 conv that cuts the channels, and a 2x2
    average pool that halves height and width."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.pool = nn.AvgPool2d(2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(torch.relu(self.norm(x))))


def densenet(growth_rate: int, block_config: tuple[int, ...], init_channels: int,
             bn_size: int | None = 4, compression: float = 0.5,
             num_classes: int = 1000) -> nn.Sequential:  # fmt: skip
    """An ImageNet DenseNet-BC: 7x7 stem, dense blocks with transitions that keep
    `compression` of the channels, then BN-ReLU, global average pooling, linear."""
    stages: OrderedDict[str, nn.Module] = OrderedDict(
        stem=nn.Sequential(
            nn.Conv2d(3, init_channels, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(init_channels), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1),
        )
    )  # fmt: skip
    channels = init_channels
    for index, num_layers in enumerate(block_config):
        block = DenseBlock(channels, growth_rate, num_layers, bn_size)
        stages[f"dense{index + 1}"] = block
        channels = block.out_channels
        if index < len(block_config) - 1:
            reduced = int(channels * compression)
            stages[f"transition{index + 1}"] = Transition(channels, reduced)
            channels = reduced
    stages["head"] = nn.Sequential(
        nn.BatchNorm2d(channels), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(channels, num_classes),
    )  # fmt: skip
    return nn.Sequential(stages)


def densenet121(num_classes: int = 1000) -> nn.Sequential:
    return densenet(32, (6, 12, 24, 16), 64, bn_size=4, num_classes=num_classes)
