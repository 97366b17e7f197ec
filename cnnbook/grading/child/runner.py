"""The grader's child process: run a submission's functions on given inputs, return data.

Started by `cnnbook.grading.engine.sandbox` as ``python -I runner.py WORKDIR REPORT GO``,
inside the namespace sandbox when the machine has one, in a working directory it can
read but not write, with a scrubbed environment. It deliberately imports nothing of the
course package (and refuses to let a submission import it), and talks to the parent only
through

- ``job.pt``, which it reads: the kept source, the exercises' names and forbidden
  operators, the limits; never inputs, never expected answers;
- ``cases/N.pt``, the inputs of exercise N, which the parent writes only after the child
  has said on the report pipe that exercise N starts and then sends one byte on the GO
  pipe: nothing the submission runs before an exercise can read its inputs;
- the REPORT pipe, on which it writes frames (`frames`): an exercise starting, its
  result as plain data (tensors, numbers, strings, lists) that the parent loads with
  ``torch.load(weights_only=True)``, a forbidden operator the moment the watch sees it
  (so switching the watch off afterwards cannot take it back), or why the definitions
  could not be loaded.

Before any submitted code runs, even the definitions (a class can run code as it is
created), it caps memory, CPU time and file size, drops to the unprivileged ``nobody``
in the fallback without namespaces when started as root, and installs a seccomp filter
that refuses every new process or thread (`seccomp`), so the one process under these
limits is the whole submission and nothing it starts can outlive it. The definitions
load under a watch for every exercise's forbidden operators; each exercise's cases run
under one for its own, and so does turning what they return into data.
"""

import builtins
import importlib.abc
import io
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
from frames import DONE, ERROR, FORBIDDEN, START, write_frame
from seccomp import forbid_new_processes
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
    """A returned value as plain data the parent can load safely; objects become a note.

    Runs none of the submission's code: a tensor subclass's methods, properties and
    `__torch_function__` are bypassed (PyTorch's own methods, called on the base class
    with subclass handling off), and only exact built-in containers are walked."""
    if issubclass(type(value), torch.Tensor):
        with torch._C.DisableTorchFunctionSubclass():
            if torch.Tensor.device.__get__(value).type == "meta":  # shape without data
                return {"__unsupported__": "tensor on the meta device"}
            plain = torch.Tensor.clone(torch.Tensor.cpu(torch.Tensor.detach(value)))
            return torch.Tensor.as_subclass(plain, torch.Tensor)
    if value is None or type(value) in (bool, int, float, complex):
        return value
    if type(value) is str:
        return value[:1000]
    if type(value) in (list, tuple) and depth < 4 and len(value) <= MAX_ITEMS:
        items = [to_data(v, depth + 1) for v in value]
        return items if type(value) is list else tuple(items)
    if type(value) is dict and depth < 4 and len(value) <= MAX_ITEMS:
        return {
            k[:200] if type(k) is str else f"{type(k).__name__}"[:200]: to_data(v, depth + 1)
            for k, v in value.items()
        }
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


class _NoCoursePackage(importlib.abc.MetaPathFinder):
    """Refuses the course package, whose reference implementations a solution must not
    call. Under namespaces the package is not even in the sandbox (a tmpfs covers it);
    in the fallback this finder is the only barrier, and removing it is reaching for
    the grader's internals, which the grader flags."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "cnnbook":
            raise ModuleNotFoundError(f"No module named {name!r} (not available to graded code)")
        return None


def _watched(watch: Watch) -> dict | None:
    """The verdict when the watch saw a forbidden operator or an attempt to blind it."""
    if watch.tampered:
        return {"status": "tampered", "detail": ", ".join(sorted(watch.tampered))}
    if watch.found:
        found = sorted(watch.found)
        names = ["automatic differentiation" if f == AUTOGRAD else f for f in found]
        return {"status": "forbidden", "detail": ", ".join(names)}
    return None


def _run_cases(fn, cases: list) -> dict:
    """What each case returned or raised; the values still as returned (see `_readable`)."""
    outputs = []
    for case in cases:
        try:
            outputs.append({"value": _call(fn, case)})
        except NotImplementedError:
            return {"status": "not_implemented"}
        except BaseException as error:  # SystemExit and KeyboardInterrupt included
            reason = _describe(error)
            if reason == MEMORY:  # the other cases would only fill memory again
                return {"status": "failed", "detail": f"{MEMORY} on {case['label']}"}
            outputs.append({"error": reason})
    return {"status": "ran", "outputs": outputs}


def _readable(output: dict) -> dict:
    if "value" not in output:
        return output
    try:
        return {"value": to_data(output["value"])}
    except BaseException as error:
        return {"error": f"returned a value that could not be read ({_describe(error)})"}


def _run_exercise(namespace: dict, name: str, cases: list, watch: Watch) -> dict:
    fn = namespace.get(name)
    if fn is None:
        return {"status": "missing"}
    if not callable(fn):
        return {"status": "not_callable", "detail": type(fn).__name__}
    try:
        with watch:
            result = _run_cases(fn, cases)
    except BaseException as error:  # the watch itself, broken from inside
        watch.tampered.add(f"the watch ({_describe(error)})")
        result = {}
    verdict = _watched(watch)
    if verdict or result.get("status") != "ran":
        return verdict or result
    return {"status": "ran", "outputs": [_readable(output) for output in result["outputs"]]}


def _load(source: str, exercises: list, report) -> dict | str:
    """Run the kept definitions under a watch for every exercise's forbidden operators;
    the namespace, or why it could not be loaded."""
    namespace = {"__name__": "submission", "__builtins__": builtins}
    watched = set().union(*(e["forbidden"] for e in exercises)) - {AUTOGRAD}
    watch = Watch(watched, report)
    try:
        with watch:
            exec(compile(source, "submission", "exec"), namespace)
    except BaseException as error:
        verdict = _watched(watch)
        return f"{verdict['status']}: {verdict['detail']}" if verdict else _describe(error)
    verdict = _watched(watch)
    return f"{verdict['status']}: {verdict['detail']}" if verdict else namespace


def main(workdir: str, report_fd: int, go_fd: int) -> int:
    os.chdir(workdir)
    job = torch.load("job.pt", weights_only=True)
    torch.set_num_threads(1)
    for module in job["preload"]:  # while still privileged: the interpreter's own files
        __import__(module)  # may be unreadable to nobody (e.g. a Python under /root)
    warm_up()
    sys.meta_path.insert(0, _NoCoursePackage())
    _limit_resources(job["memory_bytes"], job["cpu_seconds"])
    if job["drop_privileges"]:
        _drop_privileges()
    if job["forbid_processes"]:
        forbid_new_processes()

    def report(operator: str) -> None:
        write_frame(report_fd, FORBIDDEN, operator.encode())

    loaded = _load(job["source"], job["exercises"], report)
    if isinstance(loaded, str):
        write_frame(report_fd, ERROR, loaded.encode())
        return 3
    for index, exercise in enumerate(job["exercises"]):
        write_frame(report_fd, START, exercise["name"].encode())
        if os.read(go_fd, 1) != b"g":
            return 5  # the parent is gone
        cases = torch.load(os.path.join("cases", f"{index}.pt"), weights_only=True)
        watch = Watch(exercise["forbidden"], report)
        result = _run_exercise(loaded, exercise["name"], cases, watch)
        write_frame(report_fd, DONE, _serialize(result))
    os._exit(0)  # skip the interpreter's teardown (half a second with torch loaded)


def _serialize(result: dict) -> bytes:
    buffer = io.BytesIO()
    try:
        torch.save(result, buffer)
    except BaseException as error:
        buffer = io.BytesIO()
        torch.save({"status": "crashed", "detail": f"its result could not be saved "
                    f"({_describe(error)})"}, buffer)  # fmt: skip
    return buffer.getvalue()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc(limit=3)
        sys.exit(4)
