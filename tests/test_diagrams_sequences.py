"""Chapter 9's diagrams: the unrolled RNN has one cell, inputs, state and output per step,
and the LSTM cell names its gates in the order cnnbook.sequences.lstm_cell uses them."""

from itertools import permutations

import matplotlib
import pytest
import torch
from matplotlib.patches import Circle, FancyArrowPatch

matplotlib.use("Agg")

from cnnbook.diagrams.sequences import LSTM_GATES, lstm_cell, unrolled_rnn
from cnnbook.sequences import lstm_cell as lstm_step
from conftest import assert_fits_the_column


def _texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


def _by_gid(fig, gid):
    return [t.get_text() for t in fig.axes[0].texts if t.get_gid() == gid]


@pytest.mark.parametrize("steps", [1, 4, 8])
def test_unrolled_rnn_has_a_cell_an_input_a_state_and_an_output_per_step(steps):
    fig = unrolled_rnn(steps)
    cells = [p for p in fig.axes[0].patches if (p.get_gid() or "").startswith("cell:")]
    assert len(cells) == steps
    assert len({(p.get_width(), p.get_height(), p.get_y()) for p in cells}) == 1  # one cell
    assert [_by_gid(fig, f"input:{t}") for t in range(1, steps + 1)] == [
        [f"$x_{{{t}}}$"] for t in range(1, steps + 1)
    ]
    assert [_by_gid(fig, f"state:{t}") for t in range(steps + 1)] == [
        [f"$h_{{{t}}}$"] for t in range(steps + 1)
    ]
    assert [_by_gid(fig, f"output:{t}") for t in range(1, steps + 1)] == [
        [f"$\\hat{{y}}_{{{t}}}$"] for t in range(1, steps + 1)
    ]
    suffix = "s" if steps > 1 else ""
    assert _by_gid(fig, "unrolled/title") == [f"unrolled over {steps} time step{suffix}:"]


def test_the_folded_cell_loops_and_the_weights_are_shared():
    fig = unrolled_rnn()
    loops = [
        p for p in fig.axes[0].patches if isinstance(p, FancyArrowPatch) and p.get_gid() == "loop"
    ]
    assert len(loops) == 1
    assert [p.get_gid() for p in fig.axes[0].patches].count("folded") == 1
    (note,) = _by_gid(fig, "shared")
    assert "the same weights" in note and all(w in note for w in ("W_{ih}", "W_{hh}", "W_o"))
    (equations,) = _by_gid(fig, "equations")
    assert r"h_t = \tanh(W_{ih}\,x_t + b_{ih} + W_{hh}\,h_{t-1} + b_{hh})" in equations


@pytest.mark.parametrize("steps", [0, 9])
def test_unrolled_rnn_refuses_steps_it_cannot_draw_legibly(steps):
    with pytest.raises(ValueError, match="steps must be between 1 and 8"):
        unrolled_rnn(steps)


def _gate_order_of_lstm_cell():
    """The roles of lstm_cell's four chunks, found by matching its output against the
    LSTM equations under every assignment of roles to chunks."""
    torch.manual_seed(0)
    hidden = 3
    pre = torch.randn(4 * hidden)
    c = torch.randn(1, hidden)
    zeros = torch.zeros(4 * hidden, hidden)
    h_next, c_next = lstm_step(torch.zeros(1, hidden), (torch.zeros(1, hidden), c), zeros,
                               zeros, pre, torch.zeros(4 * hidden))  # fmt: skip
    matches = []
    for order in permutations("ifgo"):
        a = dict(zip(order, pre.chunk(4), strict=True))
        c_ref = torch.sigmoid(a["f"]) * c + torch.sigmoid(a["i"]) * torch.tanh(a["g"])
        h_ref = torch.sigmoid(a["o"]) * torch.tanh(c_ref)
        if torch.allclose(c_next, c_ref) and torch.allclose(h_next, h_ref):
            matches.append("".join(order))
    assert len(matches) == 1
    return matches[0]


def test_lstm_key_lists_the_gates_in_lstm_cells_order():
    order = _gate_order_of_lstm_cell()
    assert order == "ifgo"
    assert "".join(letter for letter, _, _ in LSTM_GATES) == order
    fig = lstm_cell()
    key = [_by_gid(fig, f"key:{n}")[0] for n in range(4)]
    assert key == ["$i_t$ input gate", "$f_t$ forget gate", "$g_t$ candidate", "$o_t$ output gate"]


def test_lstm_gates_squash_as_the_equations_do_and_feed_the_right_nodes():
    fig = lstm_cell()
    assert _by_gid(fig, "gate:f") == ["forget\n$\\sigma$"]
    assert _by_gid(fig, "gate:i") == ["input\n$\\sigma$"]
    assert _by_gid(fig, "gate:g") == ["candidate\ntanh"]
    assert _by_gid(fig, "gate:o") == ["output\n$\\sigma$"]
    nodes = {p.get_gid(): p.center for p in fig.axes[0].patches if isinstance(p, Circle)}
    assert set(nodes) == {"forget-product", "cell-sum", "input-product", "output-product"}
    # the cell state runs along the top: the forget product, then the sum
    assert nodes["forget-product"][1] == nodes["cell-sum"][1]
    assert nodes["forget-product"][0] < nodes["cell-sum"][0]
    # i and g meet under the sum; f sits under its product; o feeds h_t's product
    gate_x = {t.get_gid()[-1]: t.get_position()[0] for t in fig.axes[0].texts
              if (t.get_gid() or "").startswith("gate:")}  # fmt: skip
    assert gate_x["f"] == nodes["forget-product"][0]
    assert gate_x["i"] < nodes["input-product"][0] < gate_x["g"]
    assert nodes["input-product"][0] == nodes["cell-sum"][0]
    assert nodes["output-product"][0] > gate_x["o"]
    texts = _texts(fig)
    for label in ("$c_{t-1}$", "$c_t$", "$h_{t-1}$", "$h_t$", "$x_t$"):
        assert label in texts
    (equations,) = _by_gid(fig, "equations")
    assert r"c_t = f_t \odot c_{t-1} + i_t \odot g_t" in equations
    assert r"h_t = o_t \odot \tanh(c_t)" in equations


@pytest.mark.parametrize("draw, kwargs", [(unrolled_rnn, {}), (unrolled_rnn, {"steps": 8}),
                                          (lstm_cell, {})])  # fmt: skip
def test_sequence_figures_fit_the_column_with_9_point_text(draw, kwargs):
    fig = draw(**kwargs)
    assert_fits_the_column(fig, min_texts=5)
