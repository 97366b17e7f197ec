"""Every chapter on other random draws and thread counts: `make seeds`.

A claim drawn from one training run may be that run's luck. This reruns each chapter of
`book/` with CNNBOOK_SEED set (it shifts every seed a chapter uses, see
`cnnbook.runtime.seed_offset`) and with one and two threads (the suite runs one, the
execution report two), and reports which runs fail: a failing run is an assertion, that
is a claim of the page, that does not hold on those draws. Then it prints the spread of
every number the prose quotes (the glued values: lowest and highest over the runs), the
figures a sentence's margin has to survive. It takes a while (each notebook once per seed
and thread count), so it is a tool, not a test.

    python benchmarks/seed_matrix.py --seeds 1000 2000 --threads 1 2
    python benchmarks/seed_matrix.py book/07-segmentation-fcn.ipynb --seeds 0 1000 --json spreads.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from notebook_budget import ROOT, run

from cnnbook.runtime import SEED_VARIABLE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1000, 2000])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--json", type=Path, help="write every run's glued values here")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(ROOT.glob("book/[0-9][0-9]-*.ipynb"))
    runs = list(itertools.product(args.threads, args.seeds, paths))

    values: dict[tuple[int, int, Path], dict[str, str]] = {}

    def execute(setting):
        threads, seed, path = setting
        env = {SEED_VARIABLE: str(seed), "OMP_NUM_THREADS": str(threads)}
        values[setting] = {}
        return setting, run(path, settings=env, values=values[setting])

    failures = 0
    print(f"{'threads':>7} {'seed':>6} {'seconds':>8}  notebook", flush=True)
    for threads in args.threads:  # one-thread runs two at a time: the cores are used alike
        batch = [r for r in runs if r[0] == threads]
        with ThreadPoolExecutor(max_workers=2 if threads == 1 else 1) as pool:
            for (_, seed, path), (seconds, error) in pool.map(execute, batch):
                failures += bool(error)
                status = f"FAILED: {error}" if error else "ok"
                print(f"{threads:>7} {seed:>6} {seconds:8.1f}  {path.name}  {status}", flush=True)
    print(f"{len(runs)} runs, {failures} failed")
    print_spreads(paths, values)
    if args.json:
        rows = [{"threads": t, "seed": s, "notebook": p.name, "glued": v} for (t, s, p), v in values.items()]
        args.json.write_text(json.dumps(rows, indent=1))
    return 1 if failures else 0


def _number(text: str) -> float | None:
    try:
        return float(text.strip("'\""))
    except ValueError:
        return None


def print_spreads(paths: list[Path], values: dict[tuple[int, int, Path], dict[str, str]]) -> None:
    """Each glued number's lowest and highest value over the runs of its notebook."""
    for path in paths:
        runs = [v for (_, _, p), v in values.items() if p == path]
        names = sorted({name for run_values in runs for name in run_values})
        print(f"\n{path.name}: glued value, lowest .. highest over {len(runs)} runs")
        for name in names:
            numbers = [n for v in runs if (n := _number(v.get(name, ""))) is not None]
            if numbers:
                print(f"  {name:<28} {min(numbers):12.5g} .. {max(numbers):<12.5g}")
            else:
                shown = sorted({v.get(name, "") for v in runs})
                print(f"  {name:<28} {' | '.join(shown)[:80]}")


if __name__ == "__main__":
    sys.exit(main())
