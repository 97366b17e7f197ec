"""Which numbers a chapter quotes, and whether an assertion reads each of them.

Chapters quote measured values through `cnnbook.glue`; the sentence around such a value
("X beats Y", "stays near the baseline") is only as true as an assertion on the same
value. `Notebook` reads a chapter statically: a glued value is bounded when an assertion
in its notebook (an `assert` or a testing helper) reads a name the glued expression reads,
the name the glue's result is stored in, or the collection a loop variable comes from (an
assertion also reads what the names it reads were computed from, one step back, leaving
out names bound more than once: a reused name such as `history` could be any run).

Exempt: values set rather than measured (literals, arithmetic of them, sizes `len(...)`,
`cnnbook.sized(...)` of such values, `math`, `round` or the notebook's own functions
applied to them, names only ever given such values); words the numbers choose
(`"won" if ... else "lost"`); and wall-clock figures glued with `timing=True` (a busy
machine must not fail a correct change; `make bench` judges speed, and the seed report
leaves them out).

Used by tests/test_glue_bounds.py and by the seed report (benchmarks/seed_matrix.py).
"""

import ast
import builtins
import re
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([\w-]+)")
_TRANSFORM = TransformerManager()
_IGNORED = set(dir(builtins))


def _is_assertion(node: ast.AST) -> bool:
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.Call):
        return getattr(node.func, "attr", getattr(node.func, "id", "")).startswith("assert")
    return False


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - _IGNORED


def _bound_names(target: ast.AST) -> list[str]:
    """The names an assignment rebinds (`x = ...`, `a, b = ...`), not those it mutates
    (`x[k] = ...`)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in _bound_names(element)]
    return []


def _is_glue(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and getattr(node.func, "attr", getattr(node.func, "id", "")) == "glue"
    )


def _is_timing(call: ast.Call) -> bool:
    """A wall-clock figure (`timing=True`): `make bench` judges speed, not an assertion."""
    return any(
        k.arg == "timing" and isinstance(k.value, ast.Constant) and k.value.value
        for k in call.keywords
    )


def _name_pattern(node: ast.AST) -> str:
    """A regular expression for the glue's name: f-string parts match any name."""
    if isinstance(node, ast.Constant):
        return re.escape(str(node.value))
    if isinstance(node, ast.JoinedStr):
        return "".join(
            re.escape(v.value) if isinstance(v, ast.Constant) else r"[\w-]+" for v in node.values
        )
    return r"[\w-]+"


class Notebook:
    """What the static reading needs of one chapter: its glue calls, its assertions, where
    names come from, and the glue names its Markdown uses."""

    def __init__(self, path: Path):
        notebook = nbformat.read(path, as_version=4)
        code = [
            _TRANSFORM.transform_cell(c.source) for c in notebook.cells if c.cell_type == "code"
        ]
        self.trees = [ast.parse(source) for source in code]
        self.prose = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
        self.used = set(GLUE_ROLE.findall(self.prose))
        self.asserted: set[str] = set()
        self.loop_sources: dict[str, set[str]] = {}
        self.stored_in: dict[int, set[str]] = {}
        self.assigned: dict[str, list[ast.AST]] = {}
        self.imported: set[str] = set()
        self.defined: set[str] = set()
        self.bindings: dict[str, int] = {}
        for tree in self.trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef):
                    self.defined.add(node.name)
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    self.imported |= {(a.asname or a.name).split(".")[0] for a in node.names}
                if _is_assertion(node):
                    self.asserted |= _names(node)
                if isinstance(node, (ast.For, ast.comprehension)):
                    for target in _names(node.target):
                        self.loop_sources.setdefault(target, set()).update(_names(node.iter))
                if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        for name in _names(target):
                            self.assigned.setdefault(name, []).append(node.value)
                        for name in _bound_names(target):
                            self.bindings[name] = self.bindings.get(name, 0) + 1
                        pairs = [(target, node.value)]
                        # a, b = glue(...), glue(...)
                        if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                            pairs += list(zip(target.elts, node.value.elts, strict=False))
                        for name_target, value in pairs:
                            if _is_glue(value):
                                self.stored_in[id(value)] = _names(name_target)
        reused = {name for name, count in self.bindings.items() if count > 1}
        # an assertion on `final = {... curves ...}` bounds `curves`, but a reused name
        # (`history`) could be any run
        for name in list(self.asserted):
            if name not in reused:
                for value in self.assigned.get(name, []):
                    self.asserted |= _names(value) - reused
        self.asserted -= self.imported  # `torch` in an assertion bounds nothing in particular

    def glues(self) -> list[ast.Call]:
        return [node for tree in self.trees for node in ast.walk(tree) if _is_glue(node)]

    def is_set_not_measured(self, value: ast.AST, seen: frozenset = frozenset()) -> bool:
        if isinstance(value, ast.Constant):
            return True
        if isinstance(value, (ast.BinOp, ast.UnaryOp, ast.Tuple, ast.List)):
            return all(
                self.is_set_not_measured(child, seen)
                for child in ast.iter_child_nodes(value)
                if not isinstance(child, (ast.operator, ast.unaryop, ast.expr_context))
            )
        if _is_glue(value):
            return self.is_set_not_measured(value.args[1], seen)
        if isinstance(value, ast.Subscript):
            return self.is_set_not_measured(value.value, seen) and self.is_set_not_measured(
                value.slice, seen
            )
        if isinstance(value, ast.Call) and ast.unparse(value.func) == "len":
            return True  # a data set's size: a fact of the data, not a measurement
        if isinstance(value, ast.Call) and ast.unparse(value.func) == "cnnbook.sized":
            return (
                all(self.is_set_not_measured(k.value, seen) for k in value.keywords)
                and not value.args
            )
        if isinstance(value, ast.Call) and (
            ast.unparse(value.func).startswith("math.")
            or ast.unparse(value.func) in self.defined | {"round"}
        ):
            arguments = [*value.args, *(k.value for k in value.keywords)]
            return all(self.is_set_not_measured(arg, seen) for arg in arguments)
        if isinstance(value, ast.Name) and value.id not in seen and value.id in self.assigned:
            return all(
                self.is_set_not_measured(v, seen | {value.id}) for v in self.assigned[value.id]
            )
        return False

    def sources(self, call: ast.Call) -> set[str]:
        """The names a glued value comes from: those its expression reads, the name its
        result is stored in, and for a loop variable the collection it is drawn from (and
        what that collection was built from)."""
        names = _names(call.args[1]) | self.stored_in.get(id(call), set())
        for name in list(names):
            for collection in self.loop_sources.get(name, set()):
                names.add(collection)
                for value in self.assigned.get(collection, []):
                    names |= _names(value)
        return names - self.imported

    def unbounded(self) -> list[str]:
        return [
            ast.unparse(call)
            for call in self.glues()
            if not _is_timing(call)
            and not isinstance(call.args[1], ast.IfExp)  # a verdict the numbers choose
            and not self.is_set_not_measured(call.args[1])
            and not (self.sources(call) & self.asserted)
        ]

    def glued_patterns(self) -> list[str]:
        return [_name_pattern(call.args[0]) for call in self.glues()]

    def timing_patterns(self) -> list[str]:
        """The names of wall-clock figures, which say more about the machine than the page."""
        return [_name_pattern(call.args[0]) for call in self.glues() if _is_timing(call)]
