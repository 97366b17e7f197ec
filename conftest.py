"""Hold every notebook to its time budget, and report how long each one took.

nbval turns every cell into a test item; the budget in the design (60 s per notebook on
a 2-core CPU, in the suite's own conditions) is about whole notebooks, so the items are
added up per file, kernel start included. The last cell of a notebook over budget fails
with the notebook's time, so `make test` fails too. Under xdist (`--dist loadfile`) one
worker runs all of a notebook's cells, and the reports reach the controller, which
prints the table of times at the end.
"""

import os
from collections import defaultdict

import pytest

import cnnbook

# The suite runs two test processes on two cores; if each also ran two BLAS/OpenMP
# threads, the cores would be oversubscribed and notebooks took twice as long (measured:
# Chapter 3 alongside Chapter 1, 33 s vs 11 s). Set before xdist starts its workers,
# which, like the notebook kernels and the book build, inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

BUDGET_SECONDS = 60.0  # the default of the `notebook_budget_seconds` ini option
_notebook_seconds: dict[str, float] = defaultdict(float)  # the controller's table
_worker_seconds: dict[str, float] = defaultdict(float)  # this process's running sums
_last_item: dict[str, str] = {}


def _notebook(nodeid: str) -> str | None:
    path = nodeid.split("::", 1)[0]
    return path if path.endswith(".ipynb") else None


def pytest_addoption(parser):
    parser.addini(
        "notebook_budget_seconds",
        "seconds one notebook may take in the suite; slower ones fail",
        default=str(BUDGET_SECONDS),
    )


def _budget(config) -> float:
    return float(config.getini("notebook_budget_seconds"))


def pytest_collection_modifyitems(items):
    for item in items:
        if path := _notebook(item.nodeid):
            _last_item[path] = item.nodeid


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    path = _notebook(item.nodeid)
    if path is None:
        return
    _worker_seconds[path] += report.duration
    seconds, budget = _worker_seconds[path], _budget(item.config)
    last = call.when == "call" and item.nodeid == _last_item.get(path)
    # GPU-size runs (on a GPU, or CNNBOOK_BUDGET=gpu: the slow tests) may take longer.
    if last and report.passed and seconds > budget and cnnbook.budget() == "cpu":
        report.outcome = "failed"
        report.longrepr = (
            f"{path} took {seconds:.1f} s in this run, over its {budget:.0f} s budget "
            "(see design.md: every notebook must run within it on a 2-core CPU)"
        )


def pytest_runtest_logreport(report):
    if path := _notebook(report.nodeid):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    terminalreporter.section("notebook execution times")
    budget = _budget(terminalreporter.config)
    for path, seconds in sorted(_notebook_seconds.items()):
        flag = "  OVER BUDGET" if seconds > budget else ""
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}{flag}")
