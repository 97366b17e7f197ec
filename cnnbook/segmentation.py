"""Training and judging segmentation networks on the generated scenes (Chapter 7).

Both pages of Chapter 7 train FCNs the same way, so the loop lives here: Adam with a
one-cycle schedule, per-pixel cross-entropy, and after every epoch the held-out mean IoU
and the predictions on a few scenes, which the chapter draws as training progresses.
Inputs are kept channels-last, the layout in which CPU convolutions of these small
networks ran about 1.7 times faster here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.colors import ListedColormap
from torch import nn

from cnnbook.data import Batches
from cnnbook.metrics import confusion_matrix, iou_per_class, pixel_accuracy
from cnnbook.plotting import COLUMN_INCHES
from cnnbook.runtime import progress_bar

# background, circle, square, triangle: dark grey and three colours that differ in print
PALETTE = ListedColormap(["#3b3b3b", "#e69f00", "#56b4e9", "#cc79a7"])


@dataclass
class SegmentationHistory:
    """Per-epoch training loss, held-out scores and predictions on `shown` scenes."""

    train_loss: list[float] = field(default_factory=list)
    mean_iou: list[float] = field(default_factory=list)
    pixel_accuracy: list[float] = field(default_factory=list)
    iou: list[torch.Tensor] = field(default_factory=list)  # per class, per epoch
    predictions: list[torch.Tensor] = field(default_factory=list)  # (len(shown), H, W)
    seconds: float = 0.0


def standardize(images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Images scaled by the per-channel mean and deviation of `reference` (the training
    images), in channels-last layout."""
    mean = reference.mean((0, 2, 3), keepdim=True)
    std = reference.std((0, 2, 3), keepdim=True)
    return ((images - mean) / std).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def predict(
    model: nn.Module, images: torch.Tensor, device: torch.device | str, batch_size: int = 100
) -> torch.Tensor:
    """Class ids (N, H, W) on the CPU, in eval mode."""
    was_training = model.training
    model.eval()
    out = [
        model(images[i : i + batch_size].to(device)).argmax(1).cpu()
        for i in range(0, len(images), batch_size)
    ]
    model.train(was_training)
    return torch.cat(out)


def train_segmenter(
    model: nn.Module,
    images: torch.Tensor,
    masks: torch.Tensor,
    val_images: torch.Tensor,
    val_masks: torch.Tensor,
    epochs: int,
    device: torch.device | str,
    lr: float = 2e-2,
    batch_size: int = 16,
    shown: int = 4,
    progress: bool = True,
) -> SegmentationHistory:
    """Train with Adam and a one-cycle schedule; score the held-out scenes every epoch.

    `images` and `val_images` should already be standardized (`standardize`)."""
    num_classes = int(masks.max()) + 1
    model.to(device=device, memory_format=torch.channels_last)
    batches = Batches(images, masks, batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=epochs * len(batches))
    history = SegmentationHistory()
    start = time.perf_counter()
    for _ in progress_bar(range(epochs), progress, desc="epochs"):
        model.train()
        total, count = 0.0, 0
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total, count = total + loss.item() * len(y), count + len(y)
        pred = predict(model, val_images, device)
        confusion = confusion_matrix(pred, val_masks, num_classes)
        history.train_loss.append(total / count)
        history.iou.append(iou_per_class(confusion))
        history.mean_iou.append(float(history.iou[-1].nanmean()))
        history.pixel_accuracy.append(pixel_accuracy(confusion))
        history.predictions.append(pred[:shown].clone())
    history.seconds = time.perf_counter() - start
    return history


def boundary_band(masks: torch.Tensor, width: int) -> torch.Tensor:
    """Pixels within `width` pixels (in the max-norm) of a change of class: where
    boundary errors happen, and where a coarse prediction is judged."""
    m = masks.float().unsqueeze(1)
    size = 2 * width + 1
    high = F.max_pool2d(m, size, stride=1, padding=width)
    low = -F.max_pool2d(-m, size, stride=1, padding=width)
    return (high != low).squeeze(1)


def show_segmentations(
    images: torch.Tensor,
    rows: dict[str, torch.Tensor],
    title: str,
    class_names: tuple[str, ...] = ("background", "circle", "square", "triangle"),
) -> plt.Figure:
    """Scenes in the first row, then one row of masks per entry of `rows` (its name on
    the left), in the chapter's palette with a legend."""
    n = len(images)
    side = min(1.9, (COLUMN_INCHES - 0.3) / n)  # the row names take 0.3 inches
    height = side * (1 + len(rows)) + 0.4
    fig, axes = plt.subplots(1 + len(rows), n, figsize=(side * n + 0.3, height), squeeze=False)
    for j in range(n):
        axes[0, j].imshow(images[j].permute(1, 2, 0).clamp(0, 1).numpy())
        for i, masks in enumerate(rows.values(), start=1):
            axes[i, j].imshow(masks[j].numpy(), cmap=PALETTE, vmin=0, vmax=len(class_names) - 1,
                              interpolation="nearest")  # fmt: skip
    for ax in axes.flat:
        ax.set(xticks=[], yticks=[])
    for i, name in enumerate(["scene", *rows]):
        axes[i, 0].set_ylabel(name)
    handles = [plt.Rectangle((0, 0), 1, 1, color=PALETTE(k)) for k in range(len(class_names))]
    fig.legend(handles, class_names, loc="lower center", ncol=len(class_names), frameon=False,
               fontsize=9)  # fmt: skip
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
