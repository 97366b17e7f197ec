"""Report how long each notebook took, summed over its cells, after the test run.

nbval turns every cell into a test item; the budget in the design (60 s per notebook on
a 2-core CPU) is about whole notebooks, so we add the items up per file. Under xdist the
reports reach the controller, so this works with ``-n 2`` too.
"""

import os
from collections import defaultdict

# The suite runs two test processes on two cores; if each also ran two BLAS/OpenMP
# threads, the cores would be oversubscribed and notebooks took twice as long (measured:
# Chapter 3 alongside Chapter 1, 33 s vs 11 s). Set before xdist starts its workers,
# which, like the notebook kernels and the book build, inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

BUDGET_SECONDS = 60.0
_notebook_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    terminalreporter.section("notebook execution times")
    for path, seconds in sorted(_notebook_seconds.items()):
        flag = "  OVER BUDGET" if seconds > BUDGET_SECONDS else ""
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}{flag}")
