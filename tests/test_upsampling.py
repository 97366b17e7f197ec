"""Chapter 7's operations against PyTorch's."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.upsampling import (
    bilinear_kernel,
    bilinear_upsample,
    conv_matrix,
    conv_transpose2d,
    convolutionalize,
    overlap_counts,
    transposed_output_size,
)

SETTINGS = [
    (stride, padding, output_padding, dilation)
    for stride, padding, dilation in itertools.product((1, 2, 3), (0, 1, 2), (1, 2))
    for output_padding in range(max(stride, dilation))
]


@pytest.mark.parametrize(("stride", "padding", "output_padding", "dilation"), SETTINGS)
def test_scatter_add_equals_conv_transpose2d(stride, padding, output_padding, dilation):
    gen = torch.Generator().manual_seed(stride * 100 + padding * 10 + dilation)
    x = torch.randn(2, 3, 5, 4, generator=gen, dtype=torch.float64)
    weight = torch.randn(3, 2, 3, 2, generator=gen, dtype=torch.float64)
    bias = torch.randn(2, generator=gen, dtype=torch.float64)
    options = {"stride": stride, "padding": padding, "output_padding": output_padding,
               "dilation": dilation}  # fmt: skip
    expected = F.conv_transpose2d(x, weight, bias, **options)
    torch.testing.assert_close(conv_transpose2d(x, weight, bias, **options), expected)


SIZES = [
    (size, kernel, *setting)
    for (size, kernel), setting in itertools.product([(1, 1), (4, 3), (7, 4), (3, 5)], SETTINGS)
    if transposed_output_size(size, kernel, *setting) > 0
]


@pytest.mark.parametrize(("size", "kernel", "stride", "padding", "output_padding", "dilation"),
                         SIZES)  # fmt: skip
def test_output_size_formula_equals_conv_transpose(size, kernel, stride, padding, output_padding,
                                                   dilation):  # fmt: skip
    expected_size = transposed_output_size(size, kernel, stride, padding, output_padding, dilation)
    with torch.device("meta"):
        layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding, dilation=dilation)
        assert layer(torch.empty(1, 1, size, size)).shape[-1] == expected_size


def test_convolutionalize_copies_the_weights_and_slides_the_classifier():
    linear = nn.Linear(16 * 4 * 4, 10)
    conv = convolutionalize(linear, (16, 4, 4))
    assert sum(p.numel() for p in conv.parameters()) == 2570
    x = torch.randn(3, 16, 4, 4)
    torch.testing.assert_close(conv(x).flatten(1), linear(x.flatten(1)))
    wide = torch.randn(1, 16, 6, 9)
    assert conv(wide).shape == (1, 10, 3, 6)
    torch.testing.assert_close(conv(wide)[0, :, 2, 5], linear(wide[:, :, 2:6, 5:9].flatten(1))[0])
    with pytest.raises(ValueError, match="cannot be read"):
        convolutionalize(linear, (16, 4, 5))
    assert convolutionalize(nn.Linear(6, 2, bias=False), (1, 2, 3)).bias is None


@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (2, 1), (2, 0), (3, 1)])
def test_conv_matrix_and_its_transpose(stride, padding):
    gen = torch.Generator().manual_seed(stride)
    weight = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    x = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    matrix = conv_matrix(weight, 6, stride, padding)
    y = F.conv2d(x[None, None], weight[None, None], stride=stride, padding=padding)
    torch.testing.assert_close(matrix @ x.flatten(), y.flatten())
    g = torch.randn_like(y)
    back = F.conv_transpose2d(g, weight[None, None], stride=stride, padding=padding,
                              output_padding=6 - transposed_output_size(y.shape[-1], 3, stride, padding))  # fmt: skip
    torch.testing.assert_close(matrix.T @ g.flatten(), back.flatten())


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 5, 8])
def test_bilinear_transposed_conv_equals_interpolate_inside_the_border(factor):
    kernel = bilinear_kernel(factor)
    assert kernel.shape == (2 * factor - factor % 2,) * 2
    x = torch.rand(2, 3, 6, 7)
    ours = bilinear_upsample(x, factor)
    theirs = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    border = factor // 2
    inner = (..., slice(border, ours.shape[-2] - border), slice(border, ours.shape[-1] - border))
    torch.testing.assert_close(ours[inner], theirs[inner])
    if border:  # at the edge interpolate repeats the last pixel, the convolution sees zeros
        assert (ours[..., 0, :] < theirs[..., 0, :]).all()


def test_overlap_counts_show_the_checkerboard():
    uneven = overlap_counts(6, 3, 2)
    assert set(uneven[2:-2, 2:-2].unique().tolist()) == {1.0, 2.0, 4.0}
    even = overlap_counts(6, 4, 2, padding=1)
    assert even[1:-1, 1:-1].unique().tolist() == [4.0]
    assert overlap_counts(5, 3, 1).max() == 9
