"""The grader's child process: run a submission's functions on given inputs, return data.

Started by `cnnbook.grading.engine.sandbox` as ``python -I runner.py WORKDIR FD``, inside
the namespace sandbox when the machine has one, in an empty working directory with a
scrubbed environment. It deliberately imports nothing of the course package (so a
submission cannot reach the reference code) and talks to the parent only through

- ``job.pt``, which it reads: inputs and forbidden operators, never expected answers;
- the pipe FD, on which it writes ``start NAME`` / ``done NAME`` lines (so the parent can
  time each exercise and kill the process when one runs too long) or one ``error
  MESSAGE`` line when the notebook's definitions cannot be loaded;
- ``results/NAME.pt``, plain data (tensors, numbers, strings, lists) that the parent
  loads with ``torch.load(weights_only=True)``.

Before any submitted code runs it caps memory, CPU time and file size, and, in the
fallback without namespaces when started as root, drops to the unprivileged ``nobody``.
While an exercise with forbidden operators runs, `watch.Watch` records what it dispatches.
"""

import builtins
import contextlib
import os
import resource
import sys
import traceback

import torch

# Run as a script with -I, which leaves the script's folder off sys.path: put it back for
# the two modules beside it (never the course package).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from calls import (
    call_built,
    call_methods,
    call_module,
    call_reporting_grads,
    call_steps,
    resolve_functions,
)
from watch import AUTOGRAD, Watch, warm_up

NOBODY = 65534
MAX_ITEMS = 10_000  # a returned list longer than this is not an answer to any exercise
MEMORY = "exceeded the memory limit"


def _virtual_memory_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _limit_resources(memory_bytes: int, cpu_seconds: int) -> None:
    # address space: what torch already mapped, plus the budget for the student's work
    limit = _virtual_memory_bytes() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 2**20, 64 * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _drop_privileges() -> None:
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        resource.setrlimit(resource.RLIMIT_NPROC, (256, 256))  # no fork bombs as nobody


def to_data(value, depth: int = 0):
    """A returned value as plain data the parent can load safely; objects become a note."""
    if isinstance(value, torch.Tensor):
        if value.device.type == "meta":  # shape without data: nothing to compare
            return {"__unsupported__": "tensor on the meta device"}
        return value.detach().cpu().clone().as_subclass(torch.Tensor)
    if value is None or type(value) in (bool, int, float, complex):
        return value
    if type(value) is str:
        return value[:1000]
    if type(value) in (list, tuple) and depth < 4 and len(value) <= MAX_ITEMS:
        items = [to_data(v, depth + 1) for v in value]
        return items if type(value) is list else tuple(items)
    if type(value) is dict and depth < 4 and len(value) <= MAX_ITEMS:
        return {str(k)[:200]: to_data(v, depth + 1) for k, v in value.items()}
    return {"__unsupported__": type(value).__name__[:100]}


def _describe(error: BaseException) -> str:
    if isinstance(error, MemoryError) or "can't allocate memory" in str(error).lower():
        return MEMORY
    message = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
    return (
        f"raised {type(error).__name__}: {message}" if message else f"raised {type(error).__name__}"
    )


def _call(fn, case: dict):
    """One case, called the way its exercise is run (see `Case` in the course package)."""
    if case.get("iterate"):
        return call_steps(fn, *case["args"], case["kwargs"])
    if case.get("method"):
        return call_methods(fn, case["args"], case["kwargs"], case["method"], case["inputs"])
    if case.get("returns_module"):
        return call_built(fn, case["args"], case["kwargs"], case["inputs"])
    if case.get("with_grads"):
        return call_reporting_grads(fn, case["args"], case["kwargs"])
    if case.get("inputs") is None:
        return fn(*resolve_functions(case["args"]), **resolve_functions(case["kwargs"]))
    return call_module(fn, case["args"], case["kwargs"], case["inputs"])


def _watched(watch: Watch | None) -> dict | None:
    """The verdict when the watch saw a forbidden operator or an attempt to blind it."""
    if watch is None:
        return None
    if watch.tampered:
        return {"status": "tampered", "detail": ", ".join(sorted(watch.tampered))}
    if watch.found:
        found = sorted(watch.found)
        names = ["automatic differentiation" if f == AUTOGRAD else f for f in found]
        return {"status": "forbidden", "detail": ", ".join(names)}
    return None


def _run_exercise(namespace: dict, name: str, cases: list, forbidden: list) -> dict:
    fn = namespace.get(name)
    if fn is None:
        return {"status": "missing"}
    if not callable(fn):
        return {"status": "not_callable", "detail": type(fn).__name__}
    outputs = []
    for case in cases:
        watch = Watch(forbidden) if forbidden else None
        try:
            with watch or contextlib.nullcontext():
                value = _call(fn, case)
        except NotImplementedError:
            return _watched(watch) or {"status": "not_implemented"}
        except BaseException as error:  # SystemExit and KeyboardInterrupt included
            verdict = _watched(watch)
            if verdict:
                return verdict
            reason = _describe(error)
            if reason == MEMORY:  # the other cases would only fill memory again
                return {"status": "failed", "detail": f"{MEMORY} on {case['label']}"}
            outputs.append({"error": reason})
            continue
        verdict = _watched(watch)
        if verdict:
            return verdict
        try:
            outputs.append({"value": to_data(value)})
        except BaseException as error:
            outputs.append(
                {"error": f"returned a value that could not be read ({_describe(error)})"}
            )
    return {"status": "ran", "outputs": outputs}


def main(workdir: str, progress_fd: int) -> int:
    os.chdir(workdir)
    progress = os.fdopen(progress_fd, "w", buffering=1)
    job = torch.load("job.pt", weights_only=True)
    torch.set_num_threads(1)
    for module in job["preload"]:  # while still privileged: the interpreter's own files
        __import__(module)  # may be unreadable to nobody (e.g. a Python under /root)
    if any(exercise["forbidden"] for exercise in job["exercises"]):
        warm_up()
    _limit_resources(job["memory_bytes"], job["cpu_seconds"])
    namespace = {"__name__": "submission", "__builtins__": builtins}
    try:
        exec(compile(job["source"], "submission", "exec"), namespace)
    except BaseException as error:
        progress.write("error " + _describe(error).replace("\n", " ") + "\n")
        return 3
    if job["drop_privileges"]:
        _drop_privileges()
    for exercise in job["exercises"]:
        name = exercise["name"]
        progress.write(f"start {name}\n")
        result = _run_exercise(namespace, name, exercise["cases"], exercise["forbidden"])
        torch.save(result, os.path.join("results", f"{name}.pt"))
        progress.write(f"done {name}\n")
    progress.flush()
    os._exit(0)  # skip the interpreter's teardown (half a second with torch loaded)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1], int(sys.argv[2])))
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc(limit=3)
        sys.exit(4)
