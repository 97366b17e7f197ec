"""Every chapter on other random draws and thread counts: `make seeds`.

A claim drawn from one training run may be that run's luck. This reruns each chapter of
`book/` with CNNBOOK_SEED set (it shifts every seed a chapter uses, see
`cnnbook.runtime.seed_offset`) and with one and two threads (the suite runs one, the
execution report two), and reports which runs fail: a failing run is an assertion, that
is a claim of the page, that does not hold on those draws. It takes a while (each
notebook once per seed and thread count), so it is a tool, not a test.

    python benchmarks/seed_matrix.py --seeds 1000 2000 --threads 1 2
    python benchmarks/seed_matrix.py book/07-segmentation-fcn.ipynb --seeds 1000
"""

from __future__ import annotations

import argparse
import itertools
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
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(ROOT.glob("book/[0-9][0-9]-*.ipynb"))
    runs = list(itertools.product(args.threads, args.seeds, paths))

    def execute(setting):
        threads, seed, path = setting
        env = {SEED_VARIABLE: str(seed), "OMP_NUM_THREADS": str(threads)}
        return setting, run(path, settings=env)

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
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
