"""Mini-batches straight from tensors, reshuffled every epoch.

A `DataLoader` over a `TensorDataset` collates each batch item by item; for data that
already sits in one tensor, slicing is several times faster, which matters when a whole
training run has to fit in a few CPU seconds. The object can be iterated once per epoch,
so it plugs into `cnnbook.training.fit` like a loader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from cnnbook.runtime import generator


class Batches:
    """Batches of (inputs, targets); optional `transform` (augmentation) is applied to
    each input batch as it is drawn, so every epoch sees new random variants."""

    def __init__(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        batch_size: int,
        shuffle: bool = True,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        seed: int = 0,
    ):
        if len(inputs) != len(targets):
            raise ValueError(f"{len(inputs)} inputs but {len(targets)} targets")
        self.inputs, self.targets = inputs, targets
        self.batch_size, self.shuffle, self.transform = batch_size, shuffle, transform
        self.generator = generator(seed)

    def __len__(self) -> int:
        return -(-len(self.inputs) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.inputs)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            x = self.inputs[index]
            yield (self.transform(x) if self.transform else x), self.targets[index]
