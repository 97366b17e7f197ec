import random

import numpy as np
import pytest
import torch

import cnnbook


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
