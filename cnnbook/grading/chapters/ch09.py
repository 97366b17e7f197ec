"""Chapter 9 (Recurrent networks): the exercises, their cases and their points.

Every reference comes from PyTorch itself, never from `cnnbook.sequences`: the cells from
`nn.RNNCell`, `nn.LSTMCell` and `nn.GRUCell` holding the case's weights, the gradient
norms from `torch.autograd.grad` through those cells, and the clipping from
`torch.nn.utils.clip_grad_norm_`.

The last two exercises act on gradients, so their cases run with `with_grads`: the
grader's child builds the PyTorch cell or the parameters (with their `.grad`) from data,
calls the solution, and reports the `.grad` of every parameter afterwards, next to what
the solution returned. `clip_grad_norm` is judged on both (the norm it returns and the
gradients it scaled in place); `grad_norm_through_time` must leave the cell's `.grad`
untouched (None), which is what `torch.autograd.grad` does and `.backward()` does not.

The last exercise trains: the solution receives a fixed budget of adding-problem
batches (drawn from the case's seed, with `cnnbook.data.adding_problem`) and returns a
model, which the grader runs on held-out sequences; PyTorch's generator is seeded before
the call, so a case is reproducible.
"""

from __future__ import annotations

import math
import random

import torch

from cnnbook.data.sequences import adding_problem
from cnnbook.grading.checks import Case, Exercise, tensor_difference
from cnnbook.grading.child.calls import resolve_functions
from cnnbook.grading.operators import RECURRENT

NOTEBOOK = "09-rnn-lstm"
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """(atol, rtol): float32 leaves room for another order of summation."""
    return (1e-10, 1e-8) if dtype == torch.float64 else (1e-5, 1e-4)


def _unsupported(got) -> str | None:
    if isinstance(got, dict) and "__unsupported__" in got:
        return f"returned a {got['__unsupported__']}, which is not an answer"
    return None


def _weights(gen, kind: str, inputs: int, hidden: int, dtype, gain: float = 1.0):
    """(weight_ih, weight_hh, bias_ih, bias_hh) in PyTorch's layout: input weights
    N(0, 1 / inputs), recurrent weights N(0, gain^2 / hidden), biases N(0, 0.25)."""
    rows = GATES[kind] * hidden
    return (
        (torch.randn(rows, inputs, generator=gen, dtype=torch.float64) / inputs**0.5).to(dtype),
        (torch.randn(rows, hidden, generator=gen, dtype=torch.float64) * gain
         / hidden**0.5).to(dtype),
        (torch.randn(rows, generator=gen, dtype=torch.float64) * 0.5).to(dtype),
        (torch.randn(rows, generator=gen, dtype=torch.float64) * 0.5).to(dtype),
    )  # fmt: skip


def pytorch_cell(kind: str, weights, nonlinearity: str = "tanh") -> torch.nn.Module:
    """`nn.RNNCell`, `nn.LSTMCell` or `nn.GRUCell` holding `weights`, built exactly as the
    grader's child builds the cell it hands to a solution."""
    return resolve_functions({"__cell__": (kind, weights, nonlinearity)})


# Exercises 1-3: one step of each cell


def _cell_cases(kind: str):
    def cases(seed: int) -> list[Case]:
        rng = random.Random(seed)
        gen = torch.Generator().manual_seed(seed)
        f32, f64 = torch.float32, torch.float64
        # (description, batch, inputs, hidden, dtype, input scale, zero initial state)
        settings = [
            ("batch 1, one input, hidden size 1", 1, 1, 1, f32, 1.0, False),
            ("a batch of 3", 3, 4, 5, f32, 1.0, False),
            ("more inputs than hidden units", 2, 7, 2, f32, 1.0, False),
            ("a zero initial state", 4, 3, 6, f32, 1.0, True),
            ("float64", 3, 5, 4, f64, 1.0, False),
            ("large inputs (saturated gates), float64", 2, 3, 3, f64, 10.0, False),
        ]
        while len(settings) < 9:
            dtype = rng.choice([f32, f64])
            settings.append(("random sizes", rng.randint(1, 6), rng.randint(1, 8),
                             rng.randint(1, 8), dtype, 1.0, False))  # fmt: skip
        result = []
        for text, n, inputs, hidden, dtype, scale, zero in settings:
            weights = _weights(gen, kind, inputs, hidden, dtype)
            x = (torch.randn(n, inputs, generator=gen, dtype=torch.float64) * scale).to(dtype)
            h = torch.randn(n, hidden, generator=gen, dtype=torch.float64).to(dtype)
            c = torch.randn(n, hidden, generator=gen, dtype=torch.float64).to(dtype)
            if zero:
                h, c = torch.zeros_like(h), torch.zeros_like(c)
            state = (h, c) if kind == "LSTM" else h
            with torch.no_grad():
                expected = pytorch_cell(kind, weights)(x, state)
            states = "h and c" if kind == "LSTM" else "h"
            shapes = f"x {tuple(x.shape)}, {states} {tuple(h.shape)}"
            name = str(dtype).removeprefix("torch.")
            result.append(Case(f"{text}: {shapes}, {name}", (x, state, *weights), {}, expected))
        return result

    return cases


def _same_hidden(got, case: Case) -> str | None:
    atol, rtol = _tolerance(case.expected.dtype)
    return _unsupported(got) or tensor_difference(got, case.expected, atol, rtol)


def _same_lstm_state(got, case: Case) -> str | None:
    if reason := _unsupported(got):
        return reason
    if not isinstance(got, tuple | list) or len(got) != 2:
        return f"expected the tuple (h', c'), got {type(got).__name__}"
    atol, rtol = _tolerance(case.expected[0].dtype)
    for name, value, expected in zip(("h'", "c'"), got, case.expected, strict=True):
        if reason := tensor_difference(value, expected, atol, rtol):
            return f"{name}: {reason}"
    return None


# Exercise 4: gradient norms through time


def grad_norms_reference(cell, xs: torch.Tensor, state) -> torch.Tensor:
    """||dL/dh_t|| for t = 1..T, L the sum of h_T, by `torch.autograd.grad`."""
    hidden = []
    for x in xs:
        state = cell(x, state)
        hidden.append(state[0] if isinstance(state, tuple) else state)
    grads = torch.autograd.grad(hidden[-1].sum(), hidden)
    return torch.stack([g.norm() for g in grads])


def _through_time_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    f32, f64 = torch.float32, torch.float64
    # (description, kind, nonlinearity, batch, inputs, hidden, steps, gain, dtype); in a
    # ReLU RNN with positive weights every unit stays active, so the norms surely grow
    settings = [
        ("one step (only dL/dh_T, all ones)", "RNN", "tanh", 2, 3, 4, 1, 1.0, f32),
        ("small recurrent weights (vanishing)", "RNN", "tanh", 4, 3, 8, 60, 0.4, f64),
        ("positive recurrent weights (growing)", "RNN", "relu", 3, 2, 6, 20, 1.0, f64),
        ("saturating tanh units (vanishing)", "RNN", "tanh", 2, 3, 5, 25, 4.0, f64),
        ("an LSTM", "LSTM", None, 2, 2, 5, 12, 1.0, f32),
        ("a long LSTM sequence", "LSTM", None, 3, 4, 6, 40, 0.5, f64),
        ("a GRU with hidden size 1 and batch 1", "GRU", None, 1, 2, 1, 15, 1.0, f64),
        ("a GRU", "GRU", None, 3, 4, 6, 25, 1.5, f32),
        ("a ReLU RNN", "RNN", "relu", 2, 3, 4, 8, 1.0, f32),
    ]
    while len(settings) < 12:
        kind = rng.choice(list(GATES))
        settings.append(("random sizes", kind, rng.choice(["tanh", "relu"]) if kind == "RNN"
                         else None, rng.randint(1, 4), rng.randint(1, 5), rng.randint(1, 7),
                         rng.randint(1, 20), rng.choice([0.5, 1.0, 1.5]), f64))  # fmt: skip
    cases = []
    for text, kind, nonlinearity, n, inputs, hidden, steps, gain, dtype in settings:
        weights = _weights(gen, kind, inputs, hidden, dtype, gain)
        if text.startswith("positive"):
            weights = tuple(w.abs() for w in weights)
        xs = torch.randn(steps, n, inputs, generator=gen, dtype=torch.float64).to(dtype)
        h = (torch.randn(n, hidden, generator=gen, dtype=torch.float64) * 0.5).to(dtype)
        state = (h, torch.zeros_like(h)) if kind == "LSTM" else h
        cell = {"__cell__": (kind, weights, nonlinearity or "tanh")}
        expected = grad_norms_reference(pytorch_cell(kind, weights, nonlinearity or "tanh"),
                                        xs, state)  # fmt: skip
        label = f"nn.RNNCell ({nonlinearity})" if kind == "RNN" else f"nn.{kind}Cell"
        name = str(dtype).removeprefix("torch.")
        description = (f"{text}: {label}, input {inputs}, hidden {hidden}, batch {n}, "
                       f"{steps} step{'s' * (steps > 1)}, {name}")  # fmt: skip
        cases.append(Case(description, (cell, xs, state), {}, expected, with_grads=True))
    return cases


def _same_norms(got, case: Case) -> str | None:
    """Relative comparison only: the norms span many orders of magnitude, and one of
    1e-20 is judged against itself, not against the largest."""
    if not isinstance(got, dict) or set(got) != {"value", "grads"}:
        return "the function could not be run"
    if reason := _unsupported(got["value"]):
        return reason
    rtol = 1e-6 if case.expected.dtype == torch.float64 else 1e-5
    if reason := tensor_difference(got["value"], case.expected, 0.0, rtol):
        return reason
    if any(grad is not None for grad in got["grads"]):
        return (
            "the cell's parameters have a .grad after the call (backward() accumulates "
            "into them); use torch.autograd.grad, which returns the gradients instead"
        )
    return None


# Exercise 5: clipping the gradient norm


def _parameters(specs) -> list[torch.Tensor]:
    """The parameters of a case, built as the child builds them (with their .grad)."""
    return [resolve_functions({"__parameter__": (value.clone(), _clone(grad))})
            for value, grad in specs]  # fmt: skip


def _clone(tensor):
    return None if tensor is None else tensor.clone()


def _clip_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)

    def grads(*shapes, scale=1.0, dtype=torch.float32):
        return [None if shape is None else
                (torch.randn(shape, generator=gen, dtype=torch.float64) * scale).to(dtype)
                for shape in shapes]  # fmt: skip

    # (description, gradients (None: no .grad), max_norm, norm_type or None, form)
    settings = [
        ("three parameters above the threshold (all scaled by one factor)",
         grads((4, 3), (4,), (2, 4)), 1.0, None, "list"),
        ("below the threshold (gradients unchanged)", grads((3, 3), (3,)), 100.0, None, "list"),
        ("a parameter without a gradient (.grad None, skipped)",
         grads((2, 5), None, (5,), scale=3.0), 2.0, None, "list"),
        ("norm_type=inf (the largest absolute entry)", grads((3, 4), (6,), scale=2.0), 0.5,
         math.inf, "list"),
        ("norm_type=1 (the sum of absolute entries)", grads((5,), (2, 3)), 4.0, 1.0, "list"),
        ("norm_type=2 given explicitly, float64", grads((3, 2), (7,), (1,), dtype=torch.float64),
         0.25, 2.0, "list"),
        ("a single tensor instead of a list", grads((4, 4), scale=5.0), 1.5, None, "tensor"),
        ("a generator, as model.parameters() gives", grads((2, 3), (3,), (1, 2)), 0.1, None,
         "generator"),
        ("all-zero gradients (norm 0: nothing to scale)",
         [torch.zeros(3, 2), torch.zeros(4)], 1.0, None, "list"),
        ("no parameter has a gradient (returns tensor(0.))", [None, None], 1.0, None, "list"),
    ]  # fmt: skip
    while len(settings) < 13:
        shapes = [(rng.randint(1, 5), rng.randint(1, 5)) for _ in range(rng.randint(1, 4))]
        settings.append(("random gradients", grads(*shapes, scale=rng.choice([0.1, 1.0, 10.0])),
                         rng.choice([0.5, 1.0, 5.0]), rng.choice([None, 1.0, 2.0, math.inf]),
                         "list"))  # fmt: skip
    cases = []
    for text, gradients, max_norm, norm_type, form in settings:
        specs = [(torch.randn((1,) if g is None else g.shape, generator=gen).to(
                  torch.float32 if g is None else g.dtype), g) for g in gradients]  # fmt: skip
        parameters = _parameters(specs)
        packed = [{"__parameter__": spec} for spec in specs]
        kwargs = {} if norm_type is None else {"norm_type": norm_type}
        if form == "tensor":
            argument, given = packed[0], parameters[0]
        elif form == "generator":
            argument, given = {"__iter__": packed}, (p for p in parameters)
        else:
            argument, given = packed, parameters
        total = torch.nn.utils.clip_grad_norm_(given, max_norm, **kwargs)
        expected = (total, [_clone(p.grad) for p in parameters], gradients)
        norm = "" if norm_type is None else f", norm_type={norm_type}"
        description = (f"{text}: {len(specs)} parameter{'s' * (len(specs) > 1)}, "
                       f"max_norm={max_norm}{norm}")  # fmt: skip
        cases.append(Case(description, (argument, max_norm), kwargs, expected, with_grads=True))
    return cases


def _same_clipping(got, case: Case) -> str | None:
    """The norm returned, then each parameter's .grad after the call."""
    if not isinstance(got, dict) or set(got) != {"value", "grads"}:
        return "the function could not be run"
    total, after, before = case.expected
    value = got["value"]
    if reason := _unsupported(value):
        return reason
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        shape = f" of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else ""
        return f"expected the total norm as a one-element tensor, got {type(value).__name__}{shape}"
    if value.is_complex():
        return f"expected a real norm, got a {value.dtype} tensor"
    if not math.isclose(float(value), float(total), rel_tol=1e-5, abs_tol=1e-6):
        return f"returned the norm {float(value):.6g}, expected {float(total):.6g}"
    for k, (grad, expected, original) in enumerate(zip(got["grads"], after, before, strict=True)):
        where = f"parameter {k}'s .grad after the call"
        if expected is None:
            if grad is not None:
                return f"{where}: expected None (it had no gradient), got {type(grad).__name__}"
            continue
        atol, rtol = _tolerance(expected.dtype)
        if reason := tensor_difference(grad, expected, atol, rtol):
            alike = isinstance(grad, torch.Tensor) and grad.dtype == original.dtype
            unchanged = alike and grad.shape == original.shape and torch.equal(grad, original)
            hint = " (it is unchanged: scale each .grad in place)" if unchanged else ""
            return f"{where}: {reason}{hint}"
    return None


# Exercise 6: training on the adding problem

SOLVED = 0.01  # held-out MSE; Chapter 9 calls the task solved below it
ADDING_BATCHES, ADDING_BATCH_SIZE = 400, 64


def _adding_cases(seed: int) -> list[Case]:
    """Two lengths, each with its own training batches and 1,000 held-out sequences."""
    cases = []
    for k, length in enumerate((40, 60)):
        gen = torch.Generator().manual_seed(1000 * seed + k)
        batches = [adding_problem(ADDING_BATCH_SIZE, length, gen) for _ in range(ADDING_BATCHES)]
        x_test, y_test = adding_problem(1000, length, gen)
        cases.append(Case(
            f"length {length}, {ADDING_BATCHES} batches of {ADDING_BATCH_SIZE}: held-out MSE "
            f"below {SOLVED}",
            ({"__iter__": batches},), {}, y_test, inputs=(x_test,), returns_module=True,
        ))  # fmt: skip
    return cases


def _solves_adding(got, case: Case) -> str | None:
    """The returned model's held-out mean squared error, against the threshold."""
    if not isinstance(got, dict) or "type" not in got:
        return "the returned model could not be run"
    if "output" not in got:
        if "error" in got:
            return f"the returned model raised {got['error']}"
        return f"returned {got['type']}, expected the trained model (an nn.Module)"
    output, expected = got["output"], case.expected
    if not isinstance(output, torch.Tensor):
        return f"the model returned {type(output).__name__}, expected a tensor of predictions"
    if output.shape != expected.shape:
        return (f"the model's output has shape {tuple(output.shape)}, expected "
                f"{tuple(expected.shape)} (one prediction per sequence)")  # fmt: skip
    if not torch.isfinite(output).all():
        return "the model's predictions contain nan or inf"
    mse = float(((output.double() - expected.double()) ** 2).mean())
    if mse >= SOLVED:
        baseline = float(((expected.double() - 1) ** 2).mean())
        return (f"held-out MSE {mse:.4f}, not below {SOLVED} (always predicting 1 scores "
                f"{baseline:.3f})")  # fmt: skip
    return None


def _ops(*names: str) -> frozenset[str]:
    """Watched at run time at their own (composite) kernels: the cell and layer operators
    reach only linear, sigmoid and tanh, which a solution needs."""
    return frozenset({f"aten::{name}/CompositeImplicitAutograd" for name in names}
                     | RECURRENT)  # fmt: skip


CELLS = frozenset({"RNNCell", "LSTMCell", "GRUCell", "RNNCellBase", "RNN", "LSTM", "GRU",
                   "RNNBase", "_VF", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell",
                   "rnn_tanh", "rnn_relu", "lstm", "gru", "_thnn_fused_lstm_cell",
                   "_thnn_fused_gru_cell", "mkldnn_rnn_layer", "cnnbook"})  # fmt: skip
CELL_OPS = _ops("rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell",
                *(f"{layer}.{overload}" for layer in ("rnn_tanh", "rnn_relu", "lstm", "gru")
                  for overload in ("input", "data")))  # fmt: skip
CLIP = frozenset({"clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_",
                  "get_total_norm", "utils", "cnnbook"})  # fmt: skip

# Points per exercise, next to the cases that earn them; the chapter is worth 15.
EXERCISES = (
    Exercise("rnn_cell", 2, _cell_cases("RNN"), _same_hidden, CELLS, CELL_OPS),
    Exercise("lstm_cell", 3, _cell_cases("LSTM"), _same_lstm_state, CELLS, CELL_OPS),
    Exercise("gru_cell", 3, _cell_cases("GRU"), _same_hidden, CELLS, CELL_OPS),
    Exercise("grad_norm_through_time", 3, _through_time_cases, _same_norms,
             frozenset({"cnnbook"})),
    Exercise("clip_grad_norm", 2, _clip_cases, _same_clipping, CLIP),
    Exercise("train_adding", 2, _adding_cases, _solves_adding, frozenset({"cnnbook"})),
)  # fmt: skip
