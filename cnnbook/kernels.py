"""Classic hand-made 3x3 kernels: what a convolution layer learns, written by hand.

Chapter 1 applies them to a photo and its kernel explorer offers them as presets; later
chapters compare learned first-layer filters with them.
"""

from __future__ import annotations

import torch

KERNELS: dict[str, torch.Tensor] = {
    "identity": torch.tensor([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "edge: Sobel x": torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "edge: Sobel y": torch.tensor([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "edge: Laplacian": torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "blur: box": torch.full((3, 3), 1 / 9),
    "blur: Gaussian": torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16,
    "sharpen": torch.tensor([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
}


def parse_kernel(text: str) -> torch.Tensor:
    """A 3x3 kernel from text such as ``"1 0 -1; 2 0 -2; 1 0 -1"`` (rows split by ';')."""
    rows = [row.replace(",", " ").split() for row in text.strip().split(";")]
    if len(rows) != 3 or any(len(row) != 3 for row in rows):
        raise ValueError("write three rows of three numbers, rows separated by ';'")
    return torch.tensor([[float(v) for v in row] for row in rows])
