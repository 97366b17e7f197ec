"""Where code runs and how it is made repeatable.

Every notebook calls `device()` and `seed()` in its setup cell, so a chapter runs
unchanged on a laptop CPU, in Colab on a GPU, and in the test suite.
"""

from __future__ import annotations

import platform
import random

import numpy as np
import torch


def device() -> torch.device:
    """The fastest device present: CUDA when a GPU is visible, else the CPU.

    On CUDA, TF32 matrix and convolution math is switched off: the chapters compare
    from-scratch code with PyTorch at float32 tolerances, which TF32's 10-bit mantissa
    would break.
    """
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        return torch.device("cuda")
    return torch.device("cpu")


def seed(value: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so figures and numbers repeat."""
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)


def describe(dev: torch.device | str) -> str:
    """One line naming the device and library versions, printed by every setup cell."""
    import torchvision

    dev = torch.device(dev)
    name = f"{dev.type} ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else dev.type
    return (
        f"device: {name} | torch {torch.__version__} | "
        f"torchvision {torchvision.__version__} | Python {platform.python_version()}"
    )
