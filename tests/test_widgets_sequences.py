import pytest

from cnnbook.widgets.sequences import gradient_explorer, render_gradient_explorer


def _curves(fig):
    (ax,) = fig.axes
    return {line.get_label(): line.get_ydata() for line in ax.lines if line.get_label()[0] != "_"}


def test_one_curve_per_cell_starting_at_one_with_labelled_log_axes():
    fig = render_gradient_explorer(length=30, scale=1.0, forget_bias=1.0)
    curves = _curves(fig)
    assert set(curves) == {"RNN (tanh)", "LSTM (forget bias 1)", "GRU"}
    assert all(len(y) == 30 and y[0] == pytest.approx(1.0) for y in curves.values())
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and "distance" in ax.get_xlabel() and "30 steps" in ax.get_title()


def test_small_gain_vanishes_large_gain_explodes_for_the_rnn():
    small = _curves(render_gradient_explorer(length=60, scale=0.5))["RNN (tanh)"]
    large = _curves(render_gradient_explorer(length=60, scale=3.0))["RNN (tanh)"]
    assert small[-1] < 1e-10 and large[-1] > 1e5


def test_an_open_forget_gate_keeps_the_lstm_gradient_alive():
    shut = _curves(render_gradient_explorer(length=80, forget_bias=0.0))["LSTM (forget bias 0)"]
    opened = _curves(render_gradient_explorer(length=80, forget_bias=3.0))["LSTM (forget bias 3)"]
    rnn = _curves(render_gradient_explorer(length=80, forget_bias=3.0))["RNN (tanh)"]
    assert opened[-1] > 1e-3 > 1e-8 > shut[-1]
    assert opened[-1] > 1e6 * rnn[-1]


def test_a_one_step_sequence_is_refused_with_a_message():
    with pytest.raises(ValueError, match="at least 2 steps"):
        render_gradient_explorer(length=1)


def test_explorer_controls():
    box = gradient_explorer()
    assert [w.description for w in box.children[0].children] == ["length", "gain", "forget bias"]
