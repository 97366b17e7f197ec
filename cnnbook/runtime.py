"""Where code runs and how it is made repeatable.

Every notebook calls `device()` and `seed()` in its setup cell, so a chapter runs
unchanged on a laptop CPU, in Colab on a GPU, and in the test suite. Experiments that
would take minutes on a CPU pick their size with `sized()`.
"""

from __future__ import annotations

import os
import platform
import random
from collections.abc import Iterable
from typing import TypeVar

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


BUDGET_VARIABLE = "CNNBOOK_BUDGET"
SEED_VARIABLE = "CNNBOOK_SEED"
T = TypeVar("T")


def budget() -> str:
    """The size of experiment a chapter runs here: "cpu" or "gpu".

    By default the GPU-size runs (more data, more epochs) go where CUDA is present. The
    environment variable CNNBOOK_BUDGET=cpu|gpu overrides it: `gpu` runs them on any
    device, so their code is exercised on a CPU too (the slow tests do); `cpu` keeps a
    GPU to the small runs, to compare timings with a CPU machine on the same work.
    """
    chosen = os.environ.get(BUDGET_VARIABLE, "").strip().lower()
    if chosen in ("cpu", "gpu"):
        return chosen
    if chosen:
        raise ValueError(f"{BUDGET_VARIABLE} must be 'cpu' or 'gpu', not {chosen!r}")
    return "gpu" if torch.cuda.is_available() else "cpu"


def sized(cpu: T, gpu: T) -> T:
    """The CPU-size or the GPU-size setting of an experiment, as `budget()` says."""
    return gpu if budget() == "gpu" else cpu


def seed_offset() -> int:
    """What CNNBOOK_SEED adds to every seed the chapters' experiments use (0 when unset):
    rerunning a chapter with another value shows which of its claims survive other random
    draws. The data sets (`cnnbook.data`) stay the same, as a real data set would."""
    text = os.environ.get(SEED_VARIABLE, "").strip()
    try:
        return int(text or 0)
    except ValueError:
        raise ValueError(f"{SEED_VARIABLE} must be an integer, not {text!r}") from None


def seed(value: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so figures and numbers repeat."""
    value += seed_offset()
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)


def generator(value: int = 0) -> torch.Generator:
    """A CPU random generator of its own, seeded like `seed` (with CNNBOOK_SEED's offset)."""
    return torch.Generator().manual_seed(value + seed_offset())


def describe(dev: torch.device | str) -> str:
    """One line naming the device and library versions, printed by every setup cell."""
    import torchvision

    dev = torch.device(dev)
    name = f"{dev.type} ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else dev.type
    return (
        f"device: {name} | torch {torch.__version__} | "
        f"torchvision {torchvision.__version__} | Python {platform.python_version()}"
    )


# Set while the published book executes the chapters (book/_ext/static_explorers.py): no
# kernel answers a widget on a static page.
STATIC_ENV = "CNNBOOK_STATIC_EXPLORERS"


def static_build() -> bool:
    """Whether this kernel executes a notebook for the published book."""
    return os.environ.get(STATIC_ENV) == "1"


def progress_bar(iterable: Iterable[T], enabled: bool = True, **options) -> Iterable[T]:
    """tqdm's bar over `iterable` (a widget in Jupyter and Colab) where a reader watches
    training, and none while the published book is built: there it would be a widget
    with no kernel and no state behind it, dead markup on the page."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not enabled or static_build(), **options)
