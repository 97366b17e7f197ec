import random

import numpy as np
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
