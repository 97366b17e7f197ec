import pytest
import torch
from torch import nn

from cnnbook.measure import count_parameters, empirical_receptive_field, time_call


def test_count_parameters_matches_layer_shapes():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Linear(8, 2))
    assert count_parameters(model) == 8 * 3 * 9 + 8 + 8 * 2 + 2
    model[2].weight.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 8 * 3 * 9 + 8 + 2


@pytest.mark.parametrize(
    ("layers", "field"),
    [
        ([(1, 1, 1)], 1),
        ([(3, 1, 1)], 3),
        ([(3, 1, 1), (3, 1, 1)], 5),
        ([(3, 2, 1), (3, 1, 1)], 7),
        ([(3, 1, 2)], 5),
        ([(2, 2, 1)] * 3, 8),
        ([(3, 2, 1), (3, 2, 1), (3, 1, 2)], 23),  # a field with holes: the span counts
    ],
)
def test_empirical_receptive_field_known_values(layers, field):
    assert empirical_receptive_field(layers) == field


def test_time_call_returns_the_best_of_repeats():
    calls = []
    seconds = time_call(lambda: calls.append(torch.zeros(10).sum()), repeat=4)
    assert len(calls) == 4
    assert 0 <= seconds < 1
