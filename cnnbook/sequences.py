"""Recurrent cells written from their equations (Chapter 9), and what gradients do on
their way back through time.

Every cell takes PyTorch's parameters as they are stored, so weights copied out of
`nn.RNNCell`, `nn.LSTMCell` or `nn.GRUCell` give the same outputs: `weight_ih` is
(G * H, I), `weight_hh` (G * H, H) and the biases (G * H,), with the G gate blocks
stacked in PyTorch's order: LSTM input, forget, cell candidate, output (i, f, g, o);
GRU reset, update, new (r, z, n).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from cnnbook import runtime
from cnnbook.data.sequences import adding_problem

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
CELLS = {"RNN": nn.RNNCell, "LSTM": nn.LSTMCell, "GRU": nn.GRUCell}


def _affine(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    """x W_ih^T + b_ih and h W_hh^T + b_hh, kept apart because the GRU needs them apart."""
    return F.linear(x, weight_ih, bias_ih), F.linear(h, weight_hh, bias_hh)


def rnn_cell(
    x: torch.Tensor,
    h: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    nonlinearity: str = "tanh",
) -> torch.Tensor:
    """One step of Elman's recurrence, h' = tanh(W_ih x + b_ih + W_hh h + b_hh).

    PyTorch keeps two biases where the equation needs one; their sum is what matters,
    and keeping both is what lets `nn.RNNCell`'s weights be copied in unchanged."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    from_x, from_h = _affine(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    pre = from_x + from_h
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_cell(
    x: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor],
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step: (h, c) -> (h', c').

    The cell state is updated by addition, c' = f * c + i * g, so the gradient reaching
    c from c' is multiplied by the forget gate alone, with no weight matrix and no
    squashing derivative in between: that is why it survives many steps."""
    h, c = state
    from_x, from_h = _affine(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    i, f, g, o = (from_x + from_h).chunk(4, dim=-1)
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_next), c_next


def gru_cell(
    x: torch.Tensor,
    h: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
) -> torch.Tensor:
    """One GRU step: h' = (1 - z) * n + z * h.

    The reset gate multiplies the recurrent part *after* the matrix and its bias,
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), as PyTorch does, following the first
    arXiv version of Cho et al.; their published paper (and d2l.ai) apply r to h before
    the matrix, W_hn (r * h), which is a different cell."""
    from_x, from_h = _affine(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    x_r, x_z, x_n = from_x.chunk(3, dim=-1)
    h_r, h_z, h_n = from_h.chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


def cell_weights(module: nn.Module, layer: int = 0) -> tuple[torch.Tensor, ...]:
    """(weight_ih, weight_hh, bias_ih, bias_hh) of a PyTorch cell, or of one layer of
    `nn.RNN` / `nn.LSTM` / `nn.GRU`, which name them with a `_l{layer}` suffix."""
    suffix = "" if isinstance(module, nn.RNNCellBase) else f"_l{layer}"
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    # nn.RNN & co. built with bias=False have no bias attributes at all (cells hold None)
    return tuple(getattr(module, name + suffix, None) for name in names)


def hidden_of(state: State) -> torch.Tensor:
    """The hidden state h: the state itself, or the first of an LSTM's (h, c)."""
    return state[0] if isinstance(state, tuple) else state


def unroll(
    cell: Callable[[torch.Tensor, State], State], xs: torch.Tensor, state: State
) -> tuple[torch.Tensor, State]:
    """Run `cell` over a sequence xs of shape (T, N, input): the hidden states h_1..h_T
    stacked as (T, N, H), and the last state (to continue from)."""
    hidden = []
    for x in xs:
        state = cell(x, state)
        hidden.append(hidden_of(state))
    return torch.stack(hidden), state


def grad_norm_through_time(
    cell: Callable[[torch.Tensor, State], State], xs: torch.Tensor, state: State
) -> torch.Tensor:
    """||dL/dh_t|| for t = 1..T, where L is the sum of the last hidden state h_T.

    Entry t is the gradient that reaches h_t from the end of the sequence, through
    every later step, which is what backpropagation through time delivers to the
    weights at step t. The last entry is sqrt(N * H) (dL/dh_T is all ones); reading
    the vector backwards shows how the signal fades or grows with the distance."""
    # A starting state that requires grad puts every h_t in the graph, even when the
    # cell's weights do not require grad (a trained model's weights, detached).
    if isinstance(state, tuple):
        state = tuple(s.detach().requires_grad_() for s in state)
    else:
        state = state.detach().requires_grad_()
    hidden = []
    for x in xs:
        state = cell(x, state)
        hidden.append(hidden_of(state))
    grads = torch.autograd.grad(hidden[-1].sum(), hidden, allow_unused=True)
    return torch.stack(
        [
            h.new_zeros(()) if g is None else g.detach().norm()
            for g, h in zip(grads, hidden, strict=True)
        ]
    )


def clip_grad_norm(
    parameters: Iterable[torch.Tensor] | torch.Tensor,
    max_norm: float,
    norm_type: float = 2.0,
) -> torch.Tensor:
    """Scale all gradients together so that their joint norm is at most `max_norm`.

    Scaling every gradient by the same factor keeps the step's direction and only
    shortens it, which is what stops one exploding step from throwing the weights off
    the cliff (Pascanu et al., 2013). Returns the norm before clipping, as PyTorch's
    `clip_grad_norm_` does, with the same 1e-6 guard against division by zero."""
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    if norm_type == math.inf:
        total = torch.stack([g.detach().abs().max() for g in grads]).max()
    else:
        total = torch.stack([g.detach().norm(norm_type) for g in grads]).norm(norm_type)
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.detach().mul_(factor.to(g.device))
    return total


def random_recurrence(
    kind: str,
    length: int,
    scale: float = 1.0,
    hidden: int = 32,
    nonlinearity: str = "tanh",
    forget_bias: float = 0.0,
    seed: int = 0,
) -> tuple[nn.RNNCellBase, torch.Tensor, State]:
    """A fresh cell of `kind` ("RNN", "LSTM", "GRU"), a batch of 16 standard-normal
    sequences of 8 features (length, 16, 8) and the zero state, all in float64 so that a
    vanishing gradient shows how small it gets instead of underflowing to 0.

    The recurrent weights are drawn N(0, scale^2 / H), so `scale` is the gain of W_hh
    (the spectral radius of a large random W_hh is close to it); PyTorch's own uniform
    initialization corresponds to a gain of 1/sqrt(3). Input weights are N(0, 1 / 8)
    and biases zero, except the LSTM forget gate's, set to `forget_bias` (the trick of
    starting with the gate open). Everything is fixed by `seed`, so only the cell and
    its settings differ between calls."""
    if kind not in CELLS:
        raise ValueError(f"kind must be one of {sorted(CELLS)}, got {kind!r}")
    gen = runtime.generator(seed)
    options = {"nonlinearity": nonlinearity} if kind == "RNN" else {}
    cell = CELLS[kind](8, hidden, dtype=torch.float64, **options)
    with torch.no_grad():
        cell.weight_hh.copy_(torch.randn(cell.weight_hh.shape, generator=gen) * scale / hidden**0.5)
        cell.weight_ih.copy_(torch.randn(cell.weight_ih.shape, generator=gen) / 8**0.5)
        cell.bias_ih.zero_()
        cell.bias_hh.zero_()
        if kind == "LSTM":
            cell.bias_hh[hidden : 2 * hidden] = forget_bias
    xs = torch.randn(length, 16, 8, generator=gen, dtype=torch.float64)
    h0 = torch.zeros(16, hidden, dtype=torch.float64)
    return cell, xs, ((h0, h0.clone()) if kind == "LSTM" else h0)


def recurrent_gradient_norms(kind: str, length: int, scale: float = 1.0, **options) -> torch.Tensor:
    """`grad_norm_through_time` of `random_recurrence(kind, length, scale, **options)`."""
    return grad_norm_through_time(*random_recurrence(kind, length, scale, **options))


@dataclass
class AddingHistory:
    """Mean squared errors every `eval_every` steps: on the last steps' batches, and on
    held-out sequences."""

    steps: list[int] = field(default_factory=list)
    train_mse: list[float] = field(default_factory=list)
    test_mse: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_adding(
    model: nn.Module,
    length: int,
    steps: int,
    device: torch.device | str,
    lr: float = 0.02,
    batch_size: int = 64,
    max_norm: float = 1.0,
    eval_every: int = 50,
    seed: int = 0,
) -> AddingHistory:
    """Adam on the adding problem, a fresh batch every step, gradients clipped to
    `max_norm`; the model's prediction is its output at the last step.

    Fresh batches mean the model never sees a sequence twice, so the training error
    already measures generalization; the 1,000 held-out sequences are the same for
    every model trained with the same `seed`."""
    model.to(device)
    batches = runtime.generator(seed)
    x_test, y_test = adding_problem(1000, length, runtime.generator(seed + 1))
    x_test, y_test = x_test.to(device), y_test.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history, window, start = AddingHistory(), [], time.perf_counter()
    for step in range(1, steps + 1):
        x, y = (t.to(device) for t in adding_problem(batch_size, length, batches))
        loss = F.mse_loss(model(x)[:, -1], y)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm(model.parameters(), max_norm)
        optimizer.step()
        window.append(loss.item())
        if step % eval_every == 0 or step == steps:
            with torch.no_grad():
                test = F.mse_loss(model(x_test)[:, -1], y_test).item()
            history.steps.append(step)
            history.train_mse.append(sum(window) / len(window))
            history.test_mse.append(test)
            window = []
    history.seconds = time.perf_counter() - start
    return history
