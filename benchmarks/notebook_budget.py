"""Each notebook alone on the machine, against its time budget: `make bench`.

Why a benchmark and not a test: the suite runs two notebooks at a time beside everything
else, so its times say as much about the machine's load as about the notebook, and a
busy machine must not fail a correct change. Here each notebook runs by itself, one
after another, as on a reader's 2-core laptop (the book's chapters with the explorers
precomputed, as the published book executes them), and the run fails if any notebook
fails or takes longer than its budget (design.md: 60 s each on a 2-core CPU).

    python benchmarks/notebook_budget.py                      # book/ and solutions/
    python benchmarks/notebook_budget.py book/07-*.ipynb --budget 60

Prints a row per notebook (seconds, status) and the median; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from cnnbook.runtime import STATIC_ENV
from cnnbook.widgets.static import BUILD_FRAMES, FRAMES_ENV

ROOT = Path(__file__).resolve().parent.parent

BUDGET_SECONDS = 60.0
CELL_TIMEOUT = 120  # the suite's stall guard (pyproject's --nbval-cell-timeout)


def glued(nb: nbformat.NotebookNode) -> dict[str, str]:
    """The values an executed notebook glued for its prose, as the book shows them."""
    values = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if record:
                plain = f"{record['mime_prefix']}text/plain"
                values[record["name"]] = output.get("data", {}).get(plain, "")
    return values


def run(
    path: Path,
    cell_timeout: int = CELL_TIMEOUT,
    settings: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> tuple[float, str | None]:
    """Execute one notebook in a fresh kernel, with `settings` added to its environment:
    (seconds, kernel start included; the error's first line, or None). The values it
    glued are added to `values` when given."""
    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, **(settings or {})}
    if path.resolve().parent == ROOT / "book":  # as the book's build runs it
        env[STATIC_ENV] = "1"
        env[FRAMES_ENV] = str(ROOT / BUILD_FRAMES)
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
    start = time.perf_counter()
    try:
        client.execute(env=env)
    except CellTimeoutError as error:
        return time.perf_counter() - start, str(error).strip().splitlines()[0]
    except CellExecutionError as error:
        return time.perf_counter() - start, f"{error.ename}: {error.evalue}"
    finally:
        if values is not None:
            values.update(glued(nb))
    return time.perf_counter() - start, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS, help="seconds each")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(
        [*ROOT.glob("book/[0-9][0-9]-*.ipynb"), *ROOT.glob("solutions/[0-9][0-9]-*.ipynb")]
    )
    times, failures = [], 0
    print(f"{'seconds':>8}  {'budget':>6}  notebook", flush=True)
    for path in paths:
        seconds, error = run(path)
        times.append(seconds)
        over = seconds > args.budget
        failures += bool(error) or over
        status = f"FAILED: {error}" if error else "OVER BUDGET" if over else "ok"
        print(f"{seconds:8.1f}  {args.budget:6.0f}  {path}  {status}", flush=True)
    print(f"{len(paths)} notebooks, median {statistics.median(times):.1f} s, "
          f"longest {max(times):.1f} s; {failures} failed or over budget")  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
