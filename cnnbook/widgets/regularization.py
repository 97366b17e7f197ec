"""Chapter 5's regularization lab: one over-fitting task, three regularizers to try.

A 64-256-256-10 MLP trained on only 100 of scikit-learn's digits over-fits quickly;
dropout, weight decay and augmentation each slow that down. Runs are cached, so moving
back to a setting already seen is instant.
"""

from __future__ import annotations

from functools import lru_cache

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from cnnbook import runtime
from cnnbook.data import digits, random_shift
from cnnbook.widgets import wire

TRAIN_SIZE = 100


def lab_network(dropout: float) -> nn.Sequential:
    """The over-fitting model, with dropout after each hidden layer."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(256, 256), nn.ReLU(), nn.Dropout(dropout), nn.Linear(256, 10),
    )  # fmt: skip


@lru_cache(maxsize=128)
def regularization_run(
    dropout: float = 0.0,
    weight_decay: float = 0.0,
    augment: bool = False,
    input_noise: float = 0.0,
    weight_noise: float = 0.0,
    epochs: int = 150,
    seed: int = 0,
    device: str | None = None,
) -> dict[str, list[float]]:
    """Train on the first TRAIN_SIZE training digits; per-epoch curves on the held-out
    digits (validation: the set that choices such as the early-stopping epoch are made
    on) and on the remaining training-split digits, which the network never sees (test:
    where a chosen model is scored, so the choice does not flatter its own score).

    `input_noise` adds Gaussian noise of that standard deviation to every training
    image; `weight_noise` perturbs every weight by such noise for each forward pass
    (the update is applied to the clean weights). Random numbers come from a CPU
    generator, so a run draws the same batches and noise on any `device` (default: the
    fastest present).
    """
    dev = torch.device(device) if device else runtime.device()
    runtime.seed(seed)
    gen = runtime.generator(seed)
    train, val = digits()
    x_train, y_train = train.tensors[0][:TRAIN_SIZE], train.tensors[1][:TRAIN_SIZE].to(dev)
    x_val, y_val = val.tensors[0].to(dev), val.tensors[1].to(dev)
    x_test, y_test = train.tensors[0][TRAIN_SIZE:].to(dev), train.tensors[1][TRAIN_SIZE:].to(dev)
    net = lab_network(dropout).to(dev)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=weight_decay)
    history: dict[str, list[float]] = {
        f"{split}_{metric}": []
        for split in ("train", "val", "test")
        for metric in ("loss", "accuracy")
    }
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(TRAIN_SIZE, generator=gen).split(50):
            inputs = x_train[idx]
            if augment:
                inputs = random_shift(inputs, 1, gen)
            if input_noise:
                inputs = inputs + input_noise * torch.randn(inputs.shape, generator=gen)
            inputs = inputs.to(dev)
            clean = [p.detach().clone() for p in net.parameters()]
            if weight_noise:
                with torch.no_grad():
                    for p in net.parameters():
                        p.add_(weight_noise * torch.randn(p.shape, generator=gen).to(dev))
            loss = F.cross_entropy(net(inputs), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            with torch.no_grad():  # the gradient was taken at the noisy weights
                for p, c in zip(net.parameters(), clean, strict=True):
                    p.copy_(c)
            optimizer.step()
        net.eval()
        with torch.no_grad():
            for split, (x, y) in {
                "train": (x_train.to(dev), y_train),
                "val": (x_val, y_val),
                "test": (x_test, y_test),
            }.items():
                logits = net(x)
                history[f"{split}_loss"].append(float(F.cross_entropy(logits, y)))
                history[f"{split}_accuracy"].append(float((logits.argmax(1) == y).float().mean()))
    return history


def render_regularization_lab(
    dropout: float = 0.5, weight_decay: float = 0.0, augment: bool = False
) -> Figure:
    """Loss and accuracy curves of the chosen setting, with the unregularized run's
    validation curves in grey for comparison."""
    run = regularization_run(dropout, weight_decay, augment)
    base = regularization_run()
    epochs = range(1, len(run["train_loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(6.8, 3.4))
    for ax, metric in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.plot(
            epochs,
            base[f"val_{metric}"],
            color="grey",
            ls=":",
            label="validation, no regularization",
        )
        ax.plot(epochs, run[f"train_{metric}"], label="training")
        ax.plot(epochs, run[f"val_{metric}"], label="validation")
        ax.set(xlabel="epoch", ylabel=metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax_loss.set(yscale="log", title="Cross-entropy")
    ax_acc.set(title=f"Accuracy (final validation\n{run['val_accuracy'][-1]:.1%})")
    setting = (
        f"dropout {dropout}, weight decay {weight_decay}, augmentation {'on' if augment else 'off'}"
    )
    fig.suptitle(f"{TRAIN_SIZE} training digits: {setting}")
    fig.tight_layout()
    return fig


def regularization_lab():
    """Sliders for dropout and weight decay and an augmentation toggle."""
    import ipywidgets as widgets

    slider = widgets.SelectionSlider
    controls = {
        "dropout": slider(options=[0.0, 0.2, 0.5], value=0.5, description="dropout"),
        "weight_decay": slider(options=[0.0, 1e-3, 1e-2], value=0.0, description="weight decay"),
        "augment": widgets.Checkbox(value=False, description="random shifts"),
    }

    return wire(
        render_regularization_lab,
        controls,
        [["dropout", "weight_decay", "augment"]],
        static={"dropout": None, "weight_decay": None, "augment": None},
    )
