"""GoogLeNet (Szegedy et al., 2015): Inception blocks and auxiliary classifiers."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

# (in, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj) of each block, Table 1 of the paper.
GOOGLENET_BLOCKS: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


class InceptionBlock(nn.Module):
    """Four branches side by side, concatenated along channels: 1x1; 1x1 then 3x3;
    1x1 then 5x5; 3x3 max-pool then 1x1. The 1x1 "reduce" convolutions shrink the
    channels before the expensive 3x3 and 5x5 convolutions see them; padding keeps every
    branch at the input's height and width so the outputs can be stacked.
    """

    def __init__(self, in_channels: int, c1: int, c3_reduce: int, c3: int,
                 c5_reduce: int, c5: int, pool_proj: int):  # fmt: skip
        super().__init__()
        self.branch1 = nn.Sequential(nn.Conv2d(in_channels, c1, 1), nn.ReLU())
        self.branch2 = nn.Sequential(
            nn.Conv2d(in_channels, c3_reduce, 1), nn.ReLU(),
            nn.Conv2d(c3_reduce, c3, 3, padding=1), nn.ReLU(),
        )  # fmt: skip
        self.branch3 = nn.Sequential(
            nn.Conv2d(in_channels, c5_reduce, 1), nn.ReLU(),
            nn.Conv2d(c5_reduce, c5, 5, padding=2), nn.ReLU(),
        )  # fmt: skip
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(in_channels, pool_proj, 1), nn.ReLU()
        )
        self.out_channels = c1 + c3 + c5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([branch(x) for branch in branches], dim=1)


class InceptionAux(nn.Module):
    """An auxiliary classifier: a small head on an intermediate 14x14 map whose loss
    (weighted 0.3) injects gradient into the middle of the network during training.
    It is dropped at inference."""

    def __init__(self, in_channels: int, num_classes: int = 1000):
        super().__init__()
        self.head = nn.Sequential(
            nn.AvgPool2d(5, stride=3), nn.Conv2d(in_channels, 128, 1), nn.ReLU(), nn.Flatten(),
            nn.Linear(128 * 4 * 4, 1024), nn.ReLU(), nn.Dropout(0.7), nn.Linear(1024, num_classes),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)


def googlenet(num_classes: int = 1000) -> nn.Sequential:
    """GoogLeNet's inference path for 224x224 RGB inputs (the auxiliary heads, which
    branch off after blocks 4a and 4d, are `InceptionAux` modules used only in training)."""

    def blocks(*names: str) -> list[InceptionBlock]:
        return [InceptionBlock(*GOOGLENET_BLOCKS[name]) for name in names]

    # Fresh modules per use: a module shared between places is listed only once by
    # `named_children`, and hooks on it fire at every place, which garbles a layer table.
    def pool():
        return nn.MaxPool2d(3, stride=2, ceil_mode=True)

    def lrn():
        return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)

    return nn.Sequential(OrderedDict(
        stem=nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3), nn.ReLU(), pool(), lrn(),
            nn.Conv2d(64, 64, 1), nn.ReLU(), nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(),
            lrn(), pool(),
        ),
        inception3=nn.Sequential(*blocks("3a", "3b"), pool()),
        inception4=nn.Sequential(*blocks("4a", "4b", "4c", "4d", "4e"), pool()),
        inception5=nn.Sequential(*blocks("5a", "5b")),
        head=nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.4),
                           nn.Linear(1024, num_classes)),
    ))  # fmt: skip
