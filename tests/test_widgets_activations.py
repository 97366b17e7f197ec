import pytest

from cnnbook.widgets.activations import (
    ACTIVATIONS,
    activation_explorer,
    gradient_norms,
    render_activation_explorer,
)


def test_gradient_norms_one_per_layer_and_repeatable():
    norms = gradient_norms("tanh", depth=7)
    assert norms.shape == (7,)
    assert (gradient_norms("tanh", depth=7) == norms).all()


def test_sigmoid_gradients_vanish_towards_the_input():
    norms = gradient_norms("sigmoid", depth=12)
    assert (norms[:-1] < norms[1:]).all()
    assert norms[0] / norms[-1] < 1e-5


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_render_highlights_the_chosen_activation(activation):
    fig = render_activation_explorer(activation, depth=6)
    ax_f, ax_g = fig.axes
    assert activation in ax_f.get_title() and ax_f.get_xlabel() == "x"
    widest = max(ax_g.lines, key=lambda line: line.get_linewidth())
    assert widest.get_label() == activation and len(widest.get_xdata()) == 6
    assert "layer" in ax_g.get_xlabel() and ax_g.get_yscale() == "log"


def test_explorer_controls():
    box = activation_explorer()
    assert [w.description for w in box.children[0].children] == ["activation", "depth"]
