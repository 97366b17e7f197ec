"""Shared fixtures and helpers: the repository root, a non-interactive matplotlib
backend, a solutions notebook with cells replaced, and gradients through time by a
second route."""

from pathlib import Path

import matplotlib
import nbformat
import pytest
import torch

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def solution_with(notebook: Path, cells: dict[str, str]) -> nbformat.NotebookNode:
    """The solutions notebook with the cell defining each named function replaced: a
    submission that is right everywhere except where a test says otherwise."""
    nb = nbformat.read(notebook, as_version=4)
    for name, source in cells.items():
        cell = next(c for c in nb.cells if c.source.startswith(f"def {name}("))
        cell.source = source
    return nb


def norms_by_retain_grad(cell, xs: torch.Tensor, state) -> torch.Tensor:
    """||dL/dh_t|| for L = sum(h_T) the long way, to check `grad_norm_through_time`:
    retain every hidden state's gradient and call backward() (which also fills the
    cell's .grad, so callers pass a copy they can spoil)."""
    hidden = []
    for x in xs:
        state = cell(x, state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hidden.append(h)
    hidden[-1].sum().backward()
    return torch.stack([h.grad.norm() for h in hidden])


def assert_fits_the_column(fig, min_texts: int = 5) -> None:
    """A diagram legible in the book's column: at most 7.2 in wide (720 px as the notebook
    saves it, nothing sticking out), and every text at least 9 pt."""
    import io

    from matplotlib.text import Text
    from PIL import Image

    assert fig.get_size_inches()[0] <= 7.2
    texts = [t for t in fig.findobj(Text) if t.get_text()]
    assert len(texts) > min_texts
    assert min(t.get_fontsize() for t in texts) >= 9
    png = io.BytesIO()
    fig.savefig(png, dpi=100, bbox_inches="tight")  # as the notebook shows it
    assert Image.open(png).size[0] <= 720
