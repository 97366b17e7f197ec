"""The GPU paths, checked without a GPU (the cases are in `fake_cuda_cases.py` and, for
Chapter 10, `fake_cuda_ch10_cases.py`).

They run in a fresh interpreter: fake tensors compute shapes with PyTorch's Meta
kernels, and the grader's watch tests, which may share this worker process, register
raising kernels over operators such as `aten::convolution` that leave the Meta path of
those operators unusable for the rest of the process.
"""

import re
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.parametrize(("cases", "count"), [("fake_cuda_cases.py", 18),
                                              ("fake_cuda_ch10_cases.py", 2)])  # fmt: skip
def test_every_model_and_training_helper_on_fake_cuda_in_a_fresh_process(cases, count):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
         str(ROOT / "tests" / cases)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed[1]) >= count, result.stdout[-2000:]  # the cases ran, all of them
