"""Chapter 2's backward passes of convolution and pooling, written out from the forward
operations, so the formulas in the text are code a reader can check against autograd.

A convolution layer's backward pass is made of convolutions again: the input gradient is
a *full* convolution of the output gradient with the kernel flipped by 180 degrees (what
`F.conv_transpose2d` computes), and the weight gradient is a cross-correlation of the
input with the output gradient. Writing both with nothing but `F.conv2d`, zero padding
and `flip` shows why. Pooling has no weights: max pooling routes each output gradient to
the position that won its window, average pooling spreads it evenly over the window.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dilate(grad_out: torch.Tensor, stride: int) -> torch.Tensor:
    """`grad_out` with `stride - 1` zeros inserted between neighbouring entries: the
    output gradient of a strided convolution, placed where a stride-1 convolution would
    have produced those outputs."""
    if stride == 1:
        return grad_out
    *batch, height, width = grad_out.shape
    spread = grad_out.new_zeros(*batch, (height - 1) * stride + 1, (width - 1) * stride + 1)
    spread[..., ::stride, ::stride] = grad_out
    return spread


def conv2d_backward(
    x: torch.Tensor,
    weight: torch.Tensor,
    grad_out: torch.Tensor,
    stride: int = 1,
    padding: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The gradients (grad_x, grad_w, grad_b) of Y = F.conv2d(x, weight, b, stride,
    padding), given grad_out = dL/dY, computed with `F.conv2d`, padding and `flip` only.

    x is (N, C, H, W), weight (O, C, kh, kw), grad_out (N, O, H', W'). For stride 1 and no
    padding: grad_x is the full convolution of grad_out with the flipped kernel (pad by
    k - 1, then cross-correlate with weight flipped and its channel axes swapped);
    grad_w[o, c] is the cross-correlation of x[:, c] with grad_out[:, o], summed over the
    batch (batch and channel axes swapped so the batch is what conv2d sums over); grad_b
    sums grad_out over batch and positions. A stride first spreads grad_out out with
    zeros (`dilate`); padding is undone by cropping the gradient of the padded input.
    """
    kh, kw = weight.shape[-2:]
    x_padded = F.pad(x, (padding, padding, padding, padding))
    spread = dilate(grad_out, stride)
    full = F.pad(spread, (kw - 1, kw - 1, kh - 1, kh - 1))
    grad_padded = F.conv2d(full, weight.flip(-2, -1).transpose(0, 1))
    # Rows and columns that no window reached (a stride that does not divide evenly) get 0.
    height, width = x_padded.shape[-2:]
    grad_padded = F.pad(
        grad_padded, (0, width - grad_padded.shape[-1], 0, height - grad_padded.shape[-2])
    )
    grad_x = grad_padded[..., padding : height - padding, padding : width - padding]
    grad_w = F.conv2d(x_padded.transpose(0, 1), spread.transpose(0, 1)).transpose(0, 1)
    grad_w = grad_w[..., :kh, :kw]  # positions past the last window's reach
    grad_b = grad_out.sum(dim=(0, 2, 3))
    return grad_x, grad_w, grad_b


def _windows(x: torch.Tensor, kernel_size: int, stride: int) -> torch.Tensor:
    """The pooling windows of x (N, C, H, W) as (N, C, k*k, L): one column per window."""
    n, c = x.shape[:2]
    return F.unfold(x.reshape(n * c, 1, *x.shape[2:]), kernel_size, stride=stride).view(
        n, c, kernel_size * kernel_size, -1
    )


def _scatter(
    columns: torch.Tensor, like: torch.Tensor, kernel_size: int, stride: int
) -> torch.Tensor:
    """Add each window's k*k values back onto the input positions they came from (the
    adjoint of `_windows`): overlapping windows add up."""
    n, c = like.shape[:2]
    folded = F.fold(
        columns.reshape(n * c, kernel_size * kernel_size, -1),
        like.shape[2:],
        kernel_size,
        stride=stride,
    )
    return folded.view_as(like)


def max_pool2d_backward(
    x: torch.Tensor, grad_out: torch.Tensor, kernel_size: int, stride: int | None = None
) -> torch.Tensor:
    """dL/dx of Y = F.max_pool2d(x, kernel_size, stride) given grad_out = dL/dY.

    Each output gradient goes whole to the position of its window's maximum; every
    other position of the window gets nothing. On a tie the first maximum in row-major
    order wins (`argmax` returns the first), which is what PyTorch's kernel does too. A
    position that wins several overlapping windows collects all their gradients."""
    stride = stride or kernel_size
    windows = _windows(x, kernel_size, stride)
    winner = F.one_hot(windows.argmax(dim=2), kernel_size * kernel_size)  # (N, C, L, k*k)
    routed = winner.transpose(2, 3).to(grad_out.dtype) * grad_out.flatten(2).unsqueeze(2)
    return _scatter(routed, x, kernel_size, stride)


def avg_pool2d_backward(
    x: torch.Tensor, grad_out: torch.Tensor, kernel_size: int, stride: int | None = None
) -> torch.Tensor:
    """dL/dx of Y = F.avg_pool2d(x, kernel_size, stride): every position of a window gets
    1/k^2 of the window's output gradient, because each contributed 1/k^2 of its mean."""
    stride = stride or kernel_size
    share = grad_out.flatten(2).unsqueeze(2) / kernel_size**2  # (N, C, 1, L)
    columns = share.expand(-1, -1, kernel_size * kernel_size, -1)
    return _scatter(columns, x, kernel_size, stride)
