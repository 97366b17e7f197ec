"""The 1,797 real handwritten digits of scikit-learn, split once and for all."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset


def digits(test_fraction: float = 0.2, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """Train and test sets of 8x8 digits as (1, 8, 8) float images in [0, 1] and labels.

    The split is random but seeded, so every chapter and every run sees the same
    test images and accuracies stay comparable across chapters.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(bunch.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    n_test = round(len(labels) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return TensorDataset(images[train], labels[train]), TensorDataset(images[test], labels[test])
