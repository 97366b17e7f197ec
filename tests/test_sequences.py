"""Chapter 9's recurrent cells, backpropagation through time and gradient clipping against
PyTorch's own modules."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.sequences import (
    cell_weights,
    clip_grad_norm,
    grad_norm_through_time,
    gru_cell,
    lstm_cell,
    random_recurrence,
    recurrent_gradient_norms,
    rnn_cell,
    unroll,
)
from conftest import norms_by_retain_grad

SIZES = [(1, 1, 1), (3, 5, 4), (7, 2, 1), (10, 16, 8)]  # (input, hidden, batch)
DTYPES = [torch.float32, torch.float64]


def _randomize(module, gen, scale=1.0):
    """Random weights and biases, larger than PyTorch's default so that every gate matters."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * scale)
    return module


def _lstm_cell_ifgo_swapped(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """A deliberately wrong LSTM that reads the gate blocks as i, g, f, o."""
    h, c = state
    i, g, f, o = (F.linear(x, weight_ih, bias_ih) + F.linear(h, weight_hh, bias_hh)).chunk(4, -1)
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_next), c_next


def _gru_cell_reset_before_matrix(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """A deliberately wrong GRU: n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)."""
    x_r, x_z, x_n = F.linear(x, weight_ih, bias_ih).chunk(3, -1)
    w_hr, w_hz, w_hn = weight_hh.chunk(3, 0)
    b_hr, b_hz, b_hn = bias_hh.chunk(3) if bias_hh is not None else (None, None, None)
    r = torch.sigmoid(x_r + F.linear(h, w_hr, b_hr))
    z = torch.sigmoid(x_z + F.linear(h, w_hz, b_hz))
    n = torch.tanh(x_n + F.linear(r * h, w_hn, b_hn))
    return (1 - z) * n + z * h


# --- single cells ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize(("inputs", "hidden", "batch"), SIZES)
def test_rnn_cell_equals_nn_rnncell(inputs, hidden, batch, nonlinearity, bias, dtype):
    gen = torch.Generator().manual_seed(inputs * 100 + hidden)
    cell = _randomize(nn.RNNCell(inputs, hidden, bias, nonlinearity, dtype=dtype), gen)
    weights = cell_weights(cell)
    if not bias:
        assert weights[2] is None and weights[3] is None
    x = torch.randn(batch, inputs, generator=gen, dtype=dtype)
    h = torch.randn(batch, hidden, generator=gen, dtype=dtype)
    with torch.no_grad():
        torch.testing.assert_close(rnn_cell(x, h, *weights, nonlinearity), cell(x, h))
        other = "relu" if nonlinearity == "tanh" else "tanh"  # the comparison can tell them apart
        assert not torch.allclose(rnn_cell(x, h, *weights, other), cell(x, h))


def test_rnn_cell_rejects_an_unknown_nonlinearity():
    x, h = torch.zeros(1, 2), torch.zeros(1, 3)
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn_cell(x, h, torch.zeros(3, 2), torch.zeros(3, 3), nonlinearity="sigmoid")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("inputs", "hidden", "batch"), SIZES)
def test_lstm_cell_equals_nn_lstmcell_and_the_gate_order_matters(
    inputs, hidden, batch, bias, dtype
):
    gen = torch.Generator().manual_seed(inputs * 100 + hidden + 1)
    cell = _randomize(nn.LSTMCell(inputs, hidden, bias, dtype=dtype), gen)
    x = torch.randn(batch, inputs, generator=gen, dtype=dtype)
    state = tuple(torch.randn(batch, hidden, generator=gen, dtype=dtype) for _ in range(2))
    with torch.no_grad():
        expected = cell(x, state)
        torch.testing.assert_close(lstm_cell(x, state, *cell_weights(cell)), expected)
        wrong = _lstm_cell_ifgo_swapped(x, state, *cell_weights(cell))
    assert not torch.allclose(wrong[0], expected[0]) and not torch.allclose(wrong[1], expected[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("inputs", "hidden", "batch"), SIZES)
def test_gru_cell_equals_nn_grucell_and_reset_acts_after_the_matrix(
    inputs, hidden, batch, bias, dtype
):
    gen = torch.Generator().manual_seed(inputs * 100 + hidden + 2)
    cell = _randomize(nn.GRUCell(inputs, hidden, bias, dtype=dtype), gen)
    x = torch.randn(batch, inputs, generator=gen, dtype=dtype)
    h = torch.randn(batch, hidden, generator=gen, dtype=dtype)
    with torch.no_grad():
        expected = cell(x, h)
        torch.testing.assert_close(gru_cell(x, h, *cell_weights(cell)), expected)
        wrong = _gru_cell_reset_before_matrix(x, h, *cell_weights(cell))
    if hidden > 1 or bias:  # one unit, no bias: w * (r * h) = r * (w * h), the two coincide
        assert not torch.allclose(wrong, expected)


def test_the_wrong_variants_are_wrong_only_where_claimed():
    """Sanity check of the test's own foils: with f = g blocks (LSTM) or r = 1 (GRU, huge
    reset bias, no hidden bias) the wrong variants coincide with PyTorch, so what the tests
    above reject is the gate order and the place of the reset gate, nothing else."""
    gen = torch.Generator().manual_seed(3)
    lstm = _randomize(nn.LSTMCell(4, 3, dtype=torch.float64), gen)
    with torch.no_grad():
        for p in (lstm.weight_ih, lstm.weight_hh, lstm.bias_ih, lstm.bias_hh):
            p[6:9] = p[3:6]  # g block := f block
    x, h, c = (torch.randn(2, n, generator=gen, dtype=torch.float64) for n in (4, 3, 3))
    with torch.no_grad():
        torch.testing.assert_close(
            _lstm_cell_ifgo_swapped(x, (h, c), *cell_weights(lstm)), lstm(x, (h, c))
        )
        gru = _randomize(nn.GRUCell(4, 3, dtype=torch.float64), gen)
        gru.bias_ih[:3] = 100.0  # r = 1
        gru.bias_hh.zero_()
        torch.testing.assert_close(
            _gru_cell_reset_before_matrix(x, h, *cell_weights(gru)), gru(x, h)
        )


# --- unrolled over time, against the multi-step modules ------------------------------------


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_unrolled_rnn_cell_equals_nn_rnn(nonlinearity, bias):
    gen = torch.Generator().manual_seed(10)
    rnn = nn.RNN(4, 5, nonlinearity=nonlinearity, bias=bias, dtype=torch.float64)
    _randomize(rnn, gen, 0.5)
    xs = torch.randn(7, 3, 4, generator=gen, dtype=torch.float64)
    h0 = torch.randn(1, 3, 5, generator=gen, dtype=torch.float64)
    # nn.RNN(bias=False) registers no bias_ih_l0 at all: cell_weights gives None, as a cell does
    weights = cell_weights(rnn, layer=0)
    assert (weights[2] is None) == (not bias)
    with torch.no_grad():
        hidden, last = unroll(
            lambda x, h: rnn_cell(x, h, *weights, nonlinearity=nonlinearity), xs, h0[0]
        )
        expected, h_n = rnn(xs, h0)
    torch.testing.assert_close(hidden, expected)
    torch.testing.assert_close(last, h_n[0])


def test_unrolled_lstm_cell_equals_nn_lstm_including_the_final_cell_state():
    gen = torch.Generator().manual_seed(11)
    lstm = _randomize(nn.LSTM(4, 5, dtype=torch.float64), gen, 0.5)
    xs = torch.randn(9, 3, 4, generator=gen, dtype=torch.float64)
    h0, c0 = (torch.randn(1, 3, 5, generator=gen, dtype=torch.float64) for _ in range(2))
    weights = cell_weights(lstm, layer=0)
    with torch.no_grad():
        hidden, (h, c) = unroll(lambda x, s: lstm_cell(x, s, *weights), xs, (h0[0], c0[0]))
        expected, (h_n, c_n) = lstm(xs, (h0, c0))
        wrong, _ = unroll(lambda x, s: _lstm_cell_ifgo_swapped(x, s, *weights), xs, (h0[0], c0[0]))
    torch.testing.assert_close(hidden, expected)
    torch.testing.assert_close(h, h_n[0])
    torch.testing.assert_close(c, c_n[0])
    assert not torch.allclose(wrong, expected)


def test_unrolled_gru_cell_equals_nn_gru():
    gen = torch.Generator().manual_seed(12)
    gru = _randomize(nn.GRU(4, 5, dtype=torch.float64), gen, 0.5)
    xs = torch.randn(9, 3, 4, generator=gen, dtype=torch.float64)
    h0 = torch.randn(1, 3, 5, generator=gen, dtype=torch.float64)
    weights = cell_weights(gru, layer=0)
    with torch.no_grad():
        hidden, last = unroll(lambda x, h: gru_cell(x, h, *weights), xs, h0[0])
        expected, h_n = gru(xs, h0)
        wrong, _ = unroll(lambda x, h: _gru_cell_reset_before_matrix(x, h, *weights), xs, h0[0])
    torch.testing.assert_close(hidden, expected)
    torch.testing.assert_close(last, h_n[0])
    assert not torch.allclose(wrong, expected)


def test_cell_weights_picks_the_asked_layer_of_a_stacked_lstm():
    gen = torch.Generator().manual_seed(13)
    lstm = _randomize(nn.LSTM(4, 5, num_layers=2, dtype=torch.float64), gen, 0.5)
    layer1 = cell_weights(lstm, layer=1)
    names = ("weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1")
    assert all(w is getattr(lstm, n) for w, n in zip(layer1, names, strict=True))
    assert layer1[0].shape == (20, 5)  # layer 1 reads layer 0's hidden state, not the input
    assert cell_weights(lstm)[0].shape == (20, 4)
    xs = torch.randn(6, 2, 4, generator=gen, dtype=torch.float64)
    h0, c0 = (torch.randn(2, 2, 5, generator=gen, dtype=torch.float64) for _ in range(2))
    with torch.no_grad():
        states = []
        out = xs
        for layer in range(2):
            weights = cell_weights(lstm, layer)
            out, state = unroll(
                lambda x, s, w=weights: lstm_cell(x, s, *w), out, (h0[layer], c0[layer])
            )
            states.append(state)
        expected, (h_n, c_n) = lstm(xs, (h0, c0))
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(torch.stack([s[0] for s in states]), h_n)
    torch.testing.assert_close(torch.stack([s[1] for s in states]), c_n)


# --- gradients through time ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_grad_norm_through_time_equals_backward_and_leaves_parameter_grads_alone(kind):
    gen = torch.Generator().manual_seed(20)
    cell = _randomize(getattr(nn, kind + "Cell")(4, 6, dtype=torch.float64), gen, 0.6)
    xs = torch.randn(12, 3, 4, generator=gen, dtype=torch.float64)
    h0 = torch.randn(3, 6, generator=gen, dtype=torch.float64)
    state = (h0, torch.randn(3, 6, generator=gen, dtype=torch.float64)) if kind == "LSTM" else h0
    norms = grad_norm_through_time(cell, xs, state)
    assert all(p.grad is None for p in cell.parameters())
    assert norms.shape == (12,) and not norms.requires_grad
    torch.testing.assert_close(norms[-1], torch.tensor(math.sqrt(3 * 6), dtype=torch.float64))
    torch.testing.assert_close(norms, norms_by_retain_grad(copy.deepcopy(cell), xs, state))
    assert len(set(norms.tolist())) == 12  # a genuinely varying vector, not a constant


def test_grad_norm_through_time_needs_no_trainable_weights_and_leaves_the_state_alone():
    """Detached weights (a trained model's, say): the gradient still flows along the h_t."""
    gen = torch.Generator().manual_seed(22)
    cell = _randomize(nn.LSTMCell(3, 4, dtype=torch.float64), gen, 0.6)
    weights = [w.detach() for w in cell_weights(cell)]
    xs = torch.randn(5, 2, 3, generator=gen, dtype=torch.float64)
    h0, c0 = torch.zeros(2, 4, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64)
    norms = grad_norm_through_time(lambda x, s: lstm_cell(x, s, *weights), xs, (h0, c0))
    torch.testing.assert_close(norms, grad_norm_through_time(cell, xs, (h0, c0)))
    assert not h0.requires_grad and not c0.requires_grad and h0.grad is None


def test_grad_norm_through_time_of_a_length_one_sequence():
    cell = nn.GRUCell(3, 4)
    norms = grad_norm_through_time(cell, torch.randn(1, 5, 3), torch.zeros(5, 4))
    torch.testing.assert_close(norms, torch.tensor([math.sqrt(5 * 4)]))


@pytest.mark.parametrize("gain", [0.8, 0.95, 1.1])
def test_in_the_linear_regime_the_gradient_scales_by_the_gain_per_step(gain):
    """tanh RNN, h0 = 0, zero biases, tiny inputs: tanh' = 1 along the path, so with
    W_hh = a * Q (Q orthogonal) ||dL/dh_t|| = a^(T-t) sqrt(N H); saturated, it falls short."""
    steps, batch, hidden = 30, 4, 8
    gen = torch.Generator().manual_seed(21)
    q, _ = torch.linalg.qr(torch.randn(hidden, hidden, generator=gen, dtype=torch.float64))
    cell = nn.RNNCell(5, hidden, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_hh.copy_(gain * q)
        cell.weight_ih.copy_(torch.randn(hidden, 5, generator=gen, dtype=torch.float64))
        cell.bias_ih.zero_()
        cell.bias_hh.zero_()
    xs = torch.randn(steps, batch, 5, generator=gen, dtype=torch.float64)
    h0 = torch.zeros(batch, hidden, dtype=torch.float64)
    norms = grad_norm_through_time(cell, 1e-4 * xs, h0)
    powers = gain ** torch.arange(steps - 1, -1, -1, dtype=torch.float64)
    torch.testing.assert_close(norms, powers * math.sqrt(batch * hidden), rtol=0.01, atol=0)
    ratios = norms[:-1] / norms[1:]
    torch.testing.assert_close(ratios, torch.full_like(ratios, gain), rtol=1e-3, atol=0)
    saturated = grad_norm_through_time(cell, 3.0 * xs, h0)
    assert saturated[0] < 0.5 * norms[0]  # the same comparison tells the regimes apart


# --- clipping -----------------------------------------------------------------------------


def _copy_with_grads(model):
    """deepcopy of a module drops the parameters' .grad (Parameter.__deepcopy__), so copy them."""
    twin = copy.deepcopy(model)
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        q.grad = None if p.grad is None else p.grad.clone()
    return twin


def _model_with_grads(seed, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    model = _randomize(nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)), gen)
    x = torch.randn(11, 5, generator=gen)
    (scale * model(x).pow(2).sum()).backward()
    return model


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 5.0, 1e4])
def test_clip_grad_norm_equals_pytorch(norm_type, max_norm):
    ours = _model_with_grads(30)
    theirs = _copy_with_grads(ours)
    before = [p.grad.clone() for p in ours.parameters()]
    total = clip_grad_norm(ours.parameters(), max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm, norm_type)
    torch.testing.assert_close(total, expected)
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad)
    factors = [(p.grad / g)[g != 0] for p, g in zip(ours.parameters(), before, strict=True)]
    factor = torch.cat(factors)
    torch.testing.assert_close(factor, torch.full_like(factor, factor[0].item()))  # one factor
    if total > max_norm:
        after = clip_grad_norm(ours.parameters(), math.inf, norm_type)
        torch.testing.assert_close(after, torch.tensor(max_norm), rtol=1e-4, atol=0)
    else:
        assert all(torch.equal(p.grad, g) for p, g in zip(ours.parameters(), before, strict=True))


def test_clip_grad_norm_scales_jointly_not_per_tensor():
    """Clipping each tensor to max_norm on its own would pass per-tensor checks and still be
    wrong; the joint norm is what PyTorch clips."""
    ours = _model_with_grads(31)
    per_tensor = _copy_with_grads(ours)
    clip_grad_norm(ours.parameters(), 0.5)
    for p in per_tensor.parameters():
        torch.nn.utils.clip_grad_norm_(p, 0.5)
    pairs = zip(ours.parameters(), per_tensor.parameters(), strict=True)
    assert not all(torch.allclose(p.grad, q.grad) for p, q in pairs)


def test_clip_grad_norm_skips_missing_grads_and_accepts_a_single_tensor():
    ours = _model_with_grads(32)
    ours[0].bias.grad = None
    theirs = _copy_with_grads(ours)
    total = clip_grad_norm(ours.parameters(), 1.0)
    torch.testing.assert_close(total, torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0))
    assert ours[0].bias.grad is None
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert (p.grad is None and q.grad is None) or torch.allclose(p.grad, q.grad)

    single = torch.randn(4, 3, requires_grad=True)
    single.grad = torch.full((4, 3), 2.0)
    total = clip_grad_norm(single, 1.0)
    torch.testing.assert_close(total, torch.tensor(math.sqrt(12 * 4.0)))
    torch.testing.assert_close(single.grad.norm(), torch.tensor(1.0), rtol=1e-5, atol=0)

    nothing = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    assert clip_grad_norm(nothing, 1.0).item() == 0.0
    assert all(p.grad is None for p in nothing)
    assert clip_grad_norm([], 1.0).item() == 0.0


# --- the chapter's experiment ------------------------------------------------------------


def test_recurrent_gradient_norms_is_deterministic_and_as_long_as_asked():
    first = recurrent_gradient_norms("GRU", 20, seed=4)
    assert torch.equal(first, recurrent_gradient_norms("GRU", 20, seed=4))
    assert not torch.equal(first, recurrent_gradient_norms("GRU", 20, seed=5))
    assert first.dtype == torch.float64
    for kind in ("RNN", "LSTM", "GRU"):
        for length in (1, 7):
            norms = recurrent_gradient_norms(kind, length, hidden=6)
            assert norms.shape == (length,)
            torch.testing.assert_close(norms[-1], torch.tensor(math.sqrt(16 * 6)).double())


@pytest.mark.parametrize("kind", ["rnn", "Transformer", ""])
def test_recurrent_gradient_norms_rejects_unknown_kinds(kind):
    with pytest.raises(ValueError, match="kind"):
        recurrent_gradient_norms(kind, 5)


def test_recurrent_gradient_norms_measures_random_recurrence_with_the_forget_bias_in_block_f():
    cell, xs, state = random_recurrence("LSTM", 9, 0.7, hidden=5, forget_bias=2.5, seed=3)
    assert isinstance(cell, nn.LSTMCell) and xs.shape == (9, 16, 8) and xs.dtype == torch.float64
    assert isinstance(state, tuple) and all(
        torch.equal(s, torch.zeros(16, 5).double()) for s in state
    )
    bias = cell.bias_hh.detach().view(4, 5)  # PyTorch's blocks i, f, g, o
    assert torch.equal(bias[1], torch.full((5,), 2.5).double())
    assert not bias[[0, 2, 3]].any() and not cell.bias_ih.detach().any()
    torch.testing.assert_close(
        recurrent_gradient_norms("LSTM", 9, 0.7, hidden=5, forget_bias=2.5, seed=3),
        grad_norm_through_time(cell, xs, state),
    )
    rnn, _, h0 = random_recurrence("RNN", 4, nonlinearity="relu")
    assert rnn.nonlinearity == "relu" and isinstance(h0, torch.Tensor)


def test_a_large_forget_bias_keeps_the_lstm_gradient_alive():
    closed = recurrent_gradient_norms("LSTM", 50, forget_bias=0.0)
    open_ = recurrent_gradient_norms("LSTM", 50, forget_bias=3.0)
    assert open_[0] > 100 * closed[0]
    assert torch.equal(closed[-1], open_[-1])


def test_the_tanh_rnn_vanishes_at_small_gain_and_explodes_at_large_gain():
    small = recurrent_gradient_norms("RNN", 50, scale=0.5)
    assert small[0] < 1e-6 * small[-1]
    large = recurrent_gradient_norms("RNN", 50, scale=3.0)
    assert large[0] > large[-1]


def test_sequence_regressor_sets_only_the_lstm_forget_bias():
    """Chapter 9's LSTMs start with forget-gate bias `forget_bias` (0: half-open gates,
    whatever memory there is must be learned); the other gates keep PyTorch's init."""
    from cnnbook.models import SequenceRegressor

    torch.manual_seed(0)
    model = SequenceRegressor("LSTM", inputs=2, hidden=4, forget_bias=1.5)
    b_ih, b_hh = model.recurrent.bias_ih_l0, model.recurrent.bias_hh_l0
    assert torch.equal(b_ih[4:8], torch.full((4,), 1.5)) and not b_hh[4:8].any()
    assert b_ih[:4].any() and b_ih[8:].any()  # input, candidate, output: untouched
    assert model(torch.zeros(3, 7, 2)).shape == (3, 7)
    rnn = SequenceRegressor("RNN", inputs=2, hidden=4, forget_bias=1.5)
    assert not (rnn.recurrent.bias_ih_l0 == 1.5).any()
    with pytest.raises(ValueError, match="kind must be one of"):
        SequenceRegressor("Transformer", inputs=2, hidden=4)
