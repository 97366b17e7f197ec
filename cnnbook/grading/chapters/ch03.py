"""Chapter 3 (Optimization): the exercises, their cases and their points.

Each optimizer exercise is one `step(param, grad, state, **hyper)`; a case runs it over
a fixed sequence of gradients and compares the final parameter with what `torch.optim`
reaches on the same sequence. The folds are compared with scikit-learn's `KFold`.
"""

from __future__ import annotations

import random
from typing import Any

import torch

from cnnbook.grading.checks import Case, Exercise, close_tensor

NOTEBOOK = "03-optimization"
STEPS = 20


def _run_torch(
    optimizer: type[torch.optim.Optimizer], param: torch.Tensor, grads, hyper
) -> torch.Tensor:
    """The reference: `optimizer` fed the given gradients instead of computed ones."""
    p = param.clone().requires_grad_()
    opt = optimizer([p], **hyper)
    for grad in grads:
        p.grad = grad.clone()
        opt.step()
    return p.detach()


def _optimizer_cases(optimizer: type[torch.optim.Optimizer], hyper_choices: list[dict[str, Any]]):
    def cases(seed: int) -> list[Case]:
        rng = random.Random(seed)
        gen = torch.Generator().manual_seed(seed)
        settings = [((3,), hyper_choices[0]), ((2, 4), hyper_choices[-1])]
        while len(settings) < 5:
            shape = tuple(rng.randint(1, 5) for _ in range(rng.randint(1, 3)))
            settings.append((shape, rng.choice(hyper_choices)))
        result = []
        for shape, hyper in settings:
            param = torch.randn(shape, generator=gen, dtype=torch.float64)
            scale = rng.choice([1e-3, 1.0, 50.0])  # tiny, ordinary and large gradients
            grads = tuple(
                scale * torch.randn(shape, generator=gen, dtype=torch.float64) for _ in range(STEPS)
            )
            expected = _run_torch(optimizer, param, grads, hyper)
            given = {k: v for k, v in hyper.items() if k != "nesterov"}  # implied by the name
            description = f"param {shape}, {STEPS} steps, gradients of scale {scale:g}, {given}"
            result.append(Case(description, (param, grads), given, expected, iterate=True))
        return result

    return cases


def _k_fold_cases(seed: int) -> list[Case]:
    from sklearn.model_selection import KFold

    rng = random.Random(seed)
    settings = [(10, 5), (7, 3), (5, 5)]
    while len(settings) < 7:
        k = rng.randint(2, 6)
        settings.append((rng.randint(k, 40), k))
    cases = []
    for n, k in settings:
        expected = [
            (torch.as_tensor(train, dtype=torch.long), torch.as_tensor(val, dtype=torch.long))
            for train, val in KFold(n_splits=k).split(range(n))
        ]
        cases.append(Case(f"n={n}, k={k}", (n, k), {}, expected))
    return cases


def same_folds(got: Any, case: Case) -> str | None:
    """A list of (train, validation) index tensors, fold by fold, as scikit-learn's KFold."""
    expected = case.expected
    if not isinstance(got, list | tuple) or len(got) != len(expected):
        count = len(got) if isinstance(got, list | tuple) else type(got).__name__
        return f"expected a list of {len(expected)} (train, validation) pairs, got {count}"
    for fold, (pair, (train, val)) in enumerate(zip(got, expected, strict=True)):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            return f"fold {fold}: expected a (train, validation) pair"
        for name, value, reference in (("train", pair[0], train), ("validation", pair[1], val)):
            if not isinstance(value, torch.Tensor):
                return f"fold {fold}: {name} indices are a {type(value).__name__}, not a tensor"
            if value.tolist() != reference.tolist():
                return (
                    f"fold {fold}: {name} indices {value.tolist()}, expected {reference.tolist()}"
                )
    return None


OPTIM = frozenset({"optim", "SGD", "Adam", "Adagrad", "Adadelta", "RMSprop", "cnnbook"})
# Every torch.optim optimizer's step() opens a profiler record; a hand-written step never
# does. (The functional forms in torch.optim dispatch only arithmetic: the static check
# is what refuses those.)
OPTIM_OPS = frozenset({"profiler::_record_function_enter_new"})
SAME = close_tensor(atol=1e-9, rtol=1e-7)

# (exercise, points, torch.optim class, two or more hyper-parameter settings)
OPTIMIZERS = [
    ("sgd_step", 1, torch.optim.SGD, [{"lr": 0.1}, {"lr": 0.01}]),
    ("momentum_step", 2, torch.optim.SGD,
     [{"lr": 0.1, "momentum": 0.9}, {"lr": 0.01, "momentum": 0.5}]),
    ("nesterov_step", 2, torch.optim.SGD,
     [{"lr": 0.1, "momentum": 0.9, "nesterov": True},
      {"lr": 0.05, "momentum": 0.7, "nesterov": True}]),
    ("adagrad_step", 2, torch.optim.Adagrad, [{"lr": 0.1, "eps": 1e-10}, {"lr": 0.5, "eps": 1e-6}]),
    ("adadelta_step", 2, torch.optim.Adadelta,
     [{"lr": 1.0, "rho": 0.9, "eps": 1e-6}, {"lr": 0.5, "rho": 0.95, "eps": 1e-4}]),
    ("rmsprop_step", 2, torch.optim.RMSprop,
     [{"lr": 0.01, "alpha": 0.99, "eps": 1e-8}, {"lr": 0.1, "alpha": 0.9, "eps": 1e-6}]),
    ("adam_step", 3, torch.optim.Adam,
     [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8},
      {"lr": 0.1, "betas": (0.8, 0.99), "eps": 1e-6}]),
]  # fmt: skip

# Points per exercise, next to the cases that earn them; the chapter is worth 16.
EXERCISES = (
    *(Exercise(name, points, _optimizer_cases(optimizer, hyper), SAME, OPTIM, OPTIM_OPS)
      for name, points, optimizer, hyper in OPTIMIZERS),
    Exercise("k_fold_indices", 2, _k_fold_cases, same_folds,
             frozenset({"KFold", "sklearn", "cnnbook"})),
)  # fmt: skip
