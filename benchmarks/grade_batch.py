"""How fast does `cnnbook grade` work through a class? Prints the rate.

Builds N submissions of Chapter 1 (a third full solutions, a third blank exercises, a
third half-solved), grades them with -j JOBS into a fresh folder, and prints the wall
time and notebooks per minute. A benchmark, not a test: run it by hand,
``.venv/bin/python benchmarks/grade_batch.py --count 40 --jobs 2``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from cnnbook.grading.engine import isolation
from cnnbook.grading.engine.grader import grade_folder

ROOT = Path(__file__).resolve().parent.parent


def half_solved() -> nbformat.NotebookNode:
    """The solutions with every other exercise turned back into its stub."""
    solution = nbformat.read(ROOT / "solutions" / "01-convolution.ipynb", as_version=4)
    blank = nbformat.read(ROOT / "exercises" / "01-convolution.ipynb", as_version=4)
    stubs = [i for i, c in enumerate(blank.cells) if "NotImplementedError" in c.source]
    for i in stubs[::2]:
        solution.cells[i] = blank.cells[i]
    return solution


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        submissions, out = Path(tmp) / "submissions", Path(tmp) / "out"
        submissions.mkdir()
        kinds = {
            "solved": lambda: nbformat.read(
                ROOT / "solutions" / "01-convolution.ipynb", as_version=4
            ),
            "blank": lambda: nbformat.read(
                ROOT / "exercises" / "01-convolution.ipynb", as_version=4
            ),
            "half": half_solved,
        }
        for i in range(args.count):
            kind = list(kinds)[i % 3]
            nb = kinds[kind]()
            nb.cells[0].source += f"\n\n<!-- student {i} -->"  # distinct files, distinct hashes
            nbformat.write(nb, submissions / f"student{i:03d}_{kind}_Copy of 01-convolution.ipynb")
        level = isolation.detect()  # once, outside the timing, as the CLI does
        start = time.perf_counter()
        rows = grade_folder(submissions, "01", out, jobs=args.jobs, log=lambda _: None)
        seconds = time.perf_counter() - start
        totals = sorted({r["total"] for r in rows})
        shutil.rmtree(out)
    print(
        f"graded {len(rows)} notebooks with -j {args.jobs} in {seconds:.1f} s: "
        f"{len(rows) / seconds * 60:.0f} notebooks per minute, isolation: {level} "
        f"(totals seen: {totals})"
    )


if __name__ == "__main__":
    main()
