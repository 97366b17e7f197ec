"""The ATen operators an exercise forbids, read from PyTorch's dispatcher.

A hand-written list misses what it does not know: ``torch.ops.aten.convolution_backward``
computes a transposed convolution, ``max_pool2d`` with the right kernel computes a
spatial pyramid's bins, ``rrelu`` in evaluation computes a leaky ReLU. So each family is a
pattern over the names of every operator this PyTorch registers, and a test enumerates
the operators again by their schemas (a stride and a padding, a kernel size) to make
sure no family misses one. The grader's child receives the names; one it registers no
kernel for (a CUDA-only operator on a CPU build) costs nothing.

An entry ``aten::NAME[transposed]`` forbids the operator only when its ``transposed``
argument is true: Chapter 2's solution computes gradients with forward convolutions,
which the same operators also run.
"""

from __future__ import annotations

import re

import torch

AUTOGRAD = "autograd"  # the child's pseudo-operator: differentiating automatically


def aten_operators(pattern: str, exclude: str | None = None) -> frozenset[str]:
    """``aten::NAME`` for every operator whose name (without overload) matches `pattern`
    and not `exclude`."""
    names = {n.split(".")[0] for n in torch._C._dispatch_get_all_op_names()}
    return frozenset(
        name
        for name in names
        if name.startswith("aten::")
        and re.search(pattern, name[6:])
        and not (exclude and re.search(exclude, name[6:]))
    )


def transposed_only(operators: frozenset[str]) -> frozenset[str]:
    """The operators of `operators` that take a `transposed` flag, forbidden only with it."""
    flagged = {
        schema.name
        for schema in torch._C._jit_get_all_schemas()
        if schema.name in operators and any(a.name == "transposed" for a in schema.arguments)
    }
    return frozenset(f"{name}[transposed]" for name in flagged)


# every convolution, transposed convolution and their gradients, on every backend
CONVOLUTION = aten_operators(r"conv", exclude=r"convert")
# what computes a convolution's gradients: backward operators, transposed convolutions,
# and the generic ones asked for a transposed convolution
CONVOLUTION_GRADIENTS = aten_operators(r"conv.*(backward|transpose)") | transposed_only(CONVOLUTION)
POOLING = aten_operators(r"pool")
NORMALIZATION = aten_operators(r"(batch|group|layer|instance|rms)_norm")
SOFTMAX = aten_operators(r"softmax|logsumexp|nll_loss|cross_entropy")
UPSAMPLING = aten_operators(r"upsample")
# recurrent cells and layers whose kernels compute a whole step (the composite ones are
# named in Chapter 9 with the key to watch them at)
RECURRENT = aten_operators(r"rnn|lstm|gru", exclude=r"flatten_weight")
# attention computed by a fused kernel (every backend's, and the math fallback that
# F.scaled_dot_product_attention dispatches to) or by a whole Transformer layer
ATTENTION = aten_operators(
    r"scaled_dot_product|_fused_sdp|flash_attention|efficient_attention|cudnn_attention"
    r"|multi_head_attention|_transformer_encoder"
)
BINARY_CROSS_ENTROPY = aten_operators(r"binary_cross_entropy")
