"""The small train/evaluate loop the chapters share.

Chapters are about models, not bookkeeping: this loop moves batches to the device,
shows a progress bar, times itself and records a history that `plotting.plot_history`
draws. It is deliberately plain so a reader can check every line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.runtime import progress_bar

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class History:
    """Per-epoch metrics and the total wall time of a `fit` call."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, list[float]]:
        """The metric curves only, in the form `plot_history` takes."""
        return {
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "train_accuracy": self.train_accuracy,
            "val_accuracy": self.val_accuracy,
        }


@dataclass
class StepLosses:
    """A training run that counts steps, not epochs: the mean training loss over each
    window of steps, the step that closed the window, and the run's wall time."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_by_steps(
    model: nn.Module,
    step_loss: Callable[[], torch.Tensor],
    steps: int,
    lr: float,
    max_norm: float,
    every: int,
) -> StepLosses:
    """Adam for `steps` updates, each on the loss `step_loss()` computes from a fresh
    batch, with the gradients' global norm clipped to `max_norm`; the mean loss over
    every `every` steps is recorded. For data that is generated, not read in epochs."""
    from cnnbook.sequences import clip_grad_norm

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history, window, start = StepLosses(), [], time.perf_counter()
    for step in range(1, steps + 1):
        loss = step_loss()
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm(model.parameters(), max_norm)
        optimizer.step()
        window.append(loss.detach())
        if step % every == 0 or step == steps:
            history.steps.append(step)
            history.loss.append(torch.stack(window).mean().item())
            window = []
    history.seconds = time.perf_counter() - start
    return history


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[Batch],
    device: torch.device | str,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
) -> tuple[float, float]:
    """Mean loss and accuracy over `batches`, in eval mode (dropout off, BN frozen).

    Accuracy counts every label: one per image for classification, one per pixel for
    segmentation (pixel accuracy), where outputs are (N, classes, H, W)."""
    was_training = model.training
    model.eval()
    total_loss, correct, count, labels = 0.0, 0, 0, 0
    for inputs, targets in batches:
        inputs, targets = inputs.to(device), targets.to(device)
        outputs = model(inputs)
        total_loss += float(loss_fn(outputs, targets)) * len(targets)
        correct += int((outputs.argmax(1) == targets).sum())
        count += len(targets)
        labels += targets.numel()
    model.train(was_training)
    return total_loss / max(count, 1), correct / max(labels, 1)


def fit(
    model: nn.Module,
    train_batches: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    epochs: int,
    device: torch.device | str,
    val_batches: Iterable[Batch] | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    progress: bool = True,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> History:
    """Train `model` for `epochs` epochs and return its history.

    Train metrics are averaged over the epoch's batches as they are seen (the usual
    running estimate); validation metrics come from `evaluate` after each epoch.
    """
    history = History()
    model.to(device)
    start = time.perf_counter()
    for _ in progress_bar(range(epochs), progress, desc="epochs"):
        model.train()
        total_loss, correct, count, labels = 0.0, 0, 0, 0
        for inputs, targets in train_batches:
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total_loss += loss.item() * len(targets)
            correct += int((outputs.argmax(1) == targets).sum())
            count += len(targets)
            labels += targets.numel()
        history.train_loss.append(total_loss / max(count, 1))
        history.train_accuracy.append(correct / max(labels, 1))
        if val_batches is not None:
            val_loss, val_accuracy = evaluate(model, val_batches, device, loss_fn)
            history.val_loss.append(val_loss)
            history.val_accuracy.append(val_accuracy)
    history.seconds = time.perf_counter() - start
    return history
