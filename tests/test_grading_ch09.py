"""Chapter 9's grading spec: its references against PyTorch, the course package's
implementations against every case, the engine's support for exercises that act on
gradients and for composite operators in the watch, and wrong or hostile submissions.

`test_grading_chapters.py` already checks that the solutions get 15 points and the blank
exercises zero.

The rule for `grad_norm_through_time`: it is judged by its effect, like any function. It
must return the right norms *and* leave the `.grad` of the cell's parameters as they were
(None in every case): a solution that calls `.backward()` and leaves the accumulated
gradients behind fails every case with a reason that names `torch.autograd.grad`; one
that calls `.backward()` and clears them again passes.
"""

import contextlib
import math
import warnings

import nbformat
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook import sequences
from cnnbook.grading.chapters import ch01, ch09
from cnnbook.grading.checks import PUBLIC_SEED, Case, report, run_cases
from cnnbook.grading.child.calls import call_reporting_grads, resolve_functions
from cnnbook.grading.child.watch import Watch
from cnnbook.grading.engine.grader import grade_folder
from cnnbook.grading.engine.sandbox import Limits
from conftest import ROOT, norms_by_retain_grad, solution_with

EXERCISES = {ex.name: ex for ex in ch09.EXERCISES}
SEEDS = [PUBLIC_SEED, 2024]
SOLUTIONS = ROOT / "solutions" / "09-rnn-lstm.ipynb"


def test_points_per_exercise():
    assert {name: ex.points for name, ex in EXERCISES.items()} == {
        "rnn_cell": 2, "lstm_cell": 3, "gru_cell": 3, "grad_norm_through_time": 3,
        "clip_grad_norm": 2, "train_adding": 2,
    }  # fmt: skip
    assert sum(ex.points for ex in ch09.EXERCISES) == 15


# The references


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_the_cell_handed_to_a_solution_holds_the_case_weights(kind):
    gen = torch.Generator().manual_seed(0)
    weights = ch09._weights(gen, kind, 3, 4, torch.float64)
    cell = ch09.pytorch_cell(kind, weights)
    assert type(cell) is {"RNN": nn.RNNCell, "LSTM": nn.LSTMCell, "GRU": nn.GRUCell}[kind]
    for name, tensor in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), weights, strict=True):
        assert torch.equal(getattr(cell, name), tensor) and tensor.dtype == torch.float64
    relu = ch09.pytorch_cell("RNN", ch09._weights(gen, "RNN", 2, 2, torch.float32), "relu")
    assert relu.nonlinearity == "relu"


@pytest.mark.parametrize("seed", SEEDS)
def test_the_cell_cases_cover_the_edges(seed):
    for kind, name in (("RNN", "rnn_cell"), ("LSTM", "lstm_cell"), ("GRU", "gru_cell")):
        cases = EXERCISES[name].cases(seed)
        hidden = [c.args[1][0] if kind == "LSTM" else c.args[1] for c in cases]
        assert any(h.shape == (1, 1) for h in hidden)  # batch 1, hidden size 1
        assert any(h.dtype == torch.float64 for h in hidden)
        assert any(h.dtype == torch.float32 for h in hidden)
        assert any(not h.any() for h in hidden)  # a zero initial state
        weight_ih = cases[0].args[2]
        assert weight_ih.shape[0] == ch09.GATES[kind] * hidden[0].shape[1]


@pytest.mark.parametrize("seed", [*SEEDS, 1, 2])
def test_grad_norm_references_agree_with_backward_and_span_orders_of_magnitude(seed):
    cases = EXERCISES["grad_norm_through_time"].cases(seed)
    smallest, largest = math.inf, 0.0
    kinds = set()
    for case in cases:
        spec, xs, state = case.args
        kind, weights, nonlinearity = spec["__cell__"]
        kinds.add((kind, nonlinearity if kind == "RNN" else None))
        cell = ch09.pytorch_cell(kind, weights, nonlinearity)
        torch.testing.assert_close(norms_by_retain_grad(cell, xs, state), case.expected,
                                   rtol=1e-6, atol=0.0, msg=case.description)  # fmt: skip
        n, hidden = xs.shape[1], weights[1].shape[1]
        assert case.expected.shape == (len(xs),)
        assert math.isclose(float(case.expected[-1]), math.sqrt(n * hidden), rel_tol=1e-6)
        ratio = float(case.expected[0] / case.expected[-1])
        smallest, largest = min(smallest, ratio), max(largest, ratio)
    assert smallest < 1e-20 and largest > 100  # vanishing and growing
    assert kinds >= {("RNN", "tanh"), ("RNN", "relu"), ("LSTM", None), ("GRU", None)}
    assert any(len(c.args[1]) == 1 for c in cases)


def test_clip_references_pin_the_conventions():
    cases = {c.description.split(":")[0]: c for c in EXERCISES["clip_grad_norm"].cases(0)}
    below = cases["below the threshold (gradients unchanged)"]
    total, after, before = below.expected
    assert all(torch.equal(a, b) for a, b in zip(after, before, strict=True))
    above = cases["three parameters above the threshold (all scaled by one factor)"]
    total, after, before = above.expected
    factors = [float(a.norm() / b.norm()) for a, b in zip(after, before, strict=True)]
    assert factors == pytest.approx([1.0 / float(total)] * 3, rel=1e-5)
    skipped = cases["a parameter without a gradient (.grad None, skipped)"].expected
    assert skipped[1][1] is None and skipped[2][1] is None
    inf = cases["norm_type=inf (the largest absolute entry)"].expected
    assert float(inf[0]) == max(float(g.abs().max()) for g in inf[2])
    one = cases["norm_type=1 (the sum of absolute entries)"].expected
    assert float(one[0]) == pytest.approx(sum(float(g.abs().sum()) for g in one[2]))
    single = cases["a single tensor instead of a list"].args[0]
    assert set(single) == {"__parameter__"}
    assert set(cases["a generator, as model.parameters() gives"].args[0]) == {"__iter__"}
    none = cases["no parameter has a gradient (returns tensor(0.))"].expected
    assert float(none[0]) == 0.0 and none[1] == [None, None]


# The course package passes every case (written apart from the grader's references)


PACKAGE = {
    "rnn_cell": sequences.rnn_cell,
    "lstm_cell": sequences.lstm_cell,
    "gru_cell": sequences.gru_cell,
    "grad_norm_through_time": sequences.grad_norm_through_time,
    "clip_grad_norm": sequences.clip_grad_norm,
}


@pytest.mark.parametrize("seed", [*SEEDS, 7])
@pytest.mark.parametrize("name", list(PACKAGE))  # train_adding: the solution, in the grader
def test_the_package_passes_every_case(name, seed):
    result = run_cases(EXERCISES[name], PACKAGE[name], seed)
    assert result.ok, report(result)


# Wrong answers in the self-check


def lstm_if_swapped(x, state, weight_ih, weight_hh, bias_ih, bias_hh):
    h, c = state
    f, i, g, o = (x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh).chunk(4, dim=1)
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_next), c_next


def gru_rz_swapped(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    x_z, x_r, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=1)
    h_z, h_r, h_n = (h @ weight_hh.T + bias_hh).chunk(3, dim=1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    return (1 - z) * torch.tanh(x_n + r * h_n) + z * h


def gru_reset_before_the_matrix(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=1)
    h_r, h_z, _ = (h @ weight_hh.T + bias_hh).chunk(3, dim=1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    w_hn, b_hn = weight_hh.chunk(3)[2], bias_hh.chunk(3)[2]
    return (1 - z) * torch.tanh(x_n + (r * h) @ w_hn.T + b_hn) + z * h


@pytest.mark.parametrize(
    ("name", "wrong", "prefix"),
    [
        ("lstm_cell", lstm_if_swapped, "h': max error"),
        ("gru_cell", gru_rz_swapped, "max error"),
        ("gru_cell", gru_reset_before_the_matrix, "max error"),
    ],
)
def test_a_wrong_gate_order_fails_with_the_largest_error(name, wrong, prefix):
    result = run_cases(EXERCISES[name], wrong)
    assert result.passed == 0, report(result)
    assert all(f": {prefix}" in f for f in result.failures), report(result)


def test_an_lstm_returning_h_only_is_told_what_to_return():
    result = run_cases(EXERCISES["lstm_cell"], lambda *a: sequences.lstm_cell(*a)[0])
    assert result.passed == 0 and "expected the tuple (h', c'), got Tensor" in result.failures[0]


def norms_by_backward(cell, xs, state):
    return norms_by_retain_grad(cell, xs, state)


def norms_by_backward_then_cleared(cell, xs, state):
    norms = norms_by_retain_grad(cell, xs, state)
    for parameter in cell.parameters():
        parameter.grad = None
    return norms


def test_the_backward_rule_of_grad_norm_through_time():
    """.backward() gives the right norms but fills the cell's .grad: every case fails
    with a reason; clearing them again (or torch.autograd.grad) passes."""
    exercise = EXERCISES["grad_norm_through_time"]
    result = run_cases(exercise, norms_by_backward)
    assert result.passed == 0
    assert all("have a .grad after the call" in f and "torch.autograd.grad" in f
               for f in result.failures), report(result)  # fmt: skip
    assert run_cases(exercise, norms_by_backward_then_cleared).ok


def test_grad_norms_in_the_wrong_dtype_or_order_are_told_why():
    exercise = EXERCISES["grad_norm_through_time"]

    def as_float32(cell, xs, state):
        return sequences.grad_norm_through_time(cell, xs, state).float()

    def reversed_norms(cell, xs, state):
        return sequences.grad_norm_through_time(cell, xs, state).flip(0)

    result = run_cases(exercise, as_float32)
    assert any("dtype torch.float32, expected torch.float64" in f for f in result.failures)
    result = run_cases(exercise, reversed_norms)
    assert result.passed == sum(len(c.args[1]) == 1 for c in exercise.cases(PUBLIC_SEED))
    assert all("max error" in f for f in result.failures)


def clip_without_scaling(parameters, max_norm, norm_type=2.0):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    norms = torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads])
    return torch.linalg.vector_norm(norms, norm_type)


def clip_each_separately(parameters, max_norm, norm_type=2.0):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    total = clip_without_scaling(parameters, max_norm, norm_type)
    for p in parameters:
        if p.grad is not None:
            norm = torch.linalg.vector_norm(p.grad, norm_type)
            p.grad.mul_(torch.clamp(max_norm / (norm + 1e-6), max=1.0))
    return total


def clip_into_new_tensors(parameters, max_norm, norm_type=2.0):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    total = clip_without_scaling(parameters, max_norm, norm_type)
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return total, [None if p.grad is None else p.grad * factor for p in parameters]


def test_clipping_must_scale_every_gradient_in_place_by_one_factor():
    exercise = EXERCISES["clip_grad_norm"]
    for wrong in (clip_without_scaling, clip_each_separately):
        result = run_cases(exercise, wrong)
        assert 0 < result.passed < result.total, report(result)
        assert all(".grad after the call: max error" in f for f in result.failures)
    unchanged = run_cases(exercise, clip_without_scaling)
    assert all(f.endswith("(it is unchanged: scale each .grad in place)")
               for f in unchanged.failures), report(unchanged)  # fmt: skip
    result = run_cases(exercise, clip_into_new_tensors)
    assert result.passed == 0
    assert "expected the total norm as a one-element tensor, got tuple" in result.failures[0]


def test_a_clip_that_needs_a_list_fails_on_the_generator_only():
    def needs_a_list(parameters, max_norm, norm_type=2.0):
        if isinstance(parameters, torch.Tensor):
            parameters = [parameters]
        count = len(parameters)  # a generator has no length
        return sequences.clip_grad_norm(parameters[:count], max_norm, norm_type)

    result = run_cases(EXERCISES["clip_grad_norm"], needs_a_list)
    assert result.total - result.passed == 1
    assert "a generator" in result.failures[0] and "raised TypeError" in result.failures[0]


# The engine: parameters, cells and iterators made from data, and gradients reported


def test_markers_become_parameters_cells_and_generators():
    weights = ch09._weights(torch.Generator().manual_seed(0), "GRU", 2, 3, torch.float32)
    made = []
    spec = ({"__cell__": ("GRU", weights, "tanh")},
            {"__iter__": [{"__parameter__": (torch.ones(2), torch.full((2,), 3.0))},
                          {"__parameter__": (torch.zeros(1), None)}]})  # fmt: skip
    cell, parameters = resolve_functions(spec, made)
    assert isinstance(cell, nn.GRUCell) and cell.weight_ih.shape == (9, 2)
    assert not isinstance(parameters, list | tuple) and iter(parameters) is parameters
    first, second = list(parameters)
    assert list(parameters) == []  # one pass only, as model.parameters()
    assert isinstance(first, nn.Parameter) and first.grad.tolist() == [3.0, 3.0]
    assert second.grad is None
    assert [id(p) for p in made] == [*(id(p) for p in cell.parameters()), id(first), id(second)]
    no_bias = resolve_functions({"__cell__": ("LSTM", (weights[0][:8], weights[1][:8, :2],
                                                       None, None), "tanh")})  # fmt: skip
    assert no_bias.bias is False and no_bias.bias_ih is None


def test_call_reporting_grads_reports_gradients_after_the_call():
    def halve_and_count(parameters, factor):
        parameters = list(parameters)
        for p in parameters:
            if p.grad is not None:
                p.grad.mul_(factor)
        return len(parameters)

    args = ({"__iter__": [{"__parameter__": (torch.zeros(2), torch.ones(2))},
                          {"__parameter__": (torch.zeros(3), None)}]}, 0.5)  # fmt: skip
    got = call_reporting_grads(halve_and_count, args, {})
    assert got["value"] == 2
    assert got["grads"][0].tolist() == [0.5, 0.5] and got["grads"][1] is None
    case = Case("a case", args, {}, None, with_grads=True)
    assert case.with_grads and not Case("plain").with_grads


# The watch: composite cell operators caught at their own kernels, and restored after


X, H = torch.randn(2, 3), torch.randn(2, 4)
W = {kind: ch09._weights(torch.Generator().manual_seed(1), kind, 3, 4, torch.float32)
     for kind in ch09.GATES}  # fmt: skip


def watched(forbidden, fn) -> Watch:
    watch = Watch(forbidden)
    with watch, contextlib.suppress(RuntimeError):
        fn()
    return watch


def _without_grad(fn, *args):
    with torch.no_grad():
        return fn(*args)


def _in_inference_mode(fn, *args):
    with torch.inference_mode():
        return fn(*args)


CHEATS = {
    "nn.RNNCell": (lambda: nn.RNNCell(3, 4)(X, H), "aten::rnn_tanh_cell"),
    "nn.RNNCell, relu": (lambda: nn.RNNCell(3, 4, nonlinearity="relu")(X, H),
                         "aten::rnn_relu_cell"),
    "nn.LSTMCell": (lambda: nn.LSTMCell(3, 4)(X, (H, H)), "aten::lstm_cell"),
    "nn.GRUCell under no_grad": (lambda: _without_grad(nn.GRUCell(3, 4), X, H),
                                 "aten::gru_cell"),
    "torch._VF.lstm_cell": (lambda: torch._VF.lstm_cell(X, (H, H), *W["LSTM"]),
                            "aten::lstm_cell"),
    "torch.ops.aten.gru_cell": (lambda: torch.ops.aten.gru_cell(X, H, *W["GRU"]),
                                "aten::gru_cell"),
    "torch.rnn_tanh_cell in inference mode": (
        lambda: _in_inference_mode(torch.rnn_tanh_cell, X, H, *W["RNN"]),
        "aten::rnn_tanh_cell"),
    "nn.LSTM": (lambda: nn.LSTM(3, 4)(X[None]), "aten::lstm.input"),
    "nn.GRU on a packed sequence": (
        lambda: nn.GRU(3, 4)(nn.utils.rnn.pack_sequence([X])), "aten::gru.data"),
    "nn.RNN": (lambda: nn.RNN(3, 4)(X[None]), "aten::rnn_tanh.input"),
}  # fmt: skip


@pytest.mark.parametrize("route", list(CHEATS))
def test_every_route_to_a_pytorch_cell_is_caught(route):
    cheat, operator = CHEATS[route]
    watch = watched(EXERCISES["lstm_cell"].forbidden_ops, cheat)
    assert watch.found == {operator} and not watch.tampered


def test_honest_cells_pass_the_watch():
    for name, kind in (("rnn_cell", "RNN"), ("lstm_cell", "LSTM"), ("gru_cell", "GRU")):
        state = (H, H) if kind == "LSTM" else H
        watch = watched(EXERCISES[name].forbidden_ops,
                        lambda n=name, s=state, k=kind: PACKAGE[n](X, s, *W[k]))  # fmt: skip
        assert not watch.found and not watch.tampered


def test_the_watch_restores_the_composite_kernels_and_their_autograd():
    forbidden = EXERCISES["gru_cell"].forbidden_ops
    operators = [op.split("/")[0] for op in forbidden]
    before = {op: torch._C._dispatch_dump(op) for op in operators}
    for _ in range(3):
        watched(forbidden, lambda: nn.LSTMCell(3, 4)(X, (H, H)))
    assert {op: torch._C._dispatch_dump(op) for op in operators} == before
    runs = [
        (nn.RNNCell(3, 4), lambda cell: cell(X, H)),
        (nn.LSTMCell(3, 4), lambda cell: cell(X, (H, H))[0]),
        (nn.GRUCell(3, 4), lambda cell: cell(X, H)),
        (nn.LSTM(3, 4), lambda cell: cell(X[None])[0]),
    ]
    with warnings.catch_warnings():  # autograd of the composites still registered
        warnings.simplefilter("error")
        for cell, run in runs:
            run(cell).sum().backward()
            assert all(p.grad is not None for p in cell.parameters())


def test_a_composite_operator_without_a_key_is_still_left_to_its_decomposition():
    before = torch._C._dispatch_dump("aten::conv2d")
    watch = watched({"aten::conv2d"}, lambda: F.conv2d(torch.randn(1, 1, 4, 4),
                                                      torch.randn(1, 1, 3, 3)))  # fmt: skip
    assert not watch.found and torch._C._dispatch_dump("aten::conv2d") == before


def test_a_kernel_over_a_watched_overload_is_tampering():
    library = torch.library.Library("aten", "IMPL")  # opened before the watch
    try:

        def replace():
            library.impl("lstm.input", lambda *args: (X, X, X), "CompositeImplicitAutograd")

        before = torch._C._dispatch_dump("aten::lstm.input")
        assert "a kernel for aten::lstm.input" in watched(ch09.CELL_OPS, replace).tampered
    finally:
        library._destroy()
    assert torch._C._dispatch_dump("aten::lstm.input") == before


def test_the_other_chapters_watches_are_unchanged():
    """Chapter 1 names conv2d without a key: it is still caught where it decomposes to."""
    conv_ops = next(ex.forbidden_ops for ex in ch01.EXERCISES if ex.name == "conv2d_naive")
    watch = watched(conv_ops, lambda: F.conv2d(torch.randn(1, 1, 4, 4), torch.randn(1, 1, 3, 3)))
    assert watch.found == {"aten::convolution"} and not watch.tampered


# Wrong, cheating and hostile submissions in the grader

# train_adding trains for about 7 s on one thread; the margin is for a busy machine
LIMITS = Limits(timeout=60.0, memory_bytes=2 * 2**30, cpu_seconds=120)

WRONG = {
    "train_adding": "def train_adding(batches):\n"  # the plain RNN stays at the baseline
    "    model = AddingModel()\n"
    "    model.recurrent = nn.RNN(2, 32, batch_first=True)\n"
    "    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)\n"
    "    for x, y in batches:\n"
    "        loss = F.mse_loss(model(x), y)\n"
    "        optimizer.zero_grad()\n"
    "        loss.backward()\n"
    "        optimizer.step()\n"
    "    return model",
    "lstm_cell": "def lstm_cell(x, state, weight_ih, weight_hh, bias_ih, bias_hh):\n"
    "    h, c = state\n"
    "    f, i, g, o = (x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh).chunk(4, dim=1)\n"
    "    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)\n"
    "    return torch.sigmoid(o) * torch.tanh(c_next), c_next",
    "gru_cell": "def gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh):\n"
    "    x_z, x_r, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=1)\n"
    "    h_z, h_r, h_n = (h @ weight_hh.T + bias_hh).chunk(3, dim=1)\n"
    "    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)\n"
    "    return (1 - z) * torch.tanh(x_n + r * h_n) + z * h",
    "grad_norm_through_time": "def grad_norm_through_time(cell, xs, state):\n"
    "    hidden = []\n"
    "    for x in xs:\n"
    "        state = cell(x, state)\n"
    "        h = state[0] if isinstance(state, tuple) else state\n"
    "        h.retain_grad()\n"
    "        hidden.append(h)\n"
    "    hidden[-1].sum().backward()\n"
    "    return torch.stack([h.grad.norm() for h in hidden])",
    "clip_grad_norm": "def clip_grad_norm(parameters, max_norm, norm_type=2.0):\n"
    "    if isinstance(parameters, torch.Tensor):\n"
    "        parameters = [parameters]\n"
    "    grads = [p.grad for p in parameters if p.grad is not None]\n"
    "    if not grads:\n"
    "        return torch.tensor(0.0)\n"
    "    norms = [torch.linalg.vector_norm(g, norm_type) for g in grads]\n"
    "    return torch.linalg.vector_norm(torch.stack(norms), norm_type)",
}
CHEATS_IN_NOTEBOOK = {
    "train_adding": "def train_adding(batches):\n"
    "    from cnnbook.models import SequenceRegressor\n"
    "    return SequenceRegressor('GRU', inputs=2, hidden=32)",
    "rnn_cell": "def rnn_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh):\n"
    "    cell = getattr(torch, 'rnn_tanh_' + 'cell')\n"
    "    return cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh)",
    "lstm_cell": "from torch import nn\n"
    "def lstm_cell(x, state, weight_ih, weight_hh, bias_ih, bias_hh):\n"
    "    cell = nn.LSTMCell(x.shape[1], state[0].shape[1], dtype=x.dtype)\n"
    "    cell.weight_ih.data, cell.weight_hh.data = weight_ih, weight_hh\n"
    "    cell.bias_ih.data, cell.bias_hh.data = bias_ih, bias_hh\n"
    "    return cell(x, state)",
    "gru_cell": "def gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh):\n"
    "    layer = getattr(torch.nn, 'GR' + 'UCell')(x.shape[1], h.shape[1], dtype=x.dtype)\n"
    "    with torch.no_grad():\n"
    "        for name, w in zip(['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'],\n"
    "                           [weight_ih, weight_hh, bias_ih, bias_hh]):\n"
    "            getattr(layer, name).copy_(w)\n"
    "        return layer(x, h)",
    "grad_norm_through_time": "def grad_norm_through_time(cell, xs, state):\n"
    "    from cnnbook.sequences import grad_norm_through_time as norms\n"
    "    return norms(cell, xs, state)",
    "clip_grad_norm": "def clip_grad_norm(parameters, max_norm, norm_type=2.0):\n"
    "    return torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type)",
}
HOSTILE = {
    "train_adding": "def train_adding(batches):\n    return lambda x: x[:, :, 0].sum(1)",
    "rnn_cell": "def rnn_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh):\n"
    "    return {'h': torch.tanh(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh)}",
    "lstm_cell": "def lstm_cell(x, state, weight_ih, weight_hh, bias_ih, bias_hh):\n"
    "    state[0].mul_(0)\n"
    "    return [x, x, x]",  # edits its input in place: the next case is unaffected
    "gru_cell": "def gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh):\n"
    "    return (v for v in h)",
    "grad_norm_through_time": "def grad_norm_through_time(cell, xs, state):\n"
    "    with torch.no_grad():\n"
    "        for p in cell.parameters():\n"
    "            p.mul_(0)\n"
    "    return iter(range(len(xs)))",
    "clip_grad_norm": "def clip_grad_norm(parameters, max_norm, norm_type=2.0):\n"
    "    for p in parameters:\n"
    "        p.grad = None\n"
    "    return 0.0",
}
BACKWARD_THEN_CLEARED = {
    "grad_norm_through_time": "def grad_norm_through_time(cell, xs, state):\n"
    "    hidden = []\n"
    "    for x in xs:\n"
    "        state = cell(x, state)\n"
    "        h = state[0] if isinstance(state, tuple) else state\n"
    "        h.retain_grad()\n"
    "        hidden.append(h)\n"
    "    hidden[-1].sum().backward()\n"
    "    cell.zero_grad()\n"
    "    return torch.stack([h.grad.norm() for h in hidden])",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    for student, cells in (("wrong", WRONG), ("cheater", CHEATS_IN_NOTEBOOK),
                           ("hostile", HOSTILE), ("cleared", BACKWARD_THEN_CLEARED)):  # fmt: skip
        nbformat.write(solution_with(SOLUTIONS, cells), folder / f"{student}_09-rnn-lstm.ipynb")
    out = tmp_path_factory.mktemp("grades")
    rows = grade_folder(folder, "09", out, jobs=1, seed=11, limits=LIMITS, log=lambda _: None)
    return {row["student"]: row for row in rows}, out


def _feedback(graded, student):
    return (graded[1] / "feedback" / f"{student}.md").read_text()


def _section(text, name):
    return text.split(f"`{name}`")[1].split("\n## ")[0]


def test_wrong_answers_lose_exactly_their_exercises_with_a_reason(graded):
    rows, _ = graded
    row = rows["wrong"]
    assert row["status"] == "graded"
    assert (row["rnn_cell"], row["lstm_cell"], row["gru_cell"]) == (2, 0, 0)
    assert row["grad_norm_through_time"] == 0
    assert 0 < row["clip_grad_norm"] < 2
    text = _feedback(graded, "wrong")
    assert "h': max error" in _section(text, "lstm_cell")
    assert "max error" in _section(text, "gru_cell")
    assert "use torch.autograd.grad" in _section(text, "grad_norm_through_time")
    assert "(it is unchanged: scale each .grad in place)" in _section(text, "clip_grad_norm")
    assert row["train_adding"] == 0
    assert "not below 0.01 (always predicting 1 scores" in _section(text, "train_adding")


def test_library_calls_are_refused_and_the_rest_is_graded(graded):
    rows, _ = graded
    row = rows["cheater"]
    assert row["status"] == "graded"
    assert row["total"] == 0
    text = _feedback(graded, "cheater")
    assert "Dispatches aten::rnn_tanh_cell, which" in _section(text, "rnn_cell")
    assert "Uses LSTMCell, which" in _section(text, "lstm_cell")
    assert "Dispatches aten::gru_cell, which" in _section(text, "gru_cell")
    assert "Uses cnnbook, which" in _section(text, "grad_norm_through_time")
    assert "Uses clip_grad_norm_, utils, which" in _section(text, "clip_grad_norm")
    assert "Uses cnnbook, which" in _section(text, "train_adding")


def test_hostile_answers_get_reasons_not_crashes(graded):
    rows, _ = graded
    row = rows["hostile"]
    assert row["status"] == "graded" and row["total"] == 0
    text = _feedback(graded, "hostile")
    assert "expected a torch.Tensor, got dict" in _section(text, "rnn_cell")
    assert "expected the tuple (h', c'), got list" in _section(text, "lstm_cell")
    assert "returned a generator, which is not an answer" in _section(text, "gru_cell")
    assert "returned a range_iterator, which is not an answer" in _section(
        text, "grad_norm_through_time"
    )
    assert "expected the total norm as a one-element tensor, got float" in _section(
        text, "clip_grad_norm"
    )
    assert "returned function, expected the trained model" in _section(text, "train_adding")


def test_backward_that_clears_the_gradients_again_gets_full_marks(graded):
    rows, _ = graded
    assert rows["cleared"]["total"] == 15, _feedback(graded, "cleared")


# Training on the adding problem: the budget, the seed and the reasons


class _Constant(nn.Module):
    """Predicts `value` for every sequence, in the shape `shape` gives."""

    def __init__(self, value, shape=lambda n: (n,)):
        super().__init__()
        self.value, self.shape = value, shape

    def forward(self, x):
        return torch.full(self.shape(len(x)), self.value)


def test_training_cases_give_a_budget_and_held_out_sequences():
    cases = EXERCISES["train_adding"].cases(PUBLIC_SEED)
    assert [c.inputs[0].shape for c in cases] == [(1000, 40, 2), (1000, 60, 2)]
    for case in cases:
        batches = case.args[0]["__iter__"]
        assert len(batches) == ch09.ADDING_BATCHES
        assert {tuple(x.shape[:2]) for x, _ in batches} == {(64, case.inputs[0].shape[1])}
        train = torch.cat([x for x, _ in batches])
        assert not any(torch.equal(train[k], case.inputs[0][0]) for k in range(len(train)))
    hidden = EXERCISES["train_adding"].cases(2024)
    assert not torch.equal(hidden[0].inputs[0], cases[0].inputs[0])


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (_Constant(1.0), "held-out MSE 0.1"),
        (_Constant(1.0, lambda n: (n, 1)), "has shape (1000, 1), expected (1000,)"),
        (_Constant(math.nan), "contain nan or inf"),
    ],
)  # fmt: skip
def test_an_untrained_or_misshapen_model_is_told_why(model, reason):
    result = run_cases(EXERCISES["train_adding"], lambda batches: model)
    assert result.passed == 0
    assert all(reason in f for f in result.failures), report(result)


def test_the_function_is_called_with_a_seeded_generator():
    """Two calls build the same initial weights: the grade does not depend on luck."""
    first = []

    def record(batches):
        first.append(nn.Linear(2, 1).weight.detach().clone())
        return _Constant(1.0)

    run_cases(EXERCISES["train_adding"], record)
    assert len(first) == 2 and torch.equal(first[0], first[1])
