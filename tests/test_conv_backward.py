"""Chapter 2's hand-written backward passes of convolution and pooling against autograd."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from cnnbook.conv_backward import (
    avg_pool2d_backward,
    conv2d_backward,
    dilate,
    max_pool2d_backward,
)

SHAPES = [  # (batch, in channels, out channels, height, width, kernel h, kernel w)
    (1, 1, 1, 5, 5, 3, 3),
    (2, 3, 4, 7, 6, 3, 2),
    (3, 2, 5, 6, 9, 1, 4),
    (1, 4, 2, 8, 8, 5, 5),
]


def autograd_conv(x, weight, bias, grad_out, stride, padding):
    leaves = [t.clone().requires_grad_() for t in (x, weight, bias)]
    out = F.conv2d(*leaves, stride=stride, padding=padding)
    return torch.autograd.grad(out, leaves, grad_out)


@pytest.mark.parametrize(
    ("shape", "stride", "padding"), list(itertools.product(SHAPES, (1, 2, 3), (0, 1, 2)))
)
def test_conv2d_backward_equals_autograd(shape, stride, padding):
    n, c, o, h, w, kh, kw = shape
    gen = torch.Generator().manual_seed(sum(shape) + 10 * stride + padding)
    x = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
    weight = torch.randn(o, c, kh, kw, generator=gen, dtype=torch.float64)
    bias = torch.randn(o, generator=gen, dtype=torch.float64)
    grad_out = torch.randn_like(F.conv2d(x, weight, stride=stride, padding=padding))
    mine = conv2d_backward(x, weight, grad_out, stride=stride, padding=padding)
    for got, expected in zip(mine, autograd_conv(x, weight, bias, grad_out, stride, padding),
                             strict=True):  # fmt: skip
        torch.testing.assert_close(got, expected)


def test_input_gradient_is_a_transposed_convolution():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 6, 6, generator=gen, dtype=torch.float64)
    weight = torch.randn(4, 3, 3, 3, generator=gen, dtype=torch.float64)
    grad_out = torch.randn(2, 4, 4, 4, generator=gen, dtype=torch.float64)
    grad_x = conv2d_backward(x, weight, grad_out)[0]
    torch.testing.assert_close(grad_x, F.conv_transpose2d(grad_out, weight))


def test_dilate_inserts_zeros_between_entries():
    spread = dilate(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), 3)
    assert spread.shape == (4, 4)
    assert spread[::3, ::3].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert spread.abs().sum() == 10


@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), (3, 3), (3, 2), (2, 1)])
@pytest.mark.parametrize("ties", [False, True])
def test_pool_backward_equals_autograd(kernel, stride, ties):
    gen = torch.Generator().manual_seed(kernel * 10 + stride)
    x = torch.randn(2, 3, 7, 8, generator=gen, dtype=torch.float64)
    if ties:  # few distinct values: many windows hold their maximum twice
        x = x.round()
    for pool, backward in [
        (F.max_pool2d, max_pool2d_backward),
        (F.avg_pool2d, avg_pool2d_backward),
    ]:
        leaf = x.clone().requires_grad_()
        out = pool(leaf, kernel, stride)
        grad_out = torch.randn(out.shape, generator=gen, dtype=torch.float64)
        (expected,) = torch.autograd.grad(out, leaf, grad_out)
        torch.testing.assert_close(backward(x, grad_out, kernel, stride), expected)


def test_max_pool_routes_the_whole_gradient_to_one_position_per_window():
    x = torch.tensor([[[[1.0, 5.0], [5.0, 2.0]]]])  # a tie: the first 5 in row-major order wins
    grad = max_pool2d_backward(x, torch.tensor([[[[7.0]]]]), 2)
    assert grad.tolist() == [[[[0.0, 7.0], [0.0, 0.0]]]]
