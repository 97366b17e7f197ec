"""Catch a submission that dispatches the operator its exercise asks it to implement.

The grader's static check reads names in the source (``F.conv2d``, ``getattr(F,
"conv2d")``); a name built at run time slips past it. Every route to a PyTorch operator,
however its Python name was spelled, ends in the dispatcher, so this watch sits there,
inside the child process, while one exercise runs:

- **Kernels.** For each forbidden ATen operator (``aten::convolution``, ...) it registers
  a kernel for the backend dispatch keys, over PyTorch's own, that records the call and
  raises (``profiler::_record_function_enter_new`` works too: every `torch.optim`
  optimizer's step opens a profiler record, and no hand-written step does). Dispatch
  tricks that hide an operator from Python (excluding the Python key, ``redispatch``,
  calling ``torch._C`` directly) still end in one of these kernels.
- **Composite operators.** An operator written in terms of others
  (CompositeImplicitAutograd, such as ``aten::conv2d``) is left to its decomposition,
  which reaches a watched kernel (``aten::convolution``). One whose decomposition
  reaches only operators a solution needs (``aten::lstm_cell``: linear, sigmoid, tanh)
  is named with the key to watch it at, ``aten::lstm_cell/CompositeImplicitAutograd``:
  its own composite kernel is replaced while the watch runs, for every backend and
  autograd, and PyTorch's comes back exactly when the watch ends.
- **Autograd.** The pseudo-operator ``"autograd"`` forbids differentiating automatically
  (for exercises that ask for a gradient by hand): a `TorchDispatchMode` records any
  operator whose tensor arguments require grad.
- **Flags.** ``aten::convolution[transposed]`` forbids an operator only when that
  argument is true; the same dispatch mode reads the argument.
- **Tampering.** While the exercise runs, opening a kernel library for a watched
  namespace (``aten``, ...) or registering a kernel for a watched operator is recorded,
  and so, while the mode is on, is calling one of the functions that switch dispatch
  modes off or exclude dispatch keys. After it, the dispatcher's table of every watched
  operator must be the one the watch registered, and the mode must still be on its
  stack. A solution has no reason to touch any of these, so doing so is scored as an
  attempt to get past the watch.

It imports nothing of the course package: it runs next to the submitted code.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable

import torch
import torch.utils._python_dispatch as python_dispatch
from torch.utils._python_dispatch import TorchDispatchMode

AUTOGRAD = "autograd"
# Backends a submission could reach from the CPU (CUDA is hidden from the child, but
# costs nothing to cover); CompositeExplicitAutograd catches operators without tensors.
KERNEL_KEYS = ("CPU", "CUDA", "Meta", "MkldnnCPU", "QuantizedCPU", "SparseCPU",
               "CompositeExplicitAutograd")  # fmt: skip

# (module, attribute): ways to stop a dispatch mode from seeing an operator call.
# Wrapped only while the dispatch mode runs.
ESCAPES = [
    (torch._C, name)
    for name in (
        "_DisableTorchDispatch", "_ExcludeDispatchKeyGuard", "_SetExcludeDispatchKeyGuard",
        "_dispatch_tls_set_dispatch_key_excluded", "_pop_torch_dispatch_stack",
        "_set_dispatch_mode", "_unset_dispatch_mode",
    )
] + [
    (python_dispatch, name)
    for name in ("_disable_current_modes", "_pop_mode", "_pop_mode_temporarily")
]  # fmt: skip


class ForbiddenOperatorError(RuntimeError):
    """Raised by a watched kernel: the submission dispatched a forbidden operator."""


class _DispatchRecorder(TorchDispatchMode):
    """Records an operator that ran on a tensor requiring grad (when automatic
    differentiation is forbidden) and a flagged operator called with its flag set."""

    def __init__(self, found: set[str], report: Callable[[str], None] | None,
                 autograd: bool, flagged: dict[str, str]) -> None:  # fmt: skip
        super().__init__()
        self._found, self._report = found, report
        self._autograd, self._flagged = autograd, flagged

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False  # else the first dispatch imports torch._dynamo: 1.5 s per child

    def _record(self, name: str) -> None:
        self._found.add(name)
        if self._report is not None:
            self._report(name)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flag = self._flagged.get(func._schema.name)
        if flag is not None and _argument(func._schema, flag, args, kwargs):
            name = f"{func._schema.name}[{flag}]"
            self._record(name)
            raise ForbiddenOperatorError(f"{name} is the operator this exercise asks you to write")
        if (
            self._autograd
            and AUTOGRAD not in self._found
            and any(
                isinstance(leaf, torch.Tensor) and leaf.requires_grad
                for leaf in torch.utils._pytree.tree_leaves((args, kwargs))
            )
        ):
            self._record(AUTOGRAD)
        return func(*args, **kwargs)


def _argument(schema, name: str, args: tuple, kwargs: dict):
    """The value of argument `name` in a call of the operator with `schema`."""
    if name in kwargs:
        return kwargs[name]
    index = next((i for i, a in enumerate(schema.arguments) if a.name == name), len(args))
    return args[index] if index < len(args) else None


class Watch:
    """Context manager around one exercise: `found` lists the forbidden operators it
    dispatched, `tampered` the escape hatches it touched."""

    def __init__(
        self, forbidden: Iterable[str], report: Callable[[str], None] | None = None
    ) -> None:
        self.forbidden = frozenset(forbidden)
        self._report = report  # told at once, outside anything the submission can reach
        self.found: set[str] = set()
        self.tampered: set[str] = set()
        self._libraries: list[torch.library.Library] = []
        self._tables: dict[str, str] = {}  # operator -> its dispatch table, as registered
        self._mode: _DispatchRecorder | None = None
        self._originals: list[tuple[object, str, object]] = []

    def _kernel(self, name: str) -> Callable:
        def forbidden_kernel(*args, **kwargs):
            self.found.add(name)
            if self._report is not None:
                self._report(name)
            raise ForbiddenOperatorError(f"{name} is the operator this exercise asks you to write")

        return forbidden_kernel

    def _tripwire(self, label: str, original: Callable) -> Callable:
        def tripwire(*args, **kwargs):
            self.tampered.add(label)
            return original(*args, **kwargs)

        return tripwire

    def _replace(self, owner: object, name: str, replacement: Callable) -> None:
        self._originals.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)

    def _guard_registrations(self, namespaces: set[str], operators: set[str]) -> None:
        """Record a kernel library opened for a watched namespace, or a kernel registered
        for a watched operator: the way to put a kernel over the watch's."""
        open_library = torch._C._dispatch_library
        register = torch.library.Library.impl
        packets = {operator.split(".")[0] for operator in operators}  # lstm.input -> lstm

        def guarded_open(kind, namespace, *args, **kwargs):
            if kind in ("IMPL", "FRAGMENT") and namespace in namespaces:
                self.tampered.add(f"a kernel library for {namespace}")
            return open_library(kind, namespace, *args, **kwargs)

        def guarded_register(library, op_name, *args, **kwargs):
            name = op_name if isinstance(op_name, str) else getattr(op_name, "__name__", "")
            if f"{library.ns}::{name.split('.')[0]}" in packets:
                self.tampered.add(f"a kernel for {library.ns}::{name}")
            return register(library, op_name, *args, **kwargs)

        self._replace(torch._C, "_dispatch_library", guarded_open)
        self._replace(torch.library.Library, "impl", guarded_register)

    def __enter__(self) -> Watch:
        by_namespace: dict[str, list[tuple[str, str]]] = {}
        flagged = {e[:-1].partition("[")[0]: e[:-1].partition("[")[2]
                   for e in self.forbidden if e.endswith("]")}  # fmt: skip
        for entry in sorted(e for e in self.forbidden - {AUTOGRAD} if not e.endswith("]")):
            qualified, _, key = entry.partition("/")  # a named key: watch it there only
            if not key and _decomposes(qualified):
                continue  # caught where it decomposes to (conv2d -> convolution)
            namespace, _, name = qualified.partition("::")
            by_namespace.setdefault(namespace, []).append((name, key))
        with warnings.catch_warnings():  # "overriding a previously registered kernel"
            warnings.simplefilter("ignore")
            for namespace, names in by_namespace.items():
                library = torch.library.Library(namespace, "IMPL")
                self._libraries.append(library)
                for name, only in names:
                    for key in (only,) if only else KERNEL_KEYS:
                        try:
                            library.impl(name, self._kernel(f"{namespace}::{name}"), key)
                        except (RuntimeError, ValueError):
                            continue  # no such operator or key in this build
                    self._tables[f"{namespace}::{name}"] = _table(f"{namespace}::{name}")
        if self._libraries:
            self._guard_registrations(set(by_namespace), set(self._tables))
        if AUTOGRAD in self.forbidden or flagged:
            self._mode = _DispatchRecorder(self.found, self._report, AUTOGRAD in self.forbidden,
                                           flagged)  # fmt: skip
            self._mode.__enter__()
            for owner, name in ESCAPES:
                if hasattr(owner, name):
                    label = f"{getattr(owner, '__name__', owner)}.{name}"
                    self._replace(owner, name, self._tripwire(label, getattr(owner, name)))
        return self

    def __exit__(self, *exc_info) -> None:
        for owner, name, original in reversed(self._originals):
            setattr(owner, name, original)
        self._originals.clear()
        if self._mode is not None:
            stack = python_dispatch._get_current_dispatch_mode_stack()
            if not stack or stack[-1] is not self._mode:
                self.tampered.add("the dispatch mode stack")
            else:
                self._mode.__exit__(None, None, None)
        if any(_table(name) != table for name, table in self._tables.items()):
            self.tampered.add("the watched operators' kernels")
        for library in self._libraries:
            library._destroy()


def warm_up() -> None:
    """Import what registering kernels and entering a mode first import, while the
    child may still read every file (before it drops privileges in the fallback)."""
    with Watch({AUTOGRAD, "aten::convolution"}):
        torch.zeros(1).add_(1)


def _decomposes(operator: str) -> bool:
    """Whether `operator` is written in terms of others (CompositeImplicitAutograd).
    Such an operator is never overridden: its decomposition reaches a watched kernel
    anyway, and a kernel put over it and removed again leaves its autograd broken for
    the rest of the process."""
    try:
        return torch._C._dispatch_has_kernel_for_dispatch_key(operator, "CompositeImplicitAutograd")
    except RuntimeError:
        return False


def _table(operator: str) -> str:
    """The dispatcher's registrations for `operator` (empty if it does not exist)."""
    try:
        return torch._C._dispatch_dump(operator)
    except RuntimeError:
        return ""
