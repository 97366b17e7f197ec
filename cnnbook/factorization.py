"""Stacked small kernels versus one large kernel, and depth versus width at equal size.

Chapter 6 (continued) asks two questions of the notes. Can every 5x5 convolution be
written as two 3x3 ones (no: the composites form a thin set, which `fit_composite`
measures by trying)? And does depth pay at a fixed parameter count (`width_for_budget`
builds the fair comparison; `count_linear_pieces` and `sawtooth` measure the function
class depth buys)? The helpers are small so that the notebook's cells stay readable.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook import runtime


def compose(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """The single kernel of two stacked linear convolutions (no padding, stride 1).

    `first` is (C_mid, C_in, a, b), `second` (C_out, C_mid, c, d); the result is
    (C_out, C_in, a + c - 1, b + d - 1), with conv2d(conv2d(x, first), second) equal to
    conv2d(x, result). Channel m of the middle layer contributes the full 2-D convolution
    of the two kernels through it, which a transposed convolution computes.
    """
    return F.conv_transpose2d(first.transpose(0, 1), second.transpose(0, 1)).transpose(0, 1)


def _linear_in_second(first: torch.Tensor, second_size: tuple[int, int]) -> torch.Tensor:
    """The matrix M with compose(first, second)[o].flatten() == M @ second[o].flatten():
    with `first` fixed, the composite is linear in the second kernel. Entry (m, p, q) of
    the second kernel adds first[m] shifted by (p, q), so that is its column."""
    kh, kw = second_size
    shifted = [F.pad(first, (q, kw - 1 - q, p, kh - 1 - p)) for p in range(kh) for q in range(kw)]
    columns = torch.stack(shifted, dim=1)  # (C_mid, kh * kw, C_in, H, W)
    return columns.reshape(first.shape[0] * kh * kw, -1).T


def _lstsq(matrix: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Least squares through NumPy: for matrices this small, torch's threaded LAPACK call
    costs ten times more than the solve (on a busy two-core machine)."""
    return torch.from_numpy(np.linalg.lstsq(matrix.numpy(), rhs.numpy(), rcond=None)[0])


def fit_composite(
    target: torch.Tensor,
    mid_channels: int = 1,
    kernel_size: tuple[int, int] = (3, 3),
    restarts: int = 5,
    steps: int = 300,
    seed: int = 0,
) -> tuple[float, torch.Tensor, torch.Tensor]:
    """The best two-kernel approximation of `target` that alternating least squares finds.

    Minimises ||target - compose(first, second)|| over kernels of `kernel_size` with
    `mid_channels` channels between them, in double precision. The problem is not convex,
    but each half is linear: with `first` fixed the composite is linear in `second`, so
    the best `second` is a least-squares solution, and vice versa (swap the roles by
    transposing, as a stack read backwards is the same composite, flipped). Alternating
    the two never increases the error; `restarts` random starts guard against stalls.
    Returns the relative residual ||target - composite|| / ||target|| of the best start
    and its two kernels. A residual near zero shows that the target is a composite; one
    that stays large from every start is evidence, not proof, that it is not.
    """
    target = target.to(torch.float64).cpu()
    c_out, c_in = target.shape[:2]
    flipped = target.flip(-2, -1).transpose(0, 1)  # the composite of the reversed stack
    generator = runtime.generator(seed)
    best = (float("inf"), torch.empty(0), torch.empty(0))
    for _ in range(restarts):
        first = torch.randn(mid_channels, c_in, *kernel_size, generator=generator,
                            dtype=torch.float64)  # fmt: skip
        for _ in range(steps):
            # best second for this first: one least-squares problem per output channel
            matrix = _linear_in_second(first, kernel_size)
            solution = _lstsq(matrix, target.reshape(c_out, -1).T)
            second = solution.T.reshape(c_out, mid_channels, *kernel_size)
            # best first for this second: the same problem for the reversed, flipped stack
            matrix = _linear_in_second(second.flip(-2, -1).transpose(0, 1), kernel_size)
            solution = _lstsq(matrix, flipped.reshape(c_in, -1).T)
            first = solution.T.reshape(c_in, mid_channels, *kernel_size)
            first = first.transpose(0, 1).flip(-2, -1)
        residual = float((compose(first, second) - target).norm() / target.norm())
        if residual < best[0]:
            best = (residual, first, second)
    return best


def mlp_params(n_in: int, width: int, depth: int, n_out: int) -> int:
    """Weights and biases of an MLP with `depth` hidden layers of `width` units."""
    return (n_in + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * n_out


def width_for_budget(n_in: int, depth: int, n_out: int, budget: int) -> int:
    """The hidden width whose MLP comes closest to `budget` parameters at this depth.

    The count grows with the width, so the best width sits next to where it crosses the
    budget; a fair depth-versus-width comparison must then hold every depth to the same
    count, which this checks (within 2%).
    """
    width = 1
    while mlp_params(n_in, width + 1, depth, n_out) <= budget:
        width += 1
    if abs(mlp_params(n_in, width + 1, depth, n_out) - budget) < abs(
        mlp_params(n_in, width, depth, n_out) - budget
    ):
        width += 1
    count = mlp_params(n_in, width, depth, n_out)
    if abs(count - budget) > 0.02 * budget:
        raise ValueError(f"depth {depth}: width {width} gives {count:,} parameters, "
                         f"more than 2% from {budget:,}")  # fmt: skip
    return width


def mlp(n_in: int, width: int, depth: int, n_out: int) -> nn.Sequential:
    """Flatten, then `depth` hidden Linear + ReLU layers of `width` units, then a linear
    output layer."""
    layers: list[nn.Module] = [nn.Flatten()]
    for i in range(depth):
        layers += [nn.Linear(n_in if i == 0 else width, width), nn.ReLU()]
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


@torch.no_grad()
def count_linear_pieces(net: nn.Module, lo: float, hi: float, points: int = 100_001) -> int:
    """How many linear pieces a ReLU network of one input computes on [lo, hi].

    The network is linear wherever the on/off pattern of its ReLUs is constant, so the
    pieces are counted as the changes of that pattern between neighbouring points of a
    fine grid, plus one. Pieces narrower than the grid step are missed, so the count is a
    lower bound; it is exact for the networks of this chapter at the default grid.
    """
    patterns: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: patterns.append(out > 0))
             for m in net.modules() if isinstance(m, nn.ReLU)]  # fmt: skip
    try:
        parameter = next(net.parameters())
        # points inside the cells of a regular grid, off-centre by an irrational fraction,
        # so that none falls exactly on a kink (where a ReLU's input is exactly zero)
        offset = (5**0.5 - 1) / 2
        steps = torch.arange(points, dtype=parameter.dtype, device=parameter.device)
        x = lo + (steps + offset) * (hi - lo) / points
        net(x.unsqueeze(1))
    finally:
        for hook in hooks:
            hook.remove()
    pattern = torch.cat([p.reshape(points, -1) for p in patterns], dim=1)
    return 1 + int((pattern[1:] != pattern[:-1]).any(dim=1).sum())


def sawtooth(depth: int) -> nn.Sequential:
    """Telgarsky's construction: `depth` layers of two ReLUs that compose the tent map.

    t(x) = 2 relu(x) - 4 relu(x - 1/2) folds [0, 1] onto itself; composing it `depth`
    times gives a sawtooth of 2**depth linear pieces on [0, 1] with only 6 * depth + 1
    parameters, where one hidden layer needs 2**depth - 1 units to bend as often.
    """
    layers: list[nn.Module] = []
    for i in range(depth):
        layer = nn.Linear(1 if i == 0 else 2, 2)
        with torch.no_grad():
            fold = torch.tensor([[1.0], [1.0]]) if i == 0 else torch.tensor([[2.0, -4.0]] * 2)
            layer.weight.copy_(fold)
            layer.bias.copy_(torch.tensor([0.0, -0.5]))
        layers += [layer, nn.ReLU()]
    out = nn.Linear(2, 1)
    with torch.no_grad():
        out.weight.copy_(torch.tensor([[2.0, -4.0]]))
        out.bias.zero_()
    return nn.Sequential(*layers, out)
