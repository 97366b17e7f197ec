"""The activation race of Chapter 4: the model, the race loop and the saturation probe."""

import math

import pytest
import torch
from torch import nn

from cnnbook.activation_race import (
    ACTIVATIONS,
    deep_mlp,
    epochs_to_reach,
    race,
    tanh_saturation,
)


def _blobs(n=120, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.randn(n, 8, generator=gen) * 0.3 + torch.nn.functional.one_hot(y, 8).float()
    return x, y


def test_deep_mlp_shape_and_same_weights_for_every_activation():
    nets = {name: deep_mlp(name, depth=3, width=16, d_in=8, classes=3) for name in ACTIVATIONS}
    assert deep_mlp("ReLU", depth=3, width=16, d_in=8, classes=3)(torch.zeros(5, 8)).shape == (5, 3)
    linears = [[m.weight for m in net if isinstance(m, nn.Linear)] for net in nets.values()]
    assert len(linears[0]) == 4
    for other in linears[1:]:
        for a, b in zip(linears[0], other, strict=True):
            torch.testing.assert_close(a, b)


def test_he_init_has_variance_two_over_fan_in_and_zero_bias():
    net = deep_mlp("ReLU", depth=2, width=512, d_in=512, init="he")
    first = net[0]
    assert abs(float(first.weight.detach().var()) * 512 / 2 - 1) < 0.05
    assert float(first.bias.detach().abs().max()) == 0.0
    with pytest.raises(ValueError):
        deep_mlp("ReLU", init="xavier")


def test_epochs_to_reach():
    assert epochs_to_reach([2.0, 1.0, 0.4, 0.2], 0.5) == 3
    assert epochs_to_reach([2.0, 0.5], 0.5) == 2
    assert epochs_to_reach([2.0, 1.0], 0.5) == math.inf


def test_race_is_deterministic_and_learns():
    data = _blobs()
    a = race("ReLU", data, data, epochs=5, lr=0.1, depth=2, width=16, batch_size=16)
    b = race("ReLU", data, data, epochs=5, lr=0.1, depth=2, width=16, batch_size=16)
    assert a.train_loss == b.train_loss and a.test_accuracy == b.test_accuracy
    assert len(a.train_loss) == 5
    assert a.train_loss[-1] < a.train_loss[0] and a.test_accuracy > 0.9


def test_tanh_saturation_grows_with_the_weight_scale():
    x, y = _blobs()
    small, large = (tanh_saturation(x, y, s, depth=6, width=32) for s in (1.0, 8.0))
    assert small["saturated"] < large["saturated"]
    assert small["mean_derivative"] > large["mean_derivative"]
    assert small["first_grad"] > 0 and large["first_grad"] > 0
    z_limit = torch.tensor(2.0)
    assert 0 <= small["saturated"] <= 1 and 0 < large["mean_derivative"] <= 1
    assert float(1 - torch.tanh(z_limit) ** 2) < 0.071


def test_race_restores_the_thread_count():
    before = torch.get_num_threads()
    data = _blobs(n=30)
    race("tanh", data, data, epochs=1, depth=1, width=8, batch_size=10)
    assert torch.get_num_threads() == before
