"""Run a submission's functions in a sandboxed child process, and collect plain data.

The parent never executes student code. It writes the inputs into a fresh working
directory, starts the child's `runner.py` (under bubblewrap when `isolation.detect`
finds it usable), times each exercise from the lines the child writes on a pipe, and
kills the child when one runs past the limit; the exercises after it get a fresh child
in a fresh directory. From that directory it reads only the result files, without
following links, loaded with ``torch.load(weights_only=True)``, which cannot run code.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cnnbook.grading import child
from cnnbook.grading.engine import isolation
from cnnbook.grading.engine.extract import ALLOWED_MODULES

CHILD_DIR = Path(child.__file__).parent
NOBODY = 65534
POLL_SECONDS = 0.05
MAX_RESULT_BYTES = 64 * 2**20
MAX_PROGRESS_BYTES = 2**16  # far more than the start/done lines of any chapter


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

    # ran, missing, not_callable, not_implemented, forbidden, tampered, timeout, crashed
    status: str
    outputs: list[dict[str, Any]] = field(default_factory=list)
    detail: str = ""


@dataclass
class _Progress:
    """What the child said on its pipe: exercises started and finished, a load error."""

    started: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    error: str = ""
    _buffer: bytes = b""
    _received: int = 0

    def feed(self, data: bytes) -> None:
        self._received += len(data)
        if self._received > MAX_PROGRESS_BYTES:
            return  # a child that floods the pipe is not reporting progress
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            kind, _, rest = line.decode(errors="replace").partition(" ")
            if kind == "start":
                self.started.append(rest)
            elif kind == "done":
                self.done.append(rest)
            elif kind == "error":
                self.error = rest[:300]

    @property
    def current(self) -> str | None:
        return next((n for n in self.started if n not in self.done), None)


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


def _environment(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _write_job(workdir: Path, source: str, exercises: list[tuple[str, list, frozenset]],
               limits: Limits, level: str) -> None:  # fmt: skip
    (workdir / "results").mkdir()
    job = {
        "preload": sorted(ALLOWED_MODULES),
        "source": source,
        "exercises": [
            {"name": name, "cases": cases, "forbidden": sorted(forbidden)}
            for name, cases, forbidden in exercises
        ],
        "memory_bytes": limits.memory_bytes,
        "cpu_seconds": limits.cpu_seconds,
        "drop_privileges": level == isolation.PROCESS_ONLY and os.geteuid() == 0,
    }
    torch.save(job, workdir / "job.pt")
    if level == isolation.PROCESS_ONLY and os.geteuid() == 0:  # nobody must write here
        for path in (workdir, workdir / "results"):
            os.chown(path, NOBODY, NOBODY)


def _command(workdir: Path, fd: int, level: str) -> list[str]:
    if level == isolation.NAMESPACES:
        runner = [sys.executable, "-I", f"{isolation.RUNNER_DIR}/runner.py", isolation.JOB_DIR]
        return isolation.bwrap_command([*runner, str(fd)], workdir, CHILD_DIR)
    return [sys.executable, "-I", str(CHILD_DIR / "runner.py"), str(workdir), str(fd)]


def _read_plain_file(directory: Path, name: str, limit: int) -> bytes | None:
    """The bytes of `directory/name` if both are what they seem: a real directory and a
    regular file of at most `limit` bytes, reached without following any link the child
    may have planted (to another student's results, say)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        dir_fd = os.open(directory, flags | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:
        return None
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return f.read(limit + 1)[:limit]


def _load_result(workdir: Path, name: str) -> Run:
    raw = _read_plain_file(workdir / "results", f"{name}.pt", MAX_RESULT_BYTES)
    if raw is None:
        return Run("crashed", detail="returned no readable result")
    try:
        data = torch.load(io.BytesIO(raw), weights_only=True)
        status = data["status"]
        assert isinstance(status, str)
    except Exception:  # a forged or truncated file is simply no result
        return Run("crashed", detail="returned no readable result")
    return Run(status[:50], list(data.get("outputs", [])), str(data.get("detail", ""))[:300])


def run_submission(
    source: str,
    exercises: list[tuple[str, list, frozenset]],
    limits: Limits,
    level: str | None = None,
) -> dict[str, Run]:
    """Run each (name, cases, forbidden operators) exercise; every name gets a `Run`.

    `level` is the isolation to use (`isolation.detect()` when None)."""
    level = level or isolation.detect()
    runs: dict[str, Run] = {}
    remaining = list(exercises)
    while remaining:
        with (
            tempfile.TemporaryDirectory(prefix="cnnbook-grade-", ignore_cleanup_errors=True)
            as tmp,
            tempfile.TemporaryFile() as stderr,
        ):  # fmt: skip
            workdir = Path(tmp)
            _write_job(workdir, source, remaining, limits, level)
            progress, returncode, timed_out = _run_child(workdir, stderr, limits, level)
            for name in progress.done:
                runs[name] = _load_result(workdir, name)
            current = progress.current
            if timed_out and current:
                runs[current] = Run("timeout", detail=f"timed out after {limits.timeout:g} s")
            elif current:
                runs[current] = Run("crashed", detail=_signal_reason(returncode))
            elif not progress.started:
                reason = _load_failure(progress, stderr, returncode)
                for name, _, _ in remaining:
                    runs[name] = Run("crashed", detail=reason)
        remaining = [e for e in remaining if e[0] not in runs]
    return runs


def _run_child(workdir: Path, stderr, limits: Limits, level: str) -> tuple[_Progress, int, bool]:
    """Start the child, follow its pipe, kill it when an exercise runs out of time."""
    read_end, write_end = os.pipe()
    try:
        child_process = subprocess.Popen(
            _command(workdir, write_end, level),
            cwd=workdir, env=_environment(isolation.JOB_DIR if level == isolation.NAMESPACES
                                          else str(workdir)),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            pass_fds=(write_end,), start_new_session=True,
        )  # fmt: skip
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        progress = _Progress()
        timed_out = _watch(child_process, pipe, progress, limits.timeout)
    return progress, child_process.returncode, timed_out


def _watch(child_process: subprocess.Popen, pipe, progress: _Progress, timeout: float) -> bool:
    """Read `pipe` until the child exits; kill it when one exercise runs past `timeout`."""
    clock: dict[str, float] = {}
    open_pipe = True
    while True:
        if open_pipe:
            ready, _, _ = select.select([pipe], [], [], POLL_SECONDS)
            data = pipe.read(4096) if ready else None
            if data:
                progress.feed(data)
            elif ready:  # end of file: the child is on its way out
                open_pipe = False
        if child_process.poll() is not None:
            if open_pipe:
                with contextlib.suppress(OSError):
                    os.set_blocking(pipe.fileno(), False)
                    progress.feed(pipe.read(MAX_PROGRESS_BYTES) or b"")
            return False
        if not open_pipe:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child_process.wait(POLL_SECONDS)
        now = time.monotonic()
        current = progress.current
        if current is not None:
            if now - clock.setdefault(current, now) > timeout:
                _kill(child_process)
                return True
        elif now - clock.setdefault("", now) > timeout + 60:  # stuck before the first one
            _kill(child_process)
            return False


def _kill(child_process: subprocess.Popen) -> None:
    """Kill the child's whole process group; under bubblewrap, killing bwrap takes the
    sandbox's PID namespace, and every process in it, down with it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child_process.pid, signal.SIGKILL)
    child_process.wait()


def _load_failure(progress: _Progress, stderr, returncode: int) -> str:
    if progress.error:
        return f"the notebook's definitions could not be loaded: {progress.error}"
    stderr.seek(0, os.SEEK_END)
    stderr.seek(max(0, stderr.tell() - 400))
    tail = stderr.read().decode(errors="replace").strip()
    return _signal_reason(returncode) + (f": {tail.splitlines()[-1]}" if tail else "")
