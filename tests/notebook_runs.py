"""One execution of each chapter per suite: nbval runs it as tests, the book reads it.

nbval executes a book notebook cell by cell (each cell a test item). When the last cell
has run, the worker writes the executed notebook to a folder the controller made for
this session and named in the environment (xdist workers inherit it), or a marker that
it failed. The book-build test waits for every chapter of its session, loads the runs
into the jupyter-cache that myst-nb reads (`execute_notebooks: cache`), and the build then
executes only what the session did not (a chapter outside a `-k` selection, say).

Book notebooks run with the precomputed explorers the published pages need (the
environment variable of `cnnbook.widgets.static`), so the tested run is the published
one; the live explorers are built by the widget tests.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat

RUNS_ENV = "CNNBOOK_NOTEBOOK_RUNS"
SECONDS_KEY = "cnnbook_suite_seconds"  # notebook metadata: the run's time, for the report


def runs_folder() -> Path | None:
    """The folder this session's runs go to, or None outside a suite that shares them."""
    folder = os.environ.get(RUNS_ENV)
    return Path(folder) if folder else None


def record(path: Path, nb: nbformat.NotebookNode | None, seconds: float) -> None:
    """Hand a finished run to the book build: the executed notebook, or (None) a marker
    that it failed. Written under a temporary name and renamed, so a reader never sees
    half a notebook."""
    folder = runs_folder()
    if folder is None:
        return
    if nb is None:
        (folder / f"{path.stem}.failed").touch()
        return
    nb.metadata[SECONDS_KEY] = round(seconds, 2)
    partial = folder / f"{path.stem}.ipynb.partial"
    nbformat.write(nb, partial)
    partial.rename(folder / f"{path.stem}.ipynb")


def wait_for(stems: list[str], timeout: float) -> tuple[dict[str, Path], list[str]]:
    """The runs of these chapters: (executed notebooks by stem, stems that failed).

    xdist hands the book-build test out only after every chapter (the suite orders them
    first), so a chapter not yet here is running on the other worker: wait for it, up to
    `timeout` seconds, after which the build executes whatever is still missing."""
    folder = runs_folder()
    if folder is None:
        return {}, []
    deadline = time.monotonic() + timeout
    while True:
        done = {s: folder / f"{s}.ipynb" for s in stems if (folder / f"{s}.ipynb").exists()}
        failed = [s for s in stems if (folder / f"{s}.failed").exists()]
        if len(done) + len(failed) == len(stems) or time.monotonic() > deadline:
            return done, failed
        time.sleep(1)


def fill_cache(cache_path: Path, runs: dict[str, Path], book: Path) -> None:
    """Store each run in the jupyter-cache as myst-nb itself would after executing it;
    myst-nb matches a notebook to its run by the hash of its code cells."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(cache_path))
    for stem, run in runs.items():
        nb = nbformat.read(run, as_version=4)
        seconds = nb.metadata.pop(SECONDS_KEY, None)
        bundle = CacheBundleIn(nb, str(book / f"{stem}.ipynb"), data={"execution_seconds": seconds})
        cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
