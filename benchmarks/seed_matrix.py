"""Every chapter on other random draws and thread counts: `make seeds`.

A claim drawn from one training run may be that run's luck. This reruns each chapter of
`book/` with CNNBOOK_SEED set (it shifts every seed a chapter uses, see
`cnnbook.runtime.seed_offset`; 0 is the book's own draw) and with one and two threads
(the suite runs one, the execution report two), and reports which runs fail: a failing
run is an assertion, that is a claim of the page, that does not hold on those draws.
Then it prints the spread of every number the prose quotes (the glued values, wall-clock
figures aside: lowest and highest over the runs), the figures a sentence's margin has to
survive. With `--record` the runs go to reports/seeds.json and the book's execution
report shows the spreads. It takes a while (each notebook once per seed and thread
count), so it is a tool, not a test.

    python benchmarks/seed_matrix.py --record          # seeds 0, 1000, 2000; 1 and 2 threads
    python benchmarks/seed_matrix.py book/07-segmentation-fcn.ipynb --seeds 1000
"""

from __future__ import annotations

import argparse
import itertools
import platform
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import torch
from notebook_budget import ROOT, run

from cnnbook.runtime import SEED_VARIABLE

sys.path.insert(0, str(ROOT / "tools"))
from execution_report import record_seed_matrix, spreads
from glue_claims import Notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1000, 2000])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--record", action="store_true", help="keep the runs in reports/seeds.json")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(ROOT.glob("book/[0-9][0-9]-*.ipynb"))
    settings = list(itertools.product(args.threads, args.seeds, paths))
    runs: list[dict] = []

    def execute(setting):
        threads, seed, path = setting
        env = {SEED_VARIABLE: str(seed), "OMP_NUM_THREADS": str(threads)}
        glued: dict[str, str] = {}
        seconds, error = run(path, settings=env, values=glued)
        return {"threads": threads, "seed": seed, "notebook": path.name,
                "seconds": round(seconds, 1), "error": error,
                "glued": quoted_measurements(path, glued)}  # fmt: skip

    print(f"{'threads':>7} {'seed':>6} {'seconds':>8}  notebook", flush=True)
    for threads in args.threads:  # one-thread runs two at a time: the cores are used alike
        batch = [s for s in settings if s[0] == threads]
        with ThreadPoolExecutor(max_workers=2 if threads == 1 else 1) as pool:
            for row in pool.map(execute, batch):
                runs.append(row)
                status = f"FAILED: {row['error']}" if row["error"] else "ok"
                print(f"{threads:>7} {row['seed']:>6} {row['seconds']:8.1f}  "
                      f"{row['notebook']}  {status}", flush=True)  # fmt: skip
    failures = sum(bool(r["error"]) for r in runs)
    print(f"{len(runs)} runs, {failures} failed")
    for path in paths:
        print(f"\n{path.name}: quoted value, lowest .. highest over its runs")
        for name, shown in spreads([r for r in runs if r["notebook"] == path.name]):
            print(f"  {name:<28} {shown.replace(chr(92) + '|', '|')}")  # unescape the table's |
    if args.record:
        record_seed_matrix({
            "date": date.today().isoformat(),
            "machine": f"{platform.machine()} CPU, {torch.get_num_threads()} threads available",
            "torch": torch.__version__,
            "python": platform.python_version(),
            "seeds": args.seeds,
            "threads": args.threads,
            "runs": runs,
        })  # fmt: skip
    return 1 if failures else 0


def quoted_measurements(path: Path, glued: dict[str, str]) -> dict[str, str]:
    """The glued values, less the wall-clock figures (they measure the machine's load)."""
    timing = Notebook(path).timing_patterns()
    return {k: v for k, v in glued.items() if not any(re.fullmatch(p, k) for p in timing)}


if __name__ == "__main__":
    sys.exit(main())
