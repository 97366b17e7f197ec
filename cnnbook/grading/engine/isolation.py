"""How strongly this machine can isolate a submission, and the command line that does it.

Two levels, reported with every grade:

- ``namespaces``: the child runs under bubblewrap (``bwrap``) in new user, PID, network,
  IPC and UTS namespaces. It sees read-only copies of only the interpreter, its packages
  (the course package covered by an empty folder) and the system libraries they load, a
  fresh ``/proc`` and ``/dev`` and its working directory, all read-only, and a private
  ``/tmp`` of `TMP_BYTES`, the only place it can write; no network (only a loopback of
  its own), no other process, no home directory, no submissions. Killing the sandbox
  ends its whole PID namespace.
- ``process only``: a plain child process with resource limits, as nobody when the
  grader runs as root. What remains where bubblewrap is missing or user namespaces are
  disabled (macOS, some containers); the grader uses it only when told to.

Inside the sandbox the child is user 65534. Started by root, that user is root's own
uid seen through the namespace, which is why the interpreter's files stay readable when
they sit in a private (mode 700) directory, and why everything else of the machine is
simply left out of the sandbox rather than protected by permissions.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

NAMESPACES = "namespaces"
PROCESS_ONLY = "process only"

JOB_DIR = "/job"  # the working directory, as the sandboxed child sees it
RUNNER_DIR = "/grader"  # the child's code (runner, calls, watch), read-only
TMP_BYTES = 64 * 2**20  # the private /tmp is memory: keep it small
SYSTEM_LIBRARIES = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/local/lib")
ROOT_LINKS = ("/lib", "/lib64", "/lib32")  # /lib -> usr/lib on merged-/usr systems
SYSTEM_PREFIXES = {"/", "/usr", "/usr/local"}  # shared with everything else: bind parts


def _python_paths() -> list[str]:
    """What this interpreter reads: its prefix (or, for a system Python, its standard
    library, site-packages and executable), and the virtual environment it runs in."""
    paths = {os.path.realpath(sys.executable), sys.prefix}
    for prefix in {sys.base_prefix, sys.base_exec_prefix}:
        if os.path.realpath(prefix) in SYSTEM_PREFIXES:
            paths.update(sysconfig.get_paths(vars={"base": prefix, "platbase": prefix}).values())
            paths.update(site.getsitepackages())
        else:
            paths.add(prefix)
    return [p for p in paths if os.path.exists(p)]


def _outermost(paths: list[str]) -> list[str]:
    """`paths` without those inside another one (a bind covers what lies beneath it)."""
    kept: list[str] = []
    for path in sorted({os.path.normpath(p) for p in paths}):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def _binds() -> list[str]:
    """bwrap arguments that make the read-only part of the sandbox's file system."""
    args: list[str] = []
    for link in ROOT_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    existing = [p for p in SYSTEM_LIBRARIES if os.path.isdir(p)]
    for path in _outermost([*existing, *_python_paths()]):
        args += ["--ro-bind", path, path]
    if os.path.isfile("/etc/ld.so.cache"):
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return args


def bwrap_command(
    python: list[str], workdir: Path, runner_dir: Path, bwrap: str = "bwrap"
) -> list[str]:
    """`python` (its argv, naming paths as the sandbox sees them) run in the sandbox."""
    return [
        bwrap,
        "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup-try", "--uid", "65534", "--gid", "65534", "--hostname", "grader",
        "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--proc", "/proc", "--dev", "/dev",
        "--size", str(TMP_BYTES), "--tmpfs", "/tmp",  # first: an environment may live in /tmp
        *_binds(),
        *_hidden(),
        "--ro-bind", str(runner_dir), RUNNER_DIR,
        "--ro-bind", str(workdir), JOB_DIR, "--chdir", JOB_DIR,
        "--setenv", "HOME", JOB_DIR,
        "--remount-ro", "/", "--remount-ro", "/dev",  # only the sized /tmp is writable
        "--",
        *python,
    ]  # fmt: skip


def _hidden() -> list[str]:
    """bwrap arguments that cover the course package with an empty folder when it lies
    in a bound path (a regular install in site-packages): graded code must not import
    the reference implementations. An editable install lives outside, unbound."""
    import cnnbook

    package = os.path.dirname(os.path.realpath(cnnbook.__file__))
    bound = _outermost([*SYSTEM_LIBRARIES, *_python_paths()])
    if any(package.startswith(path.rstrip("/") + "/") for path in bound):
        return ["--size", "4096", "--tmpfs", package, "--remount-ro", package]
    return []


@functools.cache
def detect(bwrap: str | None = None) -> str:
    """`NAMESPACES` if a sandboxed interpreter starts here, else `PROCESS_ONLY`."""
    bwrap = bwrap or shutil.which("bwrap")
    if bwrap is None:
        return PROCESS_ONLY
    with tempfile.TemporaryDirectory(prefix="cnnbook-probe-") as probe:
        python = [sys.executable, "-I", "-c", "pass"]
        command = bwrap_command(python, Path(probe), Path(probe), bwrap)
        try:
            done = subprocess.run(command, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return PROCESS_ONLY
    return NAMESPACES if done.returncode == 0 else PROCESS_ONLY


def describe(level: str) -> str:
    """One line for the instructor: what the level means."""
    if level == NAMESPACES:
        return "namespaces (bubblewrap: no network, no view of other files or processes)"
    return (
        "process only (no bubblewrap or no user namespaces: submitted code can reach the "
        "network and read what the grader's user can, or nobody when the grader is root)"
    )
