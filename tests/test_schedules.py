"""Chapter 3's learning-rate schedules against `torch.optim.lr_scheduler`."""

import math

import pytest
import torch

from cnnbook.schedules import (
    cosine_annealing,
    linear_warmup,
    one_cycle,
    one_cycle_momentum,
    step_decay,
)


def _pytorch(make_scheduler, steps, lr=0.1, optimizer=torch.optim.SGD, **settings):
    """The learning rate (and momentum) PyTorch uses for each of `steps` updates."""
    p = torch.zeros(1, requires_grad=True)
    opt = optimizer([p], lr=lr, **settings)
    scheduler = make_scheduler(opt)
    lrs, momenta = [], []
    for _ in range(steps):
        group = opt.param_groups[0]
        lrs.append(group["lr"])
        momenta.append(group["betas"][0] if "betas" in group else group["momentum"])
        p.grad = torch.ones(1)
        opt.step()
        scheduler.step()
    return torch.tensor(lrs, dtype=torch.float64), torch.tensor(momenta, dtype=torch.float64)


def _ours(schedule, steps, *args, **kwargs):
    return torch.tensor([schedule(t, *args, **kwargs) for t in range(steps)], dtype=torch.float64)


@pytest.mark.parametrize(("step_size", "gamma"), [(1, 0.5), (7, 0.1), (30, 0.3)])
def test_step_decay_is_step_lr(step_size, gamma):
    expected, _ = _pytorch(
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size, gamma=gamma), 100
    )
    torch.testing.assert_close(_ours(step_decay, 100, 0.1, step_size, gamma), expected)


@pytest.mark.parametrize(("total", "min_lr"), [(10, 0.0), (50, 1e-3), (97, 0.02)])
def test_cosine_annealing_is_cosine_annealing_lr(total, min_lr):
    expected, _ = _pytorch(
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, total, eta_min=min_lr),
        total + 1,
    )
    torch.testing.assert_close(_ours(cosine_annealing, total + 1, 0.1, total, min_lr), expected)


def test_cosine_annealing_ends_at_min_lr_and_passes_the_midpoint_halfway():
    assert cosine_annealing(0, 0.2, 40, 0.02) == pytest.approx(0.2)
    assert cosine_annealing(20, 0.2, 40, 0.02) == pytest.approx(0.11)
    assert cosine_annealing(40, 0.2, 40, 0.02) == pytest.approx(0.02)


@pytest.mark.parametrize(("warmup", "start"), [(5, 1 / 3), (12, 0.01), (1, 0.5)])
def test_linear_warmup_is_linear_lr(warmup, start):
    expected, _ = _pytorch(
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=start, total_iters=warmup),
        30,
    )
    torch.testing.assert_close(_ours(linear_warmup, 30, 0.1, warmup, start), expected)


def test_linear_warmup_defaults_are_pytorchs():
    expected, _ = _pytorch(torch.optim.lr_scheduler.LinearLR, 10)
    torch.testing.assert_close(_ours(linear_warmup, 10, 0.1), expected)


@pytest.mark.parametrize(
    ("total", "pct", "div", "final_div"),
    [(100, 0.3, 25.0, 1e4), (37, 0.25, 10.0, 100.0), (1000, 0.5, 25.0, 1e4), (12, 0.3, 5.0, 1.0)],
)
def test_one_cycle_is_one_cycle_lr_with_its_momentum(total, pct, div, final_div):
    def make(o):
        return torch.optim.lr_scheduler.OneCycleLR(
            o, 0.4, total_steps=total, pct_start=pct, div_factor=div, final_div_factor=final_div
        )

    lrs, momenta = _pytorch(make, total, momentum=0.9)
    torch.testing.assert_close(_ours(one_cycle, total, 0.4, total, pct, div, final_div), lrs)
    torch.testing.assert_close(_ours(one_cycle_momentum, total, total, pct), momenta)


def test_one_cycle_cycles_adams_beta1():
    _, betas = _pytorch(
        lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.01, total_steps=50),
        50,
        optimizer=torch.optim.Adam,
    )
    torch.testing.assert_close(_ours(one_cycle_momentum, 50, 50), betas)


def test_one_cycle_starts_peaks_and_ends_where_its_factors_say():
    total, peak = 100, 29  # the rise ends at step pct_start * total - 1
    assert one_cycle(0, 1.0, total) == pytest.approx(1 / 25)
    assert one_cycle(peak, 1.0, total) == pytest.approx(1.0)
    assert one_cycle(total - 1, 1.0, total) == pytest.approx(1 / 25 / 1e4)
    assert max(range(total), key=lambda t: one_cycle(t, 1.0, total)) == peak
    assert one_cycle_momentum(peak, total) == pytest.approx(0.85)
    assert one_cycle_momentum(0, total) == one_cycle_momentum(total - 1, total) == 0.95
    assert all(math.isfinite(one_cycle(t, 1.0, total)) for t in range(total))
