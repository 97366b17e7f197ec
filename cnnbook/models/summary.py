"""What a network does to its input, layer by layer: shapes, parameters, MACs and
receptive fields, without running a real forward pass.

Shapes and multiply-accumulate counts come from one forward pass on the meta device
(shapes only, no memory, instant even for VGG-16). Receptive fields are computed from
the graph: `torch.fx` traces a block into its operations, and the field grows through
each convolution or pooling along the widest path, since a concatenation or a sum sees
everything its inputs saw.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import fx, nn

GLOBAL = math.inf  # the receptive field of a unit that sees the whole image

_WINDOWED = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
_GLOBAL = (nn.Linear, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten)


@dataclass(frozen=True)
class LayerRow:
    """One row of a layer table: a leaf layer or a whole block."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    parameters: int
    macs: int
    receptive_field: float  # pixels of the input along one side; GLOBAL after pooling to 1x1


def _pair(value: int | tuple[int, ...]) -> int:
    return value if isinstance(value, int) else value[0]


def _window(module: nn.Module) -> tuple[int, int, int]:
    """(kernel, stride, dilation) of a convolution or pooling layer, along one axis."""
    dilation = getattr(module, "dilation", 1)
    stride = module.stride if module.stride is not None else module.kernel_size
    return _pair(module.kernel_size), _pair(stride), _pair(dilation)


def receptive_field(module: nn.Module, field: float = 1, jump: float = 1) -> tuple[float, float]:
    """(field, jump) after `module` for an input whose units see `field` input pixels
    and are `jump` input pixels apart. A k x k window with dilation d adds (k-1)*d*jump
    to the field; its stride multiplies the jump. Branches take the widest field."""
    if isinstance(module, _WINDOWED):
        kernel, stride, dilation = _window(module)
        return field + (kernel - 1) * dilation * jump, jump * stride
    if isinstance(module, _GLOBAL):
        return GLOBAL, jump
    children = list(module.children())
    if not children:  # elementwise or per-channel layers: ReLU, BatchNorm, Dropout, LRN
        return field, jump
    if isinstance(module, nn.Sequential):
        for child in children:
            field, jump = receptive_field(child, field, jump)
        return field, jump
    return _through_graph(module, field, jump)


class _BlockTracer(fx.Tracer):
    """Trace one level: the block's own children stay opaque calls."""

    def __init__(self, root: nn.Module):
        super().__init__()
        self.children = {id(child) for child in root.children()}

    def is_leaf_module(self, m: nn.Module, qualified_name: str) -> bool:
        return id(m) in self.children or super().is_leaf_module(m, qualified_name)


def _through_graph(module: nn.Module, field: float, jump: float) -> tuple[float, float]:
    graph = _BlockTracer(module).trace(module)
    seen: dict[fx.Node, tuple[float, float]] = {}
    for node in graph.nodes:
        inputs = [seen[arg] for arg in node.all_input_nodes if arg in seen]
        widest = max(inputs, default=(field, jump))
        if node.op == "placeholder":
            seen[node] = (field, jump)
        elif node.op == "call_module":
            seen[node] = receptive_field(module.get_submodule(str(node.target)), *widest)
        elif node.op == "output":
            return widest
        else:  # cat, add, relu, flatten, indexing ...: the widest input's field
            seen[node] = widest
    raise ValueError(f"{type(module).__name__} has no output")


def _macs(module: nn.Module, output: torch.Tensor) -> int:
    """Multiply-accumulates of one sample through a convolution or linear layer."""
    per_sample = output[0].numel()
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return per_sample * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return per_sample * module.in_features
    return 0


def rows_of(model: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """The units a table lists: Sequential containers are opened, anything else (a
    layer or a block) is one row."""
    if not isinstance(model, nn.Sequential):
        return [(prefix or type(model).__name__, model)]
    rows = []
    for name, child in model.named_children():
        rows += rows_of(child, f"{prefix}.{name}" if prefix else name)
    return rows


def layer_table(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerRow]:
    """One `LayerRow` per unit of `model` for one input of `input_shape` (C, H, W).

    The model is copied to the meta device, so the caller's weights are untouched and
    even ImageNet-sized networks cost no memory or time.
    """
    meta = copy.deepcopy(model).to("meta").eval()
    units = rows_of(meta)
    shapes: dict[int, tuple[int, ...]] = {}
    macs: dict[int, int] = {}

    def record(unit_id: int):
        def hook(module, args, output):
            shapes[unit_id] = tuple(output.shape[1:])

        return hook

    def count(unit_id: int):
        def hook(module, args, output):
            macs[unit_id] = macs.get(unit_id, 0) + _macs(module, output)

        return hook

    handles = []
    for index, (_, unit) in enumerate(units):
        handles.append(unit.register_forward_hook(record(index)))
        for leaf in unit.modules():
            if isinstance(leaf, nn.Conv2d | nn.Linear):
                handles.append(leaf.register_forward_hook(count(index)))
    with torch.no_grad():
        meta(torch.empty(1, *input_shape, device="meta"))
    for handle in handles:
        handle.remove()
    table, field, jump = [], 1.0, 1.0
    for index, (name, unit) in enumerate(units):
        field, jump = receptive_field(unit, field, jump)
        table.append(LayerRow(
            name, type(unit).__name__, shapes[index],
            sum(p.numel() for p in unit.parameters()), macs.get(index, 0), field,
        ))  # fmt: skip
    return table


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of convolution and linear layers for one input (what papers
    usually call FLOPs; a MAC is one multiplication and one addition)."""
    meta = copy.deepcopy(model).to("meta").eval()
    total = 0

    def hook(module, args, output):
        nonlocal total
        total += _macs(module, output)

    layers = [m for m in meta.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    handles = [layer.register_forward_hook(hook) for layer in layers]
    with torch.no_grad():
        meta(torch.empty(1, *input_shape, device="meta"))
    for handle in handles:
        handle.remove()
    return total
