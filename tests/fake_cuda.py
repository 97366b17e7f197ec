"""Run training code on a pretend GPU, so a tensor left on the CPU fails on a CPU machine.

PyTorch's `FakeTensorMode` gives tensors a device and a shape but no data: a model can
sit on `cuda` here, and an operation that mixes a `cuda` tensor with a CPU one raises
"Expected all tensors to be on the same device", exactly as on a real GPU. Three things a
real GPU does need stand-ins:

- Reading a number out of a tensor (`.item()`, `float(loss)`) has no data to read: it
  returns 1 (of the tensor's type; 1, not 0, so that Adam's bias correction, which
  reads its step count this way, divides by something), so metrics are meaningless but
  the code path runs.
- `backward()` on fake CUDA tensors needs a real CUDA context (pytorch/pytorch#92627),
  so it is replaced by giving every leaf of the graph a zero gradient on that leaf's own
  device; the optimizer step that follows then runs on the fake device for real.
- `Module.to(device)` of a model whose parameters are already fake would make PyTorch
  swap them in place, which it refuses for fake tensors; such a model is moved by
  replacing its parameters and buffers instead (layout requests such as channels-last
  are ignored: fake tensors carry no data to lay out).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode

CUDA = torch.device("cuda")


class _FakeCudaMode(FakeTensorMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            dtype = args[0].dtype
            return True if dtype == torch.bool else 1.0 if dtype.is_floating_point else 1
        return super().__torch_dispatch__(func, types, args, kwargs)


def _leaves(root: torch.Tensor) -> Iterator[torch.Tensor]:
    seen, stack = set(), [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if hasattr(node, "variable"):
            yield node.variable
        stack.extend(next_node for next_node, _ in node.next_functions)


def _zero_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    for leaf in inputs if inputs is not None else _leaves(self):
        grad = torch.zeros_like(leaf)
        leaf.grad = grad if leaf.grad is None else leaf.grad + grad


def _zero_grad(outputs, inputs, *args, **kwargs):
    inputs = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    return tuple(torch.zeros_like(x) for x in inputs)


def _to_without_swapping(original):
    def to(module: torch.nn.Module, *args, **kwargs):
        device, dtype, _, _ = torch._C._nn._parse_to(*args, **kwargs)
        fake = any(isinstance(t, FakeTensor) for t in module.state_dict().values())
        if not fake or device is None or dtype is not None:
            return original(module, *args, **kwargs)
        for sub in module.modules():
            for key, param in sub._parameters.items():
                if param is not None and param.device.type != device.type:
                    sub._parameters[key] = torch.nn.Parameter(param.to(device), param.requires_grad)
            for key, buffer in sub._buffers.items():
                if buffer is not None:
                    sub._buffers[key] = buffer.to(device)
        return module

    return to


@contextlib.contextmanager
def fake_cuda() -> Iterator[torch.device]:
    """Inside, tensors have no data and may live on `cuda` (yielded); real tensors that
    flow in (datasets loaded before) become fake CPU tensors."""
    patches = contextlib.ExitStack()
    patched = [
        (torch.Tensor, "backward", _zero_backward),
        (torch.autograd, "grad", _zero_grad),
        (torch.nn.Module, "to", _to_without_swapping(torch.nn.Module.to)),
    ]
    for owner, name, replacement in patched:
        original = getattr(owner, name)
        setattr(owner, name, replacement)
        patches.callback(setattr, owner, name, original)
    with patches, _FakeCudaMode(allow_non_fake_inputs=True):
        yield CUDA
