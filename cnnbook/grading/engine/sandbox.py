"""Run a submission's functions in a sandboxed child process, and collect plain data.

The parent never executes student code. It writes the job (the kept source, the
exercises' names and forbidden operators) into a fresh working directory that the
child can read but not write, starts the child's `runner.py` (under bubblewrap when
`isolation.detect` finds it usable), and follows the frames the child writes on its
report pipe (`child.frames`). When the child says an exercise starts, and only then, the
parent writes that exercise's inputs and lets it go on; it times each exercise and kills
the child when one runs past the limit; the exercises after it get a fresh child. A
result is read from the pipe up to `MAX_RESULT_BYTES` and loaded with
``torch.load(weights_only=True)``, which cannot run code, then checked to be the plain
shape the scorer expects. A child that sends anything else (an exercise out of turn,
an oversized frame, a malformed result) loses the exercise it was on, and a submission
gets at most one child per exercise plus one.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cnnbook.grading import child
from cnnbook.grading.child import frames, seccomp
from cnnbook.grading.engine import isolation
from cnnbook.grading.engine.extract import ALLOWED_MODULES

CHILD_DIR = Path(child.__file__).parent
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

    # ran, missing, not_callable, not_implemented, forbidden, tampered, timeout, crashed
    status: str
    outputs: list[dict[str, Any]] = field(default_factory=list)
    detail: str = ""


STATUSES = frozenset({"ran", "missing", "not_callable", "not_implemented", "forbidden",
                      "tampered", "failed", "crashed"})  # fmt: skip
SMALL_FRAME = 1000  # a name, an operator, a load error


def parse_result(payload: bytes) -> Run:
    """A result frame as a `Run` of the shape the scorer expects, or a crash if it is not
    one (the submission shares the child's process, and so its pipe)."""
    bad = Run("crashed", detail="returned no readable result")
    try:
        data = torch.load(io.BytesIO(payload), weights_only=True)
    except Exception:
        return bad
    if not isinstance(data, dict) or data.get("status") not in STATUSES:
        return bad
    outputs, detail = data.get("outputs", []), data.get("detail", "")
    if not isinstance(outputs, list) or not isinstance(detail, str):
        return bad
    for output in outputs:
        if not isinstance(output, dict) or not (
            set(output) == {"value"}
            or (set(output) == {"error"} and isinstance(output["error"], str))
        ):
            return bad
    return Run(data["status"], outputs, detail[:300])


@dataclass
class _Child:
    """What one child said on its report pipe, frame by frame, and whether it kept to
    the protocol: exercises start in the job's order, one at a time, each ends with one
    result; operators the watch saw are reported as they happen."""

    order: list[str]
    runs: dict[str, Run] = field(default_factory=dict)
    current: str | None = None
    error: str = ""
    violation: str = ""
    forbidden: dict[str, set[str]] = field(default_factory=dict)
    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[str]:
        """Take `data` from the pipe; return the exercises that started in it."""
        self._buffer += data
        started = []
        while len(self._buffer) >= frames.HEADER.size and not self.violation:
            kind, length = frames.HEADER.unpack_from(self._buffer)
            limit = MAX_RESULT_BYTES if kind == frames.DONE else SMALL_FRAME
            if kind not in (frames.START, frames.DONE, frames.FORBIDDEN, frames.ERROR):
                self.violation = "sent a message the grader does not know"
            elif length > limit:
                self.violation = "sent more output than the grader allows"
            if self.violation or len(self._buffer) < frames.HEADER.size + length:
                break
            payload = bytes(self._buffer[frames.HEADER.size : frames.HEADER.size + length])
            del self._buffer[: frames.HEADER.size + length]
            started += self._handle(kind, payload)
        return started

    def _handle(self, kind: bytes, payload: bytes) -> list[str]:
        text = payload.decode(errors="replace")
        following = self.order[len(self.runs)] if len(self.runs) < len(self.order) else None
        if kind == frames.START:
            if self.current is not None or text != following:
                self.violation = "reported an exercise out of turn"
                return []
            self.current = text
            return [text]
        if kind == frames.FORBIDDEN:
            seen = self.forbidden.setdefault(self.current or "", set())
            if len(seen) < 20:
                seen.add(text[:100])
        elif kind == frames.DONE:
            if self.current is None:
                self.violation = "reported a result for no exercise"
                return []
            run = parse_result(payload)
            seen = self.forbidden.get(self.current)
            if seen and run.status not in ("forbidden", "tampered"):
                run = Run("forbidden", detail=", ".join(sorted(seen)))
            self.runs[self.current], self.current = run, None
        elif self.runs or self.current is not None:  # a load error, after loading
            self.violation = "reported a load error after loading"
        else:
            self.error = text[:300]
        return []


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
    (workdir / "cases").mkdir()
    job = {
        "preload": sorted(ALLOWED_MODULES),
        "source": source,
        "exercises": [{"name": name, "forbidden": sorted(ops)} for name, _, ops in exercises],
        "memory_bytes": limits.memory_bytes,
        "cpu_seconds": limits.cpu_seconds,
        "drop_privileges": level == isolation.PROCESS_ONLY and os.geteuid() == 0,
        "forbid_processes": seccomp.supported(),
    }
    torch.save(job, workdir / "job.pt")
    for path in (workdir, workdir / "cases"):  # readable, never writable, by the child
        path.chmod(0o755)
    (workdir / "job.pt").chmod(0o644)


def _send_cases(workdir: Path, index: int, cases: list, go: int) -> None:
    path = workdir / "cases" / f"{index}.pt"
    torch.save(cases, path)
    path.chmod(0o644)
    with contextlib.suppress(OSError):  # a child that already died reads nothing
        os.write(go, b"g")


def _command(workdir: Path, report: int, go: int, level: str) -> list[str]:
    if level == isolation.NAMESPACES:
        runner = [sys.executable, "-I", f"{isolation.RUNNER_DIR}/runner.py", isolation.JOB_DIR]
        return isolation.bwrap_command([*runner, str(report), str(go)], workdir, CHILD_DIR)
    return [sys.executable, "-I", str(CHILD_DIR / "runner.py"), str(workdir), str(report), str(go)]


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
    for _ in range(len(exercises) + 1):  # each child settles at least one exercise
        if not remaining:
            break
        with (
            tempfile.TemporaryDirectory(prefix="cnnbook-grade-", ignore_cleanup_errors=True)
            as tmp,
            tempfile.TemporaryFile() as stderr,
        ):  # fmt: skip
            workdir = Path(tmp)
            _write_job(workdir, source, remaining, limits, level)
            child, returncode, timed_out = _run_child(workdir, remaining, stderr, limits, level)
            runs.update(child.runs)
            if child.current is not None:
                reason = (
                    f"timed out after {limits.timeout:g} s" if timed_out
                    else f"broke the grader's protocol ({child.violation})" if child.violation
                    else _signal_reason(returncode)
                )  # fmt: skip
                runs[child.current] = Run("timeout" if timed_out else "crashed", detail=reason)
            elif not child.runs:
                reason = _load_failure(child, stderr, returncode)
                runs.update({name: Run("crashed", detail=reason) for name, _, _ in remaining})
        remaining = [e for e in remaining if e[0] not in runs]
    return runs


def _run_child(workdir: Path, exercises: list, stderr, limits: Limits,
               level: str) -> tuple[_Child, int, bool]:  # fmt: skip
    """Start the child and follow it; True in the last place when it was killed for
    running past the time limit."""
    report_read, report_write = os.pipe()
    go_read, go_write = os.pipe()
    try:
        process = subprocess.Popen(
            _command(workdir, report_write, go_read, level),
            cwd=workdir, env=_environment(isolation.JOB_DIR if level == isolation.NAMESPACES
                                          else str(workdir)),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            pass_fds=(report_write, go_read), start_new_session=True,
        )  # fmt: skip
    finally:
        os.close(report_write)
        os.close(go_read)
    child = _Child([name for name, _, _ in exercises])
    cases = {name: (index, items) for index, (name, items, _) in enumerate(exercises)}
    try:
        timed_out = _follow(process, report_read, child, limits.timeout,
                            lambda name: _send_cases(workdir, *cases[name], go_write))  # fmt: skip
    finally:
        os.close(report_read)
        os.close(go_write)
    return child, process.returncode, timed_out


def _follow(process: subprocess.Popen, report: int, child: _Child, timeout: float,
            start: Callable[[str], None]) -> bool:  # fmt: skip
    """Read the report pipe until the child exits; kill it when it breaks the protocol or
    one exercise runs past `timeout` (then return True)."""
    clock: dict[str, float] = {}
    open_pipe = True
    while True:
        if open_pipe:
            ready, _, _ = select.select([report], [], [], POLL_SECONDS)
            data = os.read(report, 2**16) if ready else None
            if data:
                for name in child.feed(data):
                    start(name)
            elif ready:  # end of file: the child is on its way out
                open_pipe = False
        if child.violation:
            _kill(process)
            return False
        if process.poll() is not None:
            if open_pipe:
                _drain(report, child)
            return False
        if not open_pipe:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(POLL_SECONDS)
        now = time.monotonic()
        current = child.current
        if current is not None:
            if now - clock.setdefault(current, now) > timeout:
                _kill(process)
                return True
        elif now - clock.setdefault(f"after {len(child.runs)}", now) > timeout + 60:
            _kill(process)  # stuck loading, or between two exercises
            return False


def _drain(report: int, child: _Child) -> None:
    """What the child wrote before it exited, without waiting for anything more."""
    os.set_blocking(report, False)
    with contextlib.suppress(OSError):
        while not child.violation and (data := os.read(report, 2**16)):
            child.feed(data)


def _kill(process: subprocess.Popen) -> None:
    """Kill the child's whole process group; under bubblewrap, killing bwrap takes the
    sandbox's PID namespace, and every process in it, down with it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _load_failure(child: _Child, stderr, returncode: int) -> str:
    if child.error:
        return f"the notebook's definitions could not be loaded: {child.error}"
    if child.violation:
        return f"broke the grader's protocol ({child.violation})"
    stderr.seek(0, os.SEEK_END)
    stderr.seek(max(0, stderr.tell() - 400))
    tail = stderr.read().decode(errors="replace").strip()
    return _signal_reason(returncode) + (f": {tail.splitlines()[-1]}" if tail else "")
