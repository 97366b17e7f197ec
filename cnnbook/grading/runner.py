"""The grader's child process: run a submission's functions on given inputs, return data.

Started by `cnnbook.grading.sandbox` as ``python -I runner.py WORKDIR`` in an empty
working directory with a scrubbed environment. It deliberately imports nothing of the
course package (so a submission cannot reach the reference code) and talks to the parent
only through files:

- reads ``job.pt`` (inputs only, never expected answers);
- appends ``start NAME`` / ``done NAME`` lines to ``progress``, so the parent can time
  each exercise and kill the process when one runs too long;
- writes ``results/NAME.pt`` with plain data (tensors, numbers, strings, lists) that the
  parent loads with ``torch.load(weights_only=True)``.

Before any submitted code runs it caps memory, CPU time and file size, and, when
started as root, drops to the unprivileged user ``nobody``.
"""

import builtins
import os
import resource
import sys
import traceback

import torch

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


# Functions an exercise may receive as an argument (e.g. the function to differentiate
# in a gradient check). Functions cannot travel as data, so a case names one with
# {"__function__": name} and both the self-check and this child resolve the name here.
FUNCTIONS = {
    "sum_of_squares": lambda x: (x**2).sum(),
    "log_sum_exp": lambda x: torch.logsumexp(x.flatten(), 0),
    "sin_times_cos": lambda x: (torch.sin(x) * torch.cos(2 * x)).sum(),
    "softplus_norm": lambda x: torch.nn.functional.softplus(x).pow(2).sum().sqrt(),
    "cubic_mix": lambda x: (x**3).sum() - (x.flatten()[:-1] * x.flatten()[1:]).sum(),
}


def resolve_functions(value):
    """`value` with every {"__function__": name} replaced by the function it names."""
    if isinstance(value, dict):
        if set(value) == {"__function__"}:
            return FUNCTIONS[value["__function__"]]
        return {k: resolve_functions(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(resolve_functions(v) for v in value)
    return value


def call_steps(step, param, grads, hyper: dict):
    """How an optimizer exercise is run: one state dict, one call per gradient, like
    `torch.optim` keeping per-parameter state between steps."""
    state: dict = {}
    for grad in grads:
        param = step(param, grad, state, **hyper)
    return param


def call_methods(cls, args: tuple, kwargs: dict, method: str, calls) -> list:
    """How a stateful-object exercise is run (an early-stopping rule, say): build it,
    call `method` once per argument tuple in `calls`, and collect the answers."""
    obj = cls(*args, **kwargs)
    return [getattr(obj, method)(*call) for call in calls]


def randomize_state(module) -> None:
    """Give every floating-point entry of `module`'s state dict fresh values from a fixed
    seed: N(0, 1/fan_in) for weights, N(0, 0.25) for biases, BN scales and shifts and
    running means, U(0.5, 1.5) for running variances (which must stay positive); integer
    buffers such as `num_batches_tracked` are left alone.

    With PyTorch's default initialization a batch norm in eval mode is nearly the
    identity (running mean 0, variance 1, scale 1, shift 0), so a block that forgot to
    apply one of its batch norms would match the reference. Biases start non-zero for
    the same reason. The grader loads the state dict returned next to the output into its
    reference, so both sides see the same values.
    """
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
                continue
            shape = tuple(tensor.shape)
            if name.endswith("running_var"):
                values = torch.rand(shape, generator=generator, dtype=torch.float64) + 0.5
            elif len(shape) >= 2 and shape[0] > 0:
                fan_in = max(1, tensor.numel() // shape[0])
                values = torch.randn(shape, generator=generator, dtype=torch.float64) / fan_in**0.5
            else:
                values = torch.randn(shape, generator=generator, dtype=torch.float64) * 0.5
            tensor.copy_(values)


def call_module(cls, args: tuple, kwargs: dict, inputs: tuple) -> dict:
    """How a module exercise is run: build it, give its weights and buffers seeded random
    values (`randomize_state`), run `inputs` through it in eval mode, and report its
    output, its parameter count and its state dict (the grader loads that state dict into
    its reference to know what the output should be)."""
    module = cls(*args, **kwargs)
    randomize_state(module)
    module.eval()
    with torch.no_grad():
        output = module(*inputs)
    return {
        "output": output,
        "parameters": sum(p.numel() for p in module.parameters()),
        "state_dict": dict(module.state_dict()),
    }


def _describe(error: BaseException) -> str:
    if isinstance(error, MemoryError) or "can't allocate memory" in str(error).lower():
        return MEMORY
    message = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
    return (
        f"raised {type(error).__name__}: {message}" if message else f"raised {type(error).__name__}"
    )


def _run_exercise(namespace: dict, name: str, cases: list) -> dict:
    fn = namespace.get(name)
    if fn is None:
        return {"status": "missing"}
    if not callable(fn):
        return {"status": "not_callable", "detail": type(fn).__name__}
    outputs = []
    for case in cases:
        try:
            if case.get("iterate"):
                value = call_steps(fn, *case["args"], case["kwargs"])
            elif case.get("method"):
                value = call_methods(
                    fn, case["args"], case["kwargs"], case["method"], case["inputs"]
                )
            elif case.get("inputs") is None:
                value = fn(*resolve_functions(case["args"]), **resolve_functions(case["kwargs"]))
            else:
                value = call_module(fn, case["args"], case["kwargs"], case["inputs"])
        except NotImplementedError:
            return {"status": "not_implemented"}
        except BaseException as error:  # SystemExit and KeyboardInterrupt included
            reason = _describe(error)
            if reason == MEMORY:  # the other cases would only fill memory again
                return {"status": "failed", "detail": f"{MEMORY} on {case['label']}"}
            outputs.append({"error": reason})
            continue
        try:
            outputs.append({"value": to_data(value)})
        except BaseException as error:
            outputs.append(
                {"error": f"returned a value that could not be read ({_describe(error)})"}
            )
    return {"status": "ran", "outputs": outputs}


def main(workdir: str) -> int:
    os.chdir(workdir)
    job = torch.load("job.pt", weights_only=True)
    torch.set_num_threads(1)
    for module in job["preload"]:  # while still privileged: the interpreter's own files
        __import__(module)  # may be unreadable to nobody (e.g. a Python under /root)
    _limit_resources(job["memory_bytes"], job["cpu_seconds"])
    namespace = {"__name__": "submission", "__builtins__": builtins}
    try:
        exec(compile(job["source"], "submission", "exec"), namespace)
    except BaseException as error:
        with open("load_error", "w") as f:
            f.write(_describe(error))
        return 3
    _drop_privileges()
    with open("progress", "a", buffering=1) as progress:
        for exercise in job["exercises"]:
            name = exercise["name"]
            progress.write(f"start {name}\n")
            result = _run_exercise(namespace, name, exercise["cases"])
            torch.save(result, os.path.join("results", f"{name}.pt"))
            progress.write(f"done {name}\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1]))
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc(limit=3)
        sys.exit(4)
