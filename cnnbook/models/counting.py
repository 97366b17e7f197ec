"""Parameter counts by formula, layer by layer, from the papers' tables.

Nothing here builds a module: each function adds up k*k*C_in*C_out weights (+ C_out
biases), 2C for a batch norm's scale and shift, and n_in*n_out (+ n_out) for a linear
layer. Chapter 6 asserts these sums equal torchvision's definitions, which is how we know
the formulas, and the reader's understanding of the architectures, are right.
"""

from __future__ import annotations

from collections.abc import Sequence

from cnnbook.models.classic import VGG16
from cnnbook.models.inception import GOOGLENET_BLOCKS


def conv(c_in: int, c_out: int, k: int, bias: bool = True, groups: int = 1) -> int:
    """A k x k convolution: each of the c_out filters sees c_in / groups channels."""
    return c_out * (c_in // groups) * k * k + (c_out if bias else 0)


def linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def batch_norm(c: int) -> int:
    """A batch norm learns a scale and a shift per channel (its running statistics are
    buffers, not parameters)."""
    return 2 * c


def alexnet_params(widths: Sequence[int] = (96, 256, 384, 384, 256), groups: int = 2,
                   num_classes: int = 1000) -> int:  # fmt: skip
    """AlexNet: five convolutions (11, 5, 3, 3, 3) and three FC layers on 6x6 maps.
    The paper's widths and two-GPU `groups=2` are the defaults; torchvision's single-GPU
    variant is ``widths=(64, 192, 384, 256, 256), groups=1``."""
    w1, w2, w3, w4, w5 = widths
    return (conv(3, w1, 11) + conv(w1, w2, 5, groups=groups) + conv(w2, w3, 3)
            + conv(w3, w4, 3, groups=groups) + conv(w4, w5, 3, groups=groups)
            + linear(w5 * 6 * 6, 4096) + linear(4096, 4096)
            + linear(4096, num_classes))  # fmt: skip


def vgg_params(config: Sequence[int | str] = VGG16, in_channels: int = 3,
               num_classes: int = 1000) -> int:  # fmt: skip
    """VGG: 3x3 convolutions (with bias) and three FC layers on the 7x7 maps of a 224 input."""
    total, channels = 0, in_channels
    for item in config:
        if item != "M":
            total += conv(channels, int(item), 3)
            channels = int(item)
    return total + linear(channels * 7 * 7, 4096) + linear(4096, 4096) + linear(4096, num_classes)


def googlenet_params(torchvision_variant: bool = False, aux: bool = False,
                     num_classes: int = 1000) -> int:  # fmt: skip
    """GoogLeNet. The paper's convolutions carry biases; torchvision's follow each
    convolution with a batch norm instead (no bias) and, to stay compatible with the
    weights it ported, uses a 3x3 kernel in the branch the paper calls 5x5."""

    def unit(c_in: int, c_out: int, k: int) -> int:
        if torchvision_variant:
            return conv(c_in, c_out, k, bias=False) + batch_norm(c_out)
        return conv(c_in, c_out, k)

    big = 3 if torchvision_variant else 5
    total = unit(3, 64, 7) + unit(64, 64, 1) + unit(64, 192, 3)
    for c_in, c1, r3, c3, r5, c5, pool in GOOGLENET_BLOCKS.values():
        total += unit(c_in, c1, 1) + unit(c_in, r3, 1) + unit(r3, c3, 3)
        total += unit(c_in, r5, 1) + unit(r5, c5, big) + unit(c_in, pool, 1)
    total += linear(1024, num_classes)
    if aux:  # after 4a (512 channels) and 4d (528): 1x1 conv to 128, FC 2048 -> 1024 -> classes
        for c_in in (512, 528):
            total += unit(c_in, 128, 1) + linear(128 * 4 * 4, 1024) + linear(1024, num_classes)
    return total


def resnet_params(layers: Sequence[int], bottleneck: bool, num_classes: int = 1000) -> int:
    """ResNet: convolutions without bias, each followed by a batch norm; a projection
    shortcut (1x1 conv + BN) where a block changes the stride or the channel count."""
    expansion = 4 if bottleneck else 1
    total = conv(3, 64, 7, bias=False) + batch_norm(64)
    channels = 64
    for stage, (count, width) in enumerate(zip(layers, (64, 128, 256, 512), strict=True)):
        for i in range(count):
            out = width * expansion
            if bottleneck:
                total += conv(channels, width, 1, bias=False) + batch_norm(width)
                total += conv(width, width, 3, bias=False) + batch_norm(width)
                total += conv(width, out, 1, bias=False) + batch_norm(out)
            else:
                total += conv(channels, width, 3, bias=False) + batch_norm(width)
                total += conv(width, width, 3, bias=False) + batch_norm(width)
            if (stage > 0 and i == 0) or channels != out:
                total += conv(channels, out, 1, bias=False) + batch_norm(out)
            channels = out
    return total + linear(channels, num_classes)


def densenet_params(growth_rate: int = 32, block_config: Sequence[int] = (6, 12, 24, 16),
                    init_channels: int = 64, bn_size: int = 4, compression: float = 0.5,
                    num_classes: int = 1000) -> int:  # fmt: skip
    """DenseNet-BC: per layer BN + 1x1 conv to bn_size*k + BN + 3x3 conv to k; per
    transition BN + 1x1 conv keeping `compression` of the channels; a final BN."""
    total = conv(3, init_channels, 7, bias=False) + batch_norm(init_channels)
    channels = init_channels
    for index, num_layers in enumerate(block_config):
        for _ in range(num_layers):
            wide = bn_size * growth_rate
            total += batch_norm(channels) + conv(channels, wide, 1, bias=False)
            total += batch_norm(wide) + conv(wide, growth_rate, 3, bias=False)
            channels += growth_rate
        if index < len(block_config) - 1:
            reduced = int(channels * compression)
            total += batch_norm(channels) + conv(channels, reduced, 1, bias=False)
            channels = reduced
    return total + batch_norm(channels) + linear(channels, num_classes)


def inception_macs(in_channels: int, height: int, width: int, c1: int, c3_reduce: int,
                   c3: int, c5_reduce: int, c5: int, pool_proj: int,
                   reductions: bool = True) -> int:  # fmt: skip
    """Multiply-accumulates of an Inception block's convolutions on one input.

    A k x k convolution that keeps the H x W map costs k*k*C_in*C_out per pixel; biases,
    ReLUs, the max pool and the concatenation are left out, as the papers leave them
    out. Without `reductions` the 3x3 and 5x5 convolutions read all `in_channels` (the
    naive block GoogLeNet improves on); the pool projection stays either way, so the
    output has the same channels and only the cost differs.
    """
    per_pixel = in_channels * c1 + in_channels * pool_proj
    if reductions:
        per_pixel += in_channels * c3_reduce + 9 * c3_reduce * c3
        per_pixel += in_channels * c5_reduce + 25 * c5_reduce * c5
    else:
        per_pixel += 9 * in_channels * c3 + 25 * in_channels * c5
    return per_pixel * height * width
