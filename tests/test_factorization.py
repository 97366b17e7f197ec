"""The helpers behind Chapter 6 (continued): kernel composition, fitting, equal budgets."""

import pytest
import torch
import torch.nn.functional as F

from cnnbook.factorization import (
    compose,
    count_linear_pieces,
    fit_composite,
    mlp,
    mlp_params,
    sawtooth,
    width_for_budget,
)
from cnnbook.measure import count_parameters


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize(
    ("c_in", "mid", "c_out", "size"), [(1, 1, 1, 3), (3, 4, 2, 3), (2, 5, 3, 2)]
)
def test_compose_equals_the_stacked_convolutions(c_in, mid, c_out, size):
    first, second = _randn(mid, c_in, size, size, seed=1), _randn(c_out, mid, size, size, seed=2)
    x = _randn(2, c_in, 11, 11, seed=3)
    composite = compose(first, second)
    assert composite.shape == (c_out, c_in, 2 * size - 1, 2 * size - 1)
    torch.testing.assert_close(F.conv2d(F.conv2d(x, first), second), F.conv2d(x, composite))


def test_a_composite_is_fitted_exactly_and_a_random_kernel_is_not():
    target = compose(_randn(1, 1, 3, 3, seed=4), _randn(1, 1, 3, 3, seed=5))
    residual, first, second = fit_composite(target, steps=100)
    assert residual < 1e-8
    torch.testing.assert_close(compose(first, second), target)
    assert fit_composite(_randn(1, 1, 5, 5, seed=6), steps=100)[0] > 0.05


def test_every_1d_five_tap_filter_is_two_three_tap_filters():
    assert fit_composite(_randn(1, 1, 1, 5, seed=7), kernel_size=(1, 3), steps=100)[0] < 1e-8


def test_two_middle_channels_reach_any_single_channel_kernel():
    assert fit_composite(_randn(1, 1, 5, 5, seed=8), mid_channels=2, steps=100)[0] < 1e-8


@pytest.mark.parametrize("depth", [1, 2, 3, 8])
def test_width_for_budget_matches_the_module_and_the_budget(depth):
    width = width_for_budget(64, depth, 10, 20_000)
    params = count_parameters(mlp(64, width, depth, 10))
    assert params == mlp_params(64, width, depth, 10)
    assert abs(params - 20_000) <= 400


def test_width_for_budget_refuses_a_budget_it_cannot_meet():
    with pytest.raises(ValueError, match="2%"):
        width_for_budget(1, 4, 1, 100)


def test_one_hidden_layer_has_one_piece_more_than_units_it_bends():
    net = mlp(1, 3, 1, 1).double()
    with torch.no_grad():
        net[1].weight.copy_(torch.ones(3, 1))
        net[1].bias.copy_(torch.tensor([0.5, 0.0, -0.5]))  # kinks at -0.5, 0 and 0.5
    assert count_linear_pieces(net, -1.0, 1.0) == 4
    assert count_linear_pieces(net, 0.6, 1.0) == 1


@pytest.mark.parametrize("layers", [1, 3, 6])
def test_sawtooth_doubles_its_pieces_with_each_layer(layers):
    net = sawtooth(layers).double()
    assert count_linear_pieces(net, 0.0, 1.0) == 2**layers
    assert count_parameters(net) == 6 * layers + 1
    with torch.no_grad():
        y = net(torch.tensor([[0.0], [1.0]], dtype=torch.float64))
    torch.testing.assert_close(y, torch.zeros(2, 1, dtype=torch.float64))
