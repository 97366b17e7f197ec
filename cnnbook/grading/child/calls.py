"""How an exercise is called: shared by the students' self-checks and the grader's child.

Both must call a student's function the same way, or a solution that passes its
self-check could fail in the grader. The child imports this file by path, so it imports
nothing of the course package.
"""

import torch

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


def _linear(weight, bias):
    layer = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer


CELLS = {"RNN": torch.nn.RNNCell, "LSTM": torch.nn.LSTMCell, "GRU": torch.nn.GRUCell}


def _cell(kind, weights, nonlinearity):
    """A PyTorch recurrent cell of `kind` holding `weights` (weight_ih, weight_hh, bias_ih,
    bias_hh; biases both None for none), in their dtype."""
    weight_ih, weight_hh = weights[:2]
    options = {"nonlinearity": nonlinearity} if kind == "RNN" else {}
    cell = CELLS[kind](weight_ih.shape[1], weight_hh.shape[1], bias=weights[2] is not None,
                       dtype=weight_ih.dtype, **options)  # fmt: skip
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    with torch.no_grad():
        for name, tensor in zip(names, weights, strict=True):
            if tensor is not None:
                getattr(cell, name).copy_(tensor)
    return cell


def _parameter(value, grad):
    """A parameter holding `value` whose `.grad` is `grad`, as after a backward pass."""
    parameter = torch.nn.Parameter(value)
    parameter.grad = grad
    return parameter


def resolve_functions(value, made: list | None = None):
    """`value` with every {"__function__": name} replaced by the function it names, and
    every {"__linear__": (weight, bias)} by an `nn.Linear` holding those tensors (a layer,
    like a function, cannot travel as data); likewise {"__cell__": (kind, weights,
    nonlinearity)} becomes an `nn.RNNCell`, `nn.LSTMCell` or `nn.GRUCell` (`_cell`),
    {"__parameter__": (value, grad)} an `nn.Parameter` with that `.grad`, and
    {"__iter__": items} a generator over the items (as `model.parameters()` is).
    The parameters made on the way are appended to `made`, in order."""
    made = [] if made is None else made
    if isinstance(value, dict):
        if set(value) == {"__function__"}:
            return FUNCTIONS[value["__function__"]]
        if set(value) == {"__linear__"}:
            return _linear(*value["__linear__"])
        if set(value) == {"__cell__"}:
            cell = _cell(*value["__cell__"])
            made.extend(cell.parameters())
            return cell
        if set(value) == {"__parameter__"}:
            made.append(_parameter(*value["__parameter__"]))
            return made[-1]
        if set(value) == {"__iter__"}:
            items = resolve_functions(list(value["__iter__"]), made)
            return (item for item in items)
        return {k: resolve_functions(v, made) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(resolve_functions(v, made) for v in value)
    return value


def call_reporting_grads(fn, args: tuple, kwargs: dict) -> dict:
    """How an exercise that acts on gradients is run (clipping them in place, or
    differentiating without touching them): call it, and report what it returned and
    the `.grad` of every parameter made from its arguments, afterwards."""
    made: list = []
    value = fn(*resolve_functions(args, made), **resolve_functions(kwargs, made))
    return {"value": value, "grads": [parameter.grad for parameter in made]}


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


def call_built(fn, args: tuple, kwargs: dict, inputs: tuple) -> dict:
    """How an exercise that returns a layer is run (convolutionalizing a linear layer,
    say): call it, run `inputs` through the layer it returns, and report what kind of
    layer it is, its hyper-parameters, its output and its state dict. PyTorch's generator
    is seeded first, so a function that builds and trains a model starts from the same
    weights in the self-check and in every run of the grader."""
    torch.manual_seed(0)
    module = fn(*resolve_functions(args), **resolve_functions(kwargs))
    if not isinstance(module, torch.nn.Module):
        return {"type": type(module).__name__}
    module.eval()
    try:
        with torch.no_grad():
            output = module(*inputs)
    except Exception as error:  # the kind of layer is the better message: report both
        return {"type": type(module).__name__, "error": f"{type(error).__name__}: {error}"[:300]}
    settings = ("kernel_size", "stride", "padding", "dilation", "groups")
    return {
        "type": type(module).__name__,
        "settings": {name: getattr(module, name) for name in settings if hasattr(module, name)},
        "output": output,
        "state_dict": dict(module.state_dict()),
    }
