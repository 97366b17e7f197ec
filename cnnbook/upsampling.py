"""Chapter 7's operations written out: convolutionalization, transposed convolution and
its relatives, each small enough to read and each checked against PyTorch in the tests.

A transposed convolution is easiest to trust when it is written the way it is defined:
every input pixel scatters a copy of the kernel, scaled by its value, into the output,
and overlapping copies add up. The same picture explains the output-size formula and the
checkerboard, and `overlap_counts` draws it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def convolutionalize(linear: nn.Linear, in_shape: tuple[int, int, int]) -> nn.Conv2d:
    """The convolution that computes `linear` on a (C, H, W) input flattened in C, H, W
    order: an H x W kernel with one filter per output unit, the same weights reshaped.

    On exactly that input it returns the linear layer's outputs as a 1 x 1 map; on a
    larger input it slides the classifier and returns a map of scores."""
    channels, height, width = in_shape
    if linear.in_features != channels * height * width:
        raise ValueError(f"{linear.in_features} inputs cannot be read as {tuple(in_shape)}")
    conv = nn.Conv2d(channels, linear.out_features, (height, width), bias=linear.bias is not None,
                     device=linear.weight.device, dtype=linear.weight.dtype)  # fmt: skip
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, channels, height, width))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def transposed_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Output length of a transposed convolution: the last input pixel lands at
    (size - 1) * stride, its kernel copy reaches dilation * (kernel_size - 1) further,
    output_padding extends the end and padding crops both ends."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


def conv_transpose2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> torch.Tensor:
    """`F.conv_transpose2d` (groups=1) by scatter-add: kernel tap (a, b) of every input
    pixel (i, j) adds x[i, j] * weight[:, :, a, b] at output (i*stride + a*dilation,
    j*stride + b*dilation) of an uncropped canvas; `padding` then crops each side.

    x is (N, C_in, H, W) and weight (C_in, C_out, kH, kW), the layout of
    `nn.ConvTranspose2d`, which is that of the convolution it transposes."""
    n, _, height, width = x.shape
    _, c_out, k_h, k_w = weight.shape
    full_h = transposed_output_size(height, k_h, stride, 0, output_padding, dilation)
    full_w = transposed_output_size(width, k_w, stride, 0, output_padding, dilation)
    canvas = x.new_zeros(n, c_out, full_h, full_w)
    span_h, span_w = (height - 1) * stride + 1, (width - 1) * stride + 1
    for a in range(k_h):
        for b in range(k_w):
            tap = torch.einsum("nchw,co->nohw", x, weight[:, :, a, b])
            top, left = a * dilation, b * dilation
            canvas[:, :, top : top + span_h : stride, left : left + span_w : stride] += tap
    out = canvas[:, :, padding : full_h - padding, padding : full_w - padding]
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def overlap_counts(
    size: int, kernel_size: int, stride: int, padding: int = 0, dilation: int = 1
) -> torch.Tensor:
    """How many (input pixel, kernel tap) pairs write to each output pixel of a
    transposed convolution of a size x size input: uneven counts are the checkerboard."""
    ones = torch.ones(1, 1, size, size)
    kernel = torch.ones(1, 1, kernel_size, kernel_size)
    return conv_transpose2d(ones, kernel, stride=stride, padding=padding, dilation=dilation)[0, 0]


def conv_matrix(weight: torch.Tensor, size: int, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """The matrix C of a single-channel convolution on a size x size input, so that
    conv(x).flatten() == C @ x.flatten(); row r holds the kernel where output r reads."""
    k = weight.shape[-1]
    out = (size + 2 * padding - k) // stride + 1
    matrix = weight.new_zeros(out * out, size * size)
    for r in range(out):
        for c in range(out):
            for a in range(k):
                for b in range(k):
                    i, j = r * stride + a - padding, c * stride + b - padding
                    if 0 <= i < size and 0 <= j < size:
                        matrix[r * out + c, i * size + j] = weight[a, b]
    return matrix


def bilinear_kernel(factor: int) -> torch.Tensor:
    """The (2f - f mod 2)-wide kernel with which a transposed convolution of stride f
    performs bilinear interpolation (FCN's initialisation): the outer product of a tent
    1 - |t - centre| / f."""
    size = 2 * factor - factor % 2
    centre = factor - 1 if size % 2 == 1 else factor - 0.5
    tent = 1 - (torch.arange(size, dtype=torch.float32) - centre).abs() / factor
    return tent[:, None] * tent[None, :]


def bilinear_upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Upsample each channel of x by `factor` with the fixed bilinear kernel, as a
    transposed convolution of stride `factor` (size in, size * factor out)."""
    kernel = bilinear_kernel(factor).to(x)
    size = kernel.shape[-1]
    n, c, h, w = x.shape
    out = F.conv_transpose2d(
        x.reshape(n * c, 1, h, w), kernel[None, None], stride=factor, padding=(size - factor) // 2
    )
    return out.reshape(n, c, h * factor, w * factor)
