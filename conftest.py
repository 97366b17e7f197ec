"""Notebooks in the suite: how long each took, and one execution shared with the book.

nbval turns every cell into a test item; the items are added up per notebook, kernel
start included, and the controller prints the table of times at the end. The times are
reported, never enforced here: a busy machine must not fail a correct change. Holding
each notebook to its budget, alone on the machine, is the benchmark's job (`make bench`,
benchmarks/notebook_budget.py).

The chapters in book/ run first, with the precomputed explorers of the published pages,
and each run is handed to the book-build test (tests/notebook_runs.py), which is ordered
right after them: no chapter executes twice in a suite.
"""

import os
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest
from nbval.kernel import RunningKernel

from cnnbook.grading.checks import STRICT_ENV
from cnnbook.runtime import STATIC_ENV
from cnnbook.widgets.static import BUILD_FRAMES, FRAMES_ENV

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tests"))  # as pytest puts it for the tests themselves
from notebook_runs import RUNS_ENV, record  # noqa: E402

BUILD_TEST = "tests/test_book_build.py"

# The suite runs two test processes on two cores; if each also ran two BLAS/OpenMP
# threads, the cores would be oversubscribed and notebooks took twice as long (measured:
# Chapter 3 alongside Chapter 1, 33 s vs 11 s). Set before xdist starts its workers,
# which, like the notebook kernels and the book build, inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _execute_as_jupyter_does(self, cell_input, allow_stdin=None):
    """nbval sends cells with store_history=False, which Jupyter never does: IPython then
    ignores a closing `;` (it reads the cell from the history) and shows the figure a
    chapter meant to hide, twice. The suite's run is the book's, so run cells as Jupyter."""
    return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin,
                           stop_on_error=False)  # fmt: skip


RunningKernel.execute_cell_input = _execute_as_jupyter_does

_notebook_seconds: dict[str, float] = defaultdict(float)  # the controller's table
_worker_seconds: dict[str, float] = defaultdict(float)  # this process's running sums
_failed: set[str] = set()
_last_item: dict[str, str] = {}


def _notebook(nodeid: str) -> str | None:
    path = nodeid.split("::", 1)[0]
    return path if path.endswith(".ipynb") else None


def _chapter(nodeid: str) -> bool:
    return (_notebook(nodeid) or "").startswith("book/")


def pytest_configure(config):
    """On the controller (or a run without xdist): the folder this session's chapter
    runs go to, named in the environment before the workers start."""
    if not hasattr(config, "workerinput") and RUNS_ENV not in os.environ:
        folder = tempfile.mkdtemp(prefix="cnnbook-runs-")
        os.environ[RUNS_ENV] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
        config.add_cleanup(lambda: os.environ.pop(RUNS_ENV, None))


def pytest_collection_modifyitems(items):
    """Chapters first, then the book build that reads their runs, then everything else.
    xdist keeps this order (`--no-loadscope-reorder`) when it hands out files, so the
    build starts once every chapter has been handed out."""
    items.sort(key=lambda item: 0 if _chapter(item.nodeid) else
               1 if item.nodeid.startswith(BUILD_TEST) else 2)  # fmt: skip


def pytest_collection_finish(session):
    """Each notebook's last cell among the items that will run (after any -k or -m)."""
    for item in session.items:
        if path := _notebook(item.nodeid):
            _last_item[path] = item.nodeid


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """A notebook's kernel starts in its first cell's setup: every one with self-checks
    that raise on a failing case, a chapter's also with the published book's explorers."""
    if not _notebook(item.nodeid):
        yield
        return
    book = {STATIC_ENV: "1", FRAMES_ENV: str(ROOT / BUILD_FRAMES)}
    settings = {STRICT_ENV: "1", **(book if _chapter(item.nodeid) else {})}
    before = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    path = _notebook(item.nodeid)
    if path is None:
        return
    _worker_seconds[path] += report.duration
    if report.failed:
        _failed.add(path)
    if call.when == "call" and getattr(item, "test_outputs", None) is not None:
        item.cell.outputs = item.test_outputs  # what the book shows under the cell
    if _chapter(item.nodeid) and item.nodeid == _last_item[path] and call.when == "teardown":
        nb = None if path in _failed else item.parent.nb
        record(ROOT / path, nb, _worker_seconds[path])


def pytest_runtest_logreport(report):
    if path := _notebook(report.nodeid):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    terminalreporter.section("notebook times in the suite (`make bench` times each alone)")
    for path, seconds in sorted(_notebook_seconds.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}")
