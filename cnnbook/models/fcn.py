"""Small fully convolutional networks for the scenes of Chapter 7: FCN-32s/16s/8s and a U-Net.

The FCNs share one VGG-like backbone whose five stages each end in a 2x2 max pool, so
pool3, pool4 and pool5 sit at strides 8, 16 and 32 as in Long et al. A 64x64 scene
leaves pool5 at 2x2: FCN-32s must paint 32x32 blocks from it, which is exactly the
coarseness the skips of FCN-16s and FCN-8s repair. Every upsampling is a transposed
convolution initialised to bilinear interpolation and then learned. (The paper learns the
2x ones and fixes the final one; with networks this small, a learned final upsampling,
which can also mix the class scores, scored higher on held-out scenes while this chapter
was written, so here it learns too.)
"""

from __future__ import annotations

import torch
from torch import nn

from cnnbook.upsampling import bilinear_kernel


def _conv_block(c_in: int, c_out: int, convs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [
            nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


def bilinear_upsampler(channels: int, factor: int) -> nn.ConvTranspose2d:
    """A transposed convolution that starts as bilinear upsampling by `factor`, channel by
    channel (each output channel reads only its own input channel)."""
    kernel = bilinear_kernel(factor)
    size = kernel.shape[-1]
    layer = nn.ConvTranspose2d(
        channels, channels, size, stride=factor, padding=(size - factor) // 2, bias=False
    )
    with torch.no_grad():
        layer.weight.zero_()
        for c in range(channels):
            layer.weight[c, c] = kernel
    return layer


class FCN(nn.Module):
    """FCN-32s, -16s or -8s (`stride` 32, 16 or 8) on a five-stage backbone.

    The head's 1x1 "score" layers turn features into class scores at each stride; the
    coarse scores are upsampled 2x and added to the next finer scores before the final
    upsampling to the input's size.
    """

    def __init__(
        self,
        num_classes: int,
        stride: int = 8,
        widths: tuple[int, ...] = (8, 16, 32, 64, 64),
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if stride not in (8, 16, 32):
            raise ValueError(f"stride must be 8, 16 or 32, not {stride}")
        self.stride = stride
        channels = (in_channels, *widths)
        self.stages = nn.ModuleList(
            nn.Sequential(_conv_block(channels[i], channels[i + 1], 2), nn.MaxPool2d(2))
            for i in range(5)
        )
        # fc6/fc7 of the classifier, convolutionalized: they see pool5's whole 2x2 map
        self.head = _conv_block(widths[4], 2 * widths[4], 1)
        self.score_pool5 = nn.Conv2d(2 * widths[4], num_classes, 1)
        if stride <= 16:
            self.score_pool4 = nn.Conv2d(widths[3], num_classes, 1)
            self.up_pool5 = bilinear_upsampler(num_classes, 2)
        if stride == 8:
            self.score_pool3 = nn.Conv2d(widths[2], num_classes, 1)
            self.up_pool4 = bilinear_upsampler(num_classes, 2)
        self.upsample = bilinear_upsampler(num_classes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pools = []
        for stage in self.stages:
            x = stage(x)
            pools.append(x)
        score = self.score_pool5(self.head(pools[4]))  # stride 32
        if self.stride <= 16:
            score = self.up_pool5(score) + self.score_pool4(pools[3])  # stride 16
        if self.stride == 8:
            score = self.up_pool4(score) + self.score_pool3(pools[2])  # stride 8
        return self.upsample(score)


class UNet(nn.Module):
    """A small U-Net: the decoder concatenates the encoder's maps at each resolution
    (where FCN adds class scores) and refines them with two convolutions."""

    def __init__(
        self, num_classes: int, widths: tuple[int, ...] = (8, 16, 32, 64), in_channels: int = 3
    ) -> None:
        super().__init__()
        channels = (in_channels, *widths)
        self.down = nn.ModuleList(
            _conv_block(channels[i], channels[i + 1], 2) for i in range(len(widths))
        )
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
            for i in reversed(range(len(widths) - 1))
        )
        self.refine = nn.ModuleList(
            _conv_block(2 * widths[i], widths[i], 2) for i in reversed(range(len(widths) - 1))
        )
        self.score = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        for up, refine, skip in zip(self.up, self.refine, reversed(skips[:-1]), strict=True):
            x = refine(torch.cat([skip, up(x)], dim=1))
        return self.score(x)
