"""A notebook execution can never stall the suite; its time is reported there, and held
to its budget by the benchmark (`make bench`), never by the suite.

Each case runs pytest on a small generated notebook in a separate process, with the
repository's conftest and nbval, as `make test` does, or the benchmark script.
"""

import re
import shutil
import subprocess
import sys
import time

import nbformat
import pytest
import yaml

from conftest import ROOT

# the ceiling for any configured cell timeout: a stall must fail within minutes
MAX_CELL_TIMEOUT = 300


def _configured_nbval_timeout() -> int:
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r"--nbval-cell-timeout[= ](\d+)", text)
    assert match, "pyproject.toml's addopts must set --nbval-cell-timeout"
    return int(match[1])


def test_cell_timeouts_are_configured_for_the_suite_and_the_book_build():
    assert 0 < _configured_nbval_timeout() <= MAX_CELL_TIMEOUT
    book_timeout = yaml.safe_load((ROOT / "_config.yml").read_text())["execute"]["timeout"]
    assert 0 < book_timeout <= MAX_CELL_TIMEOUT


def _case(tmp_path, source: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import signal, time"), nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, tmp_path / "case.ipynb")
    return tmp_path / "case.ipynb"


def _run_notebook(tmp_path, source: str, *options: str):
    """pytest with the repository's conftest and nbval on one generated notebook."""
    _case(tmp_path, source)
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "notebook_runs.py", tmp_path / "tests" / "notebook_runs.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --nbval-lax -p no:cacheprovider\n")
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "case.ipynb", *options],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - start


@pytest.mark.parametrize(
    "source",
    [
        "time.sleep(600)",
        # a kernel that ignores the interrupt, as one that lost a reply would look
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\ntime.sleep(600)",
    ],
    ids=["busy", "deaf"],
)
def test_a_stalled_cell_fails_within_the_timeout_and_names_the_cell(tmp_path, source):
    code, output, seconds = _run_notebook(tmp_path, source, "--nbval-cell-timeout=4")
    assert code == 1, output
    assert "Timeout of 4 seconds exceeded" in output
    assert "Cell 1" in output and "time.sleep(600)" in output
    assert seconds < 60


def test_the_suite_reports_a_slow_notebook_without_failing_it(tmp_path):
    """A busy machine must not fail a correct change: time is the benchmark's business."""
    code, output, _ = _run_notebook(tmp_path, "time.sleep(2)")
    assert code == 0, output
    assert re.search(r"^ +\d+\.\d s  case\.ipynb$", output, flags=re.M), output


def test_the_benchmark_fails_a_notebook_over_its_budget_with_its_time(tmp_path):
    bench = [
        sys.executable,
        str(ROOT / "benchmarks" / "notebook_budget.py"),
        str(_case(tmp_path, "time.sleep(2)")),
    ]
    over = subprocess.run([*bench, "--budget", "1"], capture_output=True, text=True, timeout=120)
    assert over.returncode == 1, over.stdout + over.stderr
    assert re.search(r"^ +\d+\.\d +1  \S*case\.ipynb  OVER BUDGET$", over.stdout, flags=re.M)
    within = subprocess.run([*bench, "--budget", "30"], capture_output=True, text=True, timeout=120)
    assert within.returncode == 0, within.stdout + within.stderr
    assert "case.ipynb  ok" in within.stdout


def test_the_benchmark_fails_a_notebook_that_raises(tmp_path):
    bench = [
        sys.executable,
        str(ROOT / "benchmarks" / "notebook_budget.py"),
        str(_case(tmp_path, "1 / 0")),
    ]
    result = subprocess.run(bench, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "FAILED: ZeroDivisionError: division by zero" in result.stdout
