"""Learning-rate schedules as pure functions of the step (Chapter 3).

Each function returns the learning rate used by the update at step `t` (counting from
0), the value `torch.optim.lr_scheduler` leaves in `optimizer.param_groups[0]["lr"]`
after `t` calls of `scheduler.step()`. The defaults are PyTorch's, so that
`step_decay` matches `StepLR`, `cosine_annealing` `CosineAnnealingLR`, `linear_warmup`
`LinearLR` and `one_cycle` (with `one_cycle_momentum`) `OneCycleLR`.
"""

from __future__ import annotations

import math


def step_decay(t: int, lr: float, step_size: int, gamma: float = 0.1) -> float:
    """Multiply `lr` by `gamma` every `step_size` steps: lr * gamma ** (t // step_size)."""
    return lr * gamma ** (t // step_size)


def cosine_annealing(t: int, lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    """Half a cosine from `lr` at t = 0 down to `min_lr` at t = total_steps
    (Loshchilov & Hutter's SGDR without restarts)."""
    return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * t / total_steps)) / 2


def linear_warmup(t: int, lr: float, warmup_steps: int = 5, start_factor: float = 1 / 3) -> float:
    """Rise linearly from `start_factor * lr` to `lr` over `warmup_steps`, then stay
    (Goyal et al.'s warm-up; PyTorch's `LinearLR` with end_factor = 1)."""
    done = min(t, warmup_steps) / warmup_steps
    return lr * (start_factor + (1 - start_factor) * done)


def _cos_anneal(start: float, end: float, fraction: float) -> float:
    return end + (start - end) * (math.cos(math.pi * fraction) + 1) / 2


def _one_cycle_phase(t: int, total_steps: int, pct_start: float) -> tuple[int, float]:
    """Which phase step `t` is in (0: rising, 1: falling) and how far through it it is.

    The rise ends at step pct_start * total_steps - 1 and the fall at total_steps - 1,
    where PyTorch puts the boundaries."""
    peak = pct_start * total_steps - 1
    if t <= peak:
        return 0, t / peak
    return 1, (t - peak) / (total_steps - 1 - peak)


def one_cycle(
    t: int,
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> float:
    """Smith & Topin's one cycle, as `OneCycleLR` draws it by default: a cosine rise from
    max_lr / div_factor to max_lr over the first `pct_start` of the steps, then a cosine
    fall to max_lr / (div_factor * final_div_factor) at the last step."""
    initial = max_lr / div_factor
    phase, fraction = _one_cycle_phase(t, total_steps, pct_start)
    if phase == 0:
        return _cos_anneal(initial, max_lr, fraction)
    return _cos_anneal(max_lr, initial / final_div_factor, fraction)


def one_cycle_momentum(
    t: int,
    total_steps: int,
    pct_start: float = 0.3,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
) -> float:
    """The momentum (SGD's momentum, Adam's beta1) that `OneCycleLR` sets at step t: it
    moves opposite to the learning rate, from `max_momentum` down to `base_momentum` at
    the peak and back up."""
    phase, fraction = _one_cycle_phase(t, total_steps, pct_start)
    if phase == 0:
        return _cos_anneal(max_momentum, base_momentum, fraction)
    return _cos_anneal(base_momentum, max_momentum, fraction)
