import random

import numpy as np
import pytest
import torch

import cnnbook
from conftest import ROOT


def test_device_is_cuda_exactly_when_available():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert cnnbook.device().type == expected


def test_seed_repeats_python_numpy_and_torch():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    cnnbook.seed(7)
    first = draw()
    cnnbook.seed(7)
    assert draw() == first
    cnnbook.seed(8)
    assert draw() != first


def test_describe_names_device_and_versions():
    line = cnnbook.describe("cpu")
    assert line.startswith("device: cpu |")
    assert torch.__version__ in line


def test_glue_returns_its_value_outside_a_notebook():
    assert cnnbook.glue("answer", 42) == 42


def test_budget_follows_the_device_unless_the_environment_says(monkeypatch):
    monkeypatch.delenv("CNNBOOK_BUDGET", raising=False)
    assert cnnbook.budget() == ("gpu" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv("CNNBOOK_BUDGET", "gpu")
    assert cnnbook.sized(cpu=(1, 2), gpu=(3, 4)) == (3, 4)
    monkeypatch.setenv("CNNBOOK_BUDGET", " CPU ")
    assert cnnbook.sized(cpu=(1, 2), gpu=(3, 4)) == (1, 2)
    monkeypatch.setenv("CNNBOOK_BUDGET", "tpu")
    with pytest.raises(ValueError, match="CNNBOOK_BUDGET"):
        cnnbook.budget()


def test_progress_bar_shows_where_a_reader_watches_and_not_in_the_book_build(monkeypatch):
    from cnnbook.runtime import STATIC_ENV, progress_bar

    monkeypatch.delenv(STATIC_ENV, raising=False)
    assert not progress_bar(range(3)).disable
    assert progress_bar(range(3), enabled=False).disable
    monkeypatch.setenv(STATIC_ENV, "1")
    bar = progress_bar(range(3))
    assert bar.disable and list(bar) == [0, 1, 2]


def test_the_seed_switch_moves_every_seed(monkeypatch):
    """CNNBOOK_SEED reruns a chapter on other random draws: it shifts `seed`, `generator`
    and the batch order alike."""
    from cnnbook.data import Batches

    def draws():
        cnnbook.seed(1)
        order = next(iter(Batches(torch.arange(8), torch.arange(8), 8)))[0]
        return torch.rand(3), torch.rand(3, generator=cnnbook.generator(1)), order

    usual = draws()
    monkeypatch.setenv("CNNBOOK_SEED", "7")
    assert cnnbook.generator(1).initial_seed() == 8
    shifted = draws()
    assert all(not torch.equal(a, b) for a, b in zip(usual, shifted, strict=True))
    monkeypatch.setenv("CNNBOOK_SEED", "seven")
    with pytest.raises(ValueError, match="CNNBOOK_SEED must be an integer"):
        cnnbook.seed(0)


def test_no_chapter_seeds_past_the_switch():
    """Every seed a chapter sets goes through `cnnbook.seed` or `cnnbook.generator`."""
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        text = path.read_text()
        for direct in ("torch.manual_seed(", ".manual_seed(", "np.random.seed(", "random.seed("):
            assert direct not in text, f"{path.name} calls {direct}...)"


def test_the_package_s_experiments_seed_through_the_switch():
    """The training and probing helpers a chapter calls (races, labs, recurrences, fits)
    seed through `runtime`, so CNNBOOK_SEED reaches them too. Left fixed on purpose: the
    data (`cnnbook.data`: a data set is the same on every rerun) and the grader's hidden
    cases (`cnnbook.grading`: every student gets the same)."""
    package = ROOT / "cnnbook"
    for path in sorted(package.rglob("*.py")):
        part = path.relative_to(package).parts[0]
        if part in ("data", "grading", "runtime.py"):
            continue
        assert "manual_seed(" not in path.read_text(), f"{path.relative_to(ROOT)} seeds directly"
