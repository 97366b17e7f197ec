"""Run a submission's functions in a child process with limits, and collect plain data.

The parent never executes student code. It writes the inputs, starts `runner.py` in a
fresh interpreter, watches each exercise's wall-clock time, and kills the child when one
runs past the limit; the exercises after it get a fresh child. What comes back is loaded
with ``torch.load(weights_only=True)``, which cannot run code.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cnnbook.grading import runner
from cnnbook.grading.extract import ALLOWED_MODULES

RUNNER = Path(runner.__file__)
NOBODY = runner.NOBODY
POLL_SECONDS = 0.05
MAX_RESULT_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Limits:
    """What one submission may use: per exercise wall time, memory beyond the
    interpreter's own, and CPU seconds per child process."""

    timeout: float = 30.0
    memory_bytes: int = 2 * 2**30
    cpu_seconds: int = 300


@dataclass
class Run:
    """What happened to one exercise in the child."""

    status: str  # ran, missing, not_callable, not_implemented, timeout, crashed
    outputs: list[dict[str, Any]] = field(default_factory=list)
    detail: str = ""


def _signal_reason(returncode: int) -> str:
    if returncode == -signal.SIGXCPU:
        return "exceeded the CPU time limit"
    if returncode == -signal.SIGXFSZ:
        return "wrote more output than the grader allows"
    if returncode == -signal.SIGKILL:
        return "was killed by the system (most likely for using too much memory)"
    if returncode < 0:
        return f"crashed the grader's process (signal {-returncode})"
    return f"crashed the grader's process (exit code {returncode})"


def _environment(workdir: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _prepare(workdir: Path, source: str, exercises: list[tuple[str, list]], limits: Limits):
    shutil.rmtree(workdir / "results", ignore_errors=True)
    (workdir / "results").mkdir()
    for leftover in ("progress", "load_error", "stderr"):
        (workdir / leftover).unlink(missing_ok=True)
    job = {
        "preload": sorted(ALLOWED_MODULES),
        "source": source,
        "exercises": [{"name": name, "cases": cases} for name, cases in exercises],
        "memory_bytes": limits.memory_bytes,
        "cpu_seconds": limits.cpu_seconds,
    }
    torch.save(job, workdir / "job.pt")
    if os.geteuid() == 0:  # the child runs as nobody and must write here
        for path in (workdir, workdir / "results"):
            os.chown(path, NOBODY, NOBODY)


def _progress(workdir: Path) -> tuple[list[str], list[str]]:
    started, done = [], []
    try:
        lines = (workdir / "progress").read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return started, done
    for line in lines:
        kind, _, name = line.partition(" ")
        (started if kind == "start" else done if kind == "done" else []).append(name)
    return started, done


def _load_result(workdir: Path, name: str) -> Run:
    path = workdir / "results" / f"{name}.pt"
    if not path.is_file() or path.stat().st_size > MAX_RESULT_BYTES:
        return Run("crashed", detail="returned no readable result")
    try:
        data = torch.load(path, weights_only=True)
        status = data["status"]
        assert isinstance(status, str)
    except Exception:  # a forged or truncated file is simply no result
        return Run("crashed", detail="returned no readable result")
    return Run(status, list(data.get("outputs", [])), str(data.get("detail", "")))


def run_submission(
    source: str, exercises: list[tuple[str, list]], limits: Limits
) -> dict[str, Run]:
    """Run each named exercise on its cases' inputs; every name gets a `Run`."""
    runs: dict[str, Run] = {}
    remaining = list(exercises)
    with tempfile.TemporaryDirectory(prefix="cnnbook-grade-") as tmp:
        workdir = Path(tmp)
        while remaining:
            _prepare(workdir, source, remaining, limits)
            with open(workdir / "stderr", "wb") as stderr:
                child = subprocess.Popen(
                    [sys.executable, "-I", str(RUNNER), str(workdir)],
                    cwd=workdir, env=_environment(workdir), stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
                )  # fmt: skip
                timed_out = _watch(child, workdir, limits.timeout)
            started, done = _progress(workdir)
            for name in done:
                runs[name] = _load_result(workdir, name)
            current = next((n for n in started if n not in done), None)
            if timed_out and current:
                runs[current] = Run("timeout", detail=f"timed out after {limits.timeout:g} s")
            elif current:
                runs[current] = Run("crashed", detail=_signal_reason(child.returncode))
            elif not started:
                reason = _load_failure(workdir, child.returncode)
                for name, _ in remaining:
                    runs[name] = Run("crashed", detail=reason)
            remaining = [(n, c) for n, c in remaining if n not in runs]
    return runs


def _watch(child: subprocess.Popen, workdir: Path, timeout: float) -> bool:
    """Wait for `child`, killing it when one exercise runs longer than `timeout`."""
    clock: dict[str, float] = {}
    while child.poll() is None:
        started, done = _progress(workdir)
        now = time.monotonic()
        current = next((n for n in started if n not in done), None)
        if current is not None:
            clock.setdefault(current, now)
            if now - clock[current] > timeout:
                _kill(child)
                return True
        elif now - clock.setdefault("", now) > timeout + 60:  # stuck before the first one
            _kill(child)
            return False
        time.sleep(POLL_SECONDS)
    return False


def _kill(child: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def _load_failure(workdir: Path, returncode: int) -> str:
    load_error = workdir / "load_error"
    if load_error.is_file():
        return f"the notebook's definitions could not be loaded: {load_error.read_text()[:300]}"
    tail = (workdir / "stderr").read_bytes()[-400:].decode(errors="replace").strip()
    return _signal_reason(returncode) + (f": {tail.splitlines()[-1]}" if tail else "")
