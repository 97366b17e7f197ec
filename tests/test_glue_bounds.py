"""A number the prose quotes is a number a cell asserts.

Chapters quote measured values through `cnnbook.glue`; the sentence around such a value
("X beats Y", "stays near the baseline") is only as true as an assertion on the same
value. Read statically, a glued value is bounded when an assertion in its notebook (an
`assert` or a testing helper) reads a name the glued expression reads, the name the
glue's result is stored in, or the collection a loop variable comes from (an assertion
also reads what the names it reads were computed from, one step back).

Exempt: values set rather than measured (literals, arithmetic of them, sizes `len(...)`,
`cnnbook.sized(...)` of such values, `math`, `round` or the notebook's own functions
applied to them, names only ever given such values); words the numbers choose
(`"won" if ... else "lost"`); and wall-clock figures glued with `timing=True` (a busy
machine must not fail a correct change; `make bench` judges speed).

Every glued name is used by the prose, and every name the prose uses is glued.
"""

import ast
import builtins
import re

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from conftest import ROOT

CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([\w]+)")
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


def _is_glue(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "glue"


def _is_timing(call: ast.Call) -> bool:
    """A wall-clock figure (`timing=True`): `make bench` judges speed, not an assertion."""
    return any(k.arg == "timing" and isinstance(k.value, ast.Constant) and k.value.value for k in call.keywords)


def _name_pattern(node: ast.AST) -> str:
    """A regular expression for the glue's name: f-string parts become `\\w+`."""
    if isinstance(node, ast.Constant):
        return re.escape(str(node.value))
    if isinstance(node, ast.JoinedStr):
        return "".join(re.escape(v.value) if isinstance(v, ast.Constant) else r"\w+" for v in node.values)
    return r"\w+"


class Notebook:
    """What the static reading needs of one chapter: its glue calls, its assertions, where
    names come from, and the glue names its Markdown uses."""

    def __init__(self, path):
        notebook = nbformat.read(path, as_version=4)
        code = [_TRANSFORM.transform_cell(c.source) for c in notebook.cells if c.cell_type == "code"]
        self.trees = [ast.parse(source) for source in code]
        self.prose = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
        self.used = set(GLUE_ROLE.findall(self.prose))
        self.asserted: set[str] = set()
        self.loop_sources: dict[str, set[str]] = {}
        self.stored_in: dict[int, set[str]] = {}
        self.assigned: dict[str, list[ast.AST]] = {}
        self.imported: set[str] = set()
        self.defined: set[str] = set()
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
                        if _is_glue(node.value):
                            self.stored_in[id(node.value)] = _names(target)
        for name in list(self.asserted):  # an assertion on `final = {... curves ...}` bounds `curves`
            for value in self.assigned.get(name, []):
                self.asserted |= _names(value)
        self.asserted -= self.imported  # `torch` in an assertion bounds nothing in particular

    def glues(self) -> list[ast.Call]:
        return [node for tree in self.trees for node in ast.walk(tree) if _is_glue(node)]

    def is_set_not_measured(self, value: ast.AST, seen: frozenset = frozenset()) -> bool:
        if isinstance(value, ast.Constant):
            return True
        if isinstance(value, (ast.BinOp, ast.UnaryOp, ast.Tuple, ast.List)):
            return all(self.is_set_not_measured(child, seen) for child in ast.iter_child_nodes(value)
                       if not isinstance(child, (ast.operator, ast.unaryop, ast.expr_context)))
        if _is_glue(value):
            return self.is_set_not_measured(value.args[1], seen)
        if isinstance(value, ast.Subscript):
            return self.is_set_not_measured(value.value, seen) and self.is_set_not_measured(value.slice, seen)
        if isinstance(value, ast.Call) and ast.unparse(value.func) == "len":
            return True  # a data set's size: a fact of the data, not a measurement
        if isinstance(value, ast.Call) and ast.unparse(value.func) == "cnnbook.sized":
            return all(self.is_set_not_measured(k.value, seen) for k in value.keywords) and not value.args
        if isinstance(value, ast.Call) and (
            ast.unparse(value.func).startswith("math.") or ast.unparse(value.func) in self.defined | {"round"}
        ):
            arguments = [*value.args, *(k.value for k in value.keywords)]
            return all(self.is_set_not_measured(arg, seen) for arg in arguments)
        if isinstance(value, ast.Name) and value.id not in seen and value.id in self.assigned:
            return all(self.is_set_not_measured(v, seen | {value.id}) for v in self.assigned[value.id])
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


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_glued_value_is_asserted(path):
    assert not Notebook(path).unbounded(), "glued values no assertion reads"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_prose_and_glue_agree(path):
    notebook = Notebook(path)
    patterns = notebook.glued_patterns()
    unused = [p for p in patterns if not any(re.fullmatch(p, name) for name in notebook.used)]
    undefined = sorted(name for name in notebook.used if not any(re.fullmatch(p, name) for p in patterns))
    assert not unused, f"glued but never quoted: {unused}"
    assert not undefined, f"quoted but never glued: {undefined}"


def _notebook_from(source: str, prose: str, tmp_path):
    path = tmp_path / "planted.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source), nbformat.v4.new_markdown_cell(prose)])
    nbformat.write(nb, path)
    return Notebook(path)


@pytest.mark.parametrize(
    ("source", "bounded"),
    [
        ("acc = train()\ncnnbook.glue('acc', acc)", False),  # quoted, never checked
        ("acc = train()\ncnnbook.glue('acc', acc)\nassert acc > 0.9", True),
        ("r = {'a': train()}\nfor k, v in r.items():\n    cnnbook.glue(k, v)\nassert r['a'] > 0.9", True),
        ("gap = cnnbook.glue('acc', a - b)\nassert gap > 0", True),
        ("EPOCHS = 4\ncnnbook.glue('acc', EPOCHS)", True),  # set, not measured
        ("cnnbook.glue('acc', cnnbook.sized(cpu=4, gpu=10))", True),
        ("acc = train()\ncnnbook.glue('acc', acc)\nassert other > 0.9", False),
        ("import torch\ncnnbook.glue('acc', torch.rand(1))\ntorch.testing.assert_close(a, b)", False),
        ("r = {'a': acc}\nfor k, v in r.items():\n    cnnbook.glue(k, v)\nassert acc > 0.9", True),
        ("cnnbook.glue('acc', curves[-1])\nfinal = curves[-1]\nassert final < 0.1", True),
        ("cnnbook.glue('acc', time_call(train), timing=True)", True),
        ("cnnbook.glue('acc', 'won' if a > b else 'lost')", True),
        ("def words(n):\n    return f'{n} epochs'\ncnnbook.glue('acc', words(4))", True),
        ("def train(n):\n    return n\ncnnbook.glue('acc', train(data))", False),
        ("cnnbook.glue('acc', time_call(train), timing=False)", False),
    ],
)
def test_the_rule_catches_a_planted_glue(source, bounded, tmp_path):
    notebook = _notebook_from(source, "{glue:text}`acc:.2f`", tmp_path)
    assert (not notebook.unbounded()) is bounded
