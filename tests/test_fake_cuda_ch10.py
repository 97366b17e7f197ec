"""Chapter 10's GPU paths, checked without a GPU (the cases are in
`fake_cuda_ch10_cases.py`), in a fresh interpreter as `test_fake_cuda.py` explains."""

import re
import subprocess
import sys

from conftest import ROOT


def test_chapter_10_helpers_on_fake_cuda_in_a_fresh_process():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
         str(ROOT / "tests" / "fake_cuda_ch10_cases.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed[1]) >= 2, result.stdout[-2000:]
