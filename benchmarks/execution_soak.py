"""Execute notebooks many times and count the executions that stall.

Why: a notebook execution once hung for minutes with kernel and client both idle, a
lost-reply picture that shows up about once in a dozen runs, if at all. Only many
repetitions measure such a rate, and only a stack of both processes taken *while* it
hangs says where the reply went. Each execution runs with a per-cell timeout; on a
timeout the script dumps the Python stacks of the client and the kernel with py-spy
(when installed) before giving up on that run.

    python benchmarks/execution_soak.py book/04-activations.ipynb --runs 50 -j 2
    python benchmarks/execution_soak.py book/0*.ipynb --runs 5 --nbval

With --nbval each execution is the suite's own: pytest with nbval on that notebook, and
the stacks of pytest and its kernel are dumped if it is still running at the timeout.

Prints one line per execution and a summary: runs, stalls, seconds per run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def _dump_stacks(pid: int, label: str, *options: str) -> str:
    if not shutil.which("py-spy"):
        return f"[{label} {pid}: py-spy not installed]"
    out = subprocess.run(
        ["py-spy", "dump", "--pid", str(pid), *options], capture_output=True, text=True, check=False
    )
    return f"[{label} {pid}]\n{out.stdout}{out.stderr}"


def execute_once(path: str, timeout: int) -> tuple[str, float, str]:
    """Run one notebook start to finish; return (outcome, seconds, detail)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / Path(path).parent)}},
    )
    start = time.perf_counter()
    try:
        with client.setup_kernel():
            kernel_pid = client.km.provisioner.process.pid
            for index, cell in enumerate(nb.cells):
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    stacks = _dump_stacks(os.getpid(), "client") + _dump_stacks(
                        kernel_pid, "kernel"
                    )
                    return "STALL", time.perf_counter() - start, f"cell {index}\n{stacks}"
    except Exception as error:
        return "ERROR", time.perf_counter() - start, f"{type(error).__name__}: {error}"
    return "ok", time.perf_counter() - start, ""


def execute_with_nbval(path: str, timeout: int) -> tuple[str, float, str]:
    """Run one notebook as the suite does; a run past `timeout` seconds is a stall."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-o",
        "addopts=",
        "-p",
        "no:cacheprovider",
        "--nbval-lax",
        "--nbval-current-env",
        f"--nbval-cell-timeout={timeout}",
        path,
    ]
    start = time.perf_counter()
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as process:  # fmt: skip
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stacks = _dump_stacks(process.pid, "pytest and its kernel", "--subprocesses")
            output, _ = process.communicate()
            return "STALL", time.perf_counter() - start, f"{output[-3000:]}\n{stacks}"
    outcome = "ok" if process.returncode == 0 else "ERROR"
    return outcome, time.perf_counter() - start, "" if outcome == "ok" else output[-3000:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--runs", type=int, default=10, help="executions of each notebook")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    parser.add_argument("--log", type=Path, help="also append the lines and stacks here")
    parser.add_argument("--nbval", action="store_true", help="execute through pytest and nbval")
    args = parser.parse_args(argv)

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    jobs = [nb for _ in range(args.runs) for nb in args.notebooks]
    outcomes: dict[str, int] = {}
    seconds: list[float] = []
    log = open(args.log, "a") if args.log else None  # noqa: SIM115 (kept open while running)
    with tempfile.TemporaryDirectory(), ProcessPoolExecutor(args.jobs) as pool:
        run = execute_with_nbval if args.nbval else execute_once
        futures = {pool.submit(run, nb, args.timeout): nb for nb in jobs}
        for n, future in enumerate(as_completed(futures), 1):
            outcome, took, detail = future.result()
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            seconds.append(took)
            line = f"{n:4d} {outcome:5s} {took:6.1f} s  {futures[future]}"
            print(line, flush=True)
            if log:
                log.write(line + "\n" + (detail + "\n" if detail else ""))
                log.flush()
            if detail:
                print(detail, file=sys.stderr, flush=True)
    summary = (
        f"{len(jobs)} executions: {outcomes.get('ok', 0)} ok, {outcomes.get('STALL', 0)} stalled, "
        f"{outcomes.get('ERROR', 0)} failed; {sum(seconds) / len(seconds):.1f} s per execution"
    )
    print(summary)
    if log:
        log.write(summary + "\n")
        log.close()
    return 0 if outcomes.get("ok", 0) == len(jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
