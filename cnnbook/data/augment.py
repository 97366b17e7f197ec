"""Data augmentation for small images, written out so a reader sees what it does."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shift(
    images: torch.Tensor, max_shift: int = 1, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Move each (N, C, H, W) image by up to `max_shift` pixels in x and y, filling with 0.

    A digit moved by a pixel is still the same digit, so the shifted copies are new
    training examples for free; this is the augmentation LeNet-era papers used.
    """
    n, _, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4)
    shifts = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator, device="cpu").tolist()
    return torch.stack(
        [padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(shifts)]
    )
