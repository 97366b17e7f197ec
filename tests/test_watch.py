"""The operator watch: each chapter's declared operators catch the library call they stand
for, whatever route reaches it, honest code passes, and blinding the watch is noticed."""

import contextlib
import gc
import warnings

import pytest
import torch
import torch.nn.functional as F

from cnnbook.grading.chapters import ch01, ch02, ch03, ch04, ch05
from cnnbook.grading.child.watch import ESCAPES, Watch

X = torch.randn(2, 3, 8, 8)
W = torch.randn(4, 3, 3, 3)


def ops(chapter, name: str) -> frozenset[str]:
    return next(ex.forbidden_ops for ex in chapter.EXERCISES if ex.name == name)


def watched(forbidden, fn) -> Watch:
    """Run `fn` under a watch, swallowing what it raises, as the grader's child does."""
    watch = Watch(forbidden)
    with watch, contextlib.suppress(RuntimeError):
        fn()
    return watch


def sgd_step():
    param = torch.zeros(3)
    param.grad = torch.ones(3)
    torch.optim.SGD([param], lr=0.1, momentum=0.9).step()


def sigmoid_by_autograd():
    x = X.clone().requires_grad_()
    torch.exp(-x).add(1).reciprocal().sum().backward()


# (chapter, exercise, a way to cheat on it with the library)
CHEATS = [
    (ch01, "conv2d_naive", lambda: F.conv2d(X, W)),
    (ch01, "conv2d_naive", lambda: torch.nn.Conv2d(3, 4, 3)(X)),
    (ch01, "conv_output_size", lambda: F.conv1d(torch.zeros(1, 1, 9, device="meta"),
                                                 torch.zeros(1, 1, 3, device="meta"))),
    (ch01, "max_pool2d", lambda: F.max_pool2d(X, 2)),
    (ch01, "max_pool2d", lambda: F.adaptive_max_pool2d(X, 3)),
    (ch02, "cross_entropy_from_logits", lambda: F.cross_entropy(X[:, :, 0, 0], torch.tensor([0, 1]))),
    (ch02, "linear_backward", sigmoid_by_autograd),
    (ch02, "conv2d_backward", lambda: F.conv_transpose2d(torch.randn(2, 4, 6, 6), W)),
    (ch02, "conv2d_backward", lambda: torch.nn.ConvTranspose2d(4, 3, 3)(torch.randn(2, 4, 6, 6))),
    (ch02, "conv2d_backward", lambda: torch.nn.grad.conv2d_weight(X, W.shape, torch.randn(2, 4, 6, 6))),
    (ch03, "adam_step", sgd_step),
    (ch04, "sigmoid_and_grad", lambda: torch.sigmoid(X)),
    (ch04, "sigmoid_and_grad", sigmoid_by_autograd),
    (ch04, "relu_and_grad", lambda: F.relu(X)),
    (ch04, "softmax_and_jacobian", lambda: F.softmax(X, 1)),
    (ch05, "batch_norm", lambda: F.batch_norm(X, torch.zeros(3), torch.ones(3), training=True)),
    (ch05, "group_norm", lambda: F.group_norm(X, 3)),
    (ch05, "group_norm", lambda: F.layer_norm(X, (8,))),
]  # fmt: skip


@pytest.mark.parametrize(("chapter", "exercise", "cheat"), CHEATS)
def test_the_library_call_is_caught(chapter, exercise, cheat):
    watch = watched(ops(chapter, exercise), cheat)
    assert watch.found and not watch.tampered


def conv_by_unfold():
    cols = F.unfold(X, 3)
    return (W.view(4, -1) @ cols).view(2, 4, 6, 6)


@pytest.mark.parametrize(
    ("chapter", "exercise", "honest"),
    [
        (ch01, "conv2d_unfold", conv_by_unfold),
        (ch01, "max_pool2d", lambda: F.unfold(X, 2, stride=2).view(2, 3, 4, -1).amax(2)),
        (ch02, "conv2d_backward", lambda: F.conv2d(F.pad(X, (2, 2, 2, 2)), W.flip(-2, -1))),
        (ch04, "sigmoid_and_grad", lambda: 1 / (1 + torch.exp(-X))),
        (ch05, "batch_norm", lambda: (X - X.mean((0, 2, 3), keepdim=True)) / X.std()),
    ],
)
def test_honest_code_passes(chapter, exercise, honest):
    watch = watched(ops(chapter, exercise), honest)
    assert not watch.found and not watch.tampered


def test_the_watch_leaves_nothing_behind():
    before = torch._C._dispatch_dump("aten::convolution")
    watched(ops(ch01, "conv2d_naive") | {"autograd"}, lambda: None)
    assert torch._C._dispatch_dump("aten::convolution") == before
    assert F.conv2d(X, W).shape == (2, 4, 6, 6)
    x = torch.randn(1, 1, 9, requires_grad=True)
    with warnings.catch_warnings():  # autograd of conv1d, a composite, still registered
        warnings.simplefilter("error")
        F.conv1d(x, torch.ones(1, 1, 3)).sum().backward()
    assert torch.utils._python_dispatch._get_current_dispatch_mode_stack() == []
    replaced = [*ESCAPES, (torch._C, "_dispatch_library"), (torch.library.Library, "impl")]
    assert all(
        getattr(getattr(owner, name), "__name__", "")
        not in ("tripwire", "guarded_open", "guarded_register")
        for owner, name in replaced
    )


def excluding_python_key():
    keys = torch._C.DispatchKeySet(torch._C.DispatchKey.Python)
    with torch._C._ExcludeDispatchKeyGuard(keys):
        F.conv2d(X, W)


def redispatching():
    op = torch.ops.aten.convolution.default
    keys = torch._C.DispatchKeySet(torch._C.DispatchKey.CPU)
    op.redispatch(keys, X, W, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1)


@pytest.mark.parametrize("route", [excluding_python_key, redispatching])
def test_dispatch_tricks_still_reach_the_watched_kernel(route):
    assert watched(ops(ch01, "conv2d_naive"), route).found


def replacing_the_kernel():
    library = torch.library.Library("aten", "IMPL")
    library.impl("convolution", lambda *args: torch.zeros(1), "CPU")
    F.conv2d(X, W)


def removing_the_watch_libraries():
    """Find the library that put a CPU kernel over convolution (the watch's: PyTorch's
    own registers only meta kernels from Python) and destroy it, as a submission could
    through the garbage collector."""
    for obj in gc.get_objects():
        if type(obj) is torch.library.Library and "aten/convolution/CPU" in obj._op_impls:
            obj._destroy()


def disabling_the_mode():
    with torch._C._DisableTorchDispatch():
        x = X.clone().requires_grad_()
        (x * 2).sum().backward()


def popping_the_mode():
    torch.utils._python_dispatch._pop_mode()


@pytest.mark.parametrize(
    ("forbidden", "attempt"),
    [
        (ops(ch01, "conv2d_naive"), replacing_the_kernel),
        (ops(ch01, "conv2d_naive"), removing_the_watch_libraries),
        (ops(ch02, "linear_backward"), disabling_the_mode),
        (ops(ch02, "linear_backward"), popping_the_mode),
    ],
)
def test_blinding_the_watch_is_detected(forbidden, attempt):
    assert watched(forbidden, attempt).tampered
