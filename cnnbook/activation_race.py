"""Chapter 4's activation race and tanh-saturation probe.

The race trains one deep MLP with each activation under the same budget (same seed,
data order, optimizer, learning rate and initialization), so the only thing that
differs between the curves is the activation. The probe scales a tanh network's initial
weights to show when tanh saturates and what that does to the gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnnbook import runtime

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "ReLU": nn.ReLU,
    "leaky ReLU": lambda: nn.LeakyReLU(0.01),  # the slope Chapter 4 uses throughout
    "ELU": nn.ELU,
    "GELU": nn.GELU,
}


def deep_mlp(
    activation: str,
    depth: int = 4,
    width: int = 64,
    d_in: int = 64,
    classes: int = 10,
    seed: int = 0,
    init: str = "default",
) -> nn.Sequential:
    """`depth` hidden layers of `width` units with `activation` after each, then a
    linear classifier.

    init="default" keeps PyTorch's initialization (weights and biases uniform in
    ±1/sqrt(fan_in), so the weights have variance 1/(3 fan_in)); init="he" draws the
    hidden weights from N(0, 2/fan_in) with zero biases, the initialization designed
    for ReLU. The seed fixes the weights, so two activations start from the same ones.
    """
    if init not in ("default", "he"):
        raise ValueError(f"init must be 'default' or 'he', not {init!r}")
    runtime.seed(seed)
    layers: list[nn.Module] = []
    for i in range(depth):
        linear = nn.Linear(d_in if i == 0 else width, width)
        if init == "he":
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
        layers += [linear, ACTIVATIONS[activation]()]
    layers.append(nn.Linear(width if depth else d_in, classes))
    return nn.Sequential(*layers)


@contextmanager
def one_cpu_thread() -> Iterator[None]:
    """Run the block on one CPU thread, then restore the previous count.

    The race multiplies 64-wide matrices thousands of times; splitting such small
    products over two threads costs more than it saves (measured: about 6 times slower
    on the course's 2-core machine, worse when another process shares the cores).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class RaceResult:
    """What one run of the race records."""

    train_loss: list[float]  # loss on the whole training set after each epoch
    test_accuracy: float


def race(
    activation: str,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    epochs: int,
    lr: float = 0.05,
    momentum: float = 0.9,
    batch_size: int = 64,
    seed: int = 0,
    **mlp_options,
) -> RaceResult:
    """Train `deep_mlp(activation, ...)` with SGD + momentum (AlexNet's optimizer) and
    return its per-epoch training loss and final test accuracy.

    Inputs are flattened; the model goes to the inputs' device. The mini-batch order
    comes from a CPU generator seeded with `seed`, so it is the same for every
    activation and on every device. On the CPU it runs on one thread (`one_cpu_thread`).
    """
    (x, y), (x_test, y_test) = train, test
    x, x_test = x.flatten(1), x_test.flatten(1)
    net = deep_mlp(activation, d_in=x.shape[1], seed=seed, **mlp_options).to(x.device)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    order = runtime.generator(seed)
    losses = []
    with one_cpu_thread() if x.device.type == "cpu" else nullcontext():
        for _ in range(epochs):
            for idx in torch.randperm(len(y), generator=order).split(batch_size):
                idx = idx.to(x.device)
                loss = F.cross_entropy(net(x[idx]), y[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                losses.append(float(F.cross_entropy(net(x), y)))
        with torch.no_grad():
            accuracy = float((net(x_test).argmax(1) == y_test).float().mean())
    return RaceResult(losses, accuracy)


def epochs_to_reach(losses: list[float], threshold: float) -> float:
    """The first epoch (counting from 1) whose loss is at or below `threshold`;
    `math.inf` if none is, so a run that never gets there compares as the slowest."""
    return next((i + 1 for i, v in enumerate(losses) if v <= threshold), math.inf)


def tanh_saturation(
    x: torch.Tensor,
    y: torch.Tensor,
    scale: float,
    depth: int = 10,
    width: int = 64,
    seed: int = 0,
    limit: float = 2.0,
) -> dict[str, float]:
    """Saturation and gradients of a deep tanh MLP whose initial weights are `scale`
    times PyTorch's default ones, on one cross-entropy pass over (x, y).

    Returns the fraction of hidden pre-activations z with |z| > `limit` (where
    tanh'(z) < tanh'(limit)), the mean of tanh'(z) over all hidden units, and the
    gradient norms of the first and last hidden layer's weights. Measuring both ends
    separates saturation (small tanh') from what the weights do to the gradient.
    """
    net = deep_mlp("tanh", depth=depth, width=width, d_in=x.shape[1], seed=seed)
    net = net.to(x.device)
    hidden = [m for m in net if isinstance(m, nn.Linear)][:-1]
    with torch.no_grad():
        for linear in hidden:
            linear.weight.mul_(scale)
    pre_activations = []
    h = x.flatten(1)
    for module in net:
        h = module(h)
        if isinstance(module, nn.Linear) and module is not net[-1]:
            pre_activations.append(h.detach().flatten())
    F.cross_entropy(h, y).backward()
    z = torch.cat(pre_activations)
    return {
        "saturated": float((z.abs() > limit).float().mean()),
        "mean_derivative": float((1 - torch.tanh(z) ** 2).mean()),
        "first_grad": float(hidden[0].weight.grad.norm()),
        "last_grad": float(hidden[-1].weight.grad.norm()),
    }
