"""Take from a handed-in notebook only what grading needs: imports, definitions, constants.

A submission's top-level statements never run: a training loop would waste the grader's
time, and a line such as ``torch.allclose = lambda *a, **k: True`` or an IPython input
transformer would tamper with the checks. So we parse every code cell and keep only

- imports of modules a solution may use (`ALLOWED_MODULES`);
- function and class definitions, with decorators and annotations removed (both are
  evaluated at definition time) and only literal default values;
- assignments of literal constants to plain names.

Everything kept can be executed without running any of the student's code; the code
inside the functions runs later, in the sandboxed child process.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

ALLOWED_MODULES = frozenset({
    "torch", "numpy", "math", "cmath", "itertools", "functools", "collections", "typing",
    "dataclasses", "operator", "numbers", "fractions", "statistics", "abc", "copy", "enum",
    "string", "random",
})  # fmt: skip
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


class NotebookError(ValueError):
    """The file cannot be read as a notebook; the message is shown to the student."""


@dataclass
class Extracted:
    """The kept source, the definitions it makes, and notes on what was left out."""

    source: str
    definitions: dict[str, ast.stmt] = field(default_factory=dict)  # functions and classes
    imported: dict[str, set[str]] = field(default_factory=dict)  # bound name -> what it names
    notes: list[str] = field(default_factory=list)


def read_code_cells(path: Path) -> list[str]:
    """The source of every code cell, or `NotebookError` saying why there is none."""
    size = path.stat().st_size  # before reading: a 1 GiB file is never loaded
    if size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"the file is {size // 2**20} MiB, more than a notebook can be")
    raw = path.read_bytes()
    try:
        notebook = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise NotebookError("not a notebook: the file is not text (UTF-8)") from None
    except json.JSONDecodeError as error:
        raise NotebookError(
            f"not a notebook: the file is not valid JSON ({error.msg} at line {error.lineno}); "
            "was the download cut off?"
        ) from None
    except (RecursionError, ValueError, MemoryError):  # nested too deep, a huge number
        raise NotebookError("not a notebook: the JSON is nested or sized beyond reason") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise NotebookError("not a Jupyter notebook: it has no list of cells")
    if notebook.get("nbformat") != 4:
        raise NotebookError(f"unsupported notebook format {notebook.get('nbformat')!r} (need 4)")
    sources = []
    for cell in notebook["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if isinstance(source, str):
            sources.append(source)
    return sources


def _is_literal(node: ast.AST | None) -> bool:
    if node is None:
        return True
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _unparsable(node: ast.AST) -> str | None:
    """Why `node` cannot be turned back into source (the grader's child runs source), if
    it cannot: an integer beyond Python's 4,300 digits, an expression nested too deep."""
    try:
        compile(ast.Module([node], type_ignores=[]), "submission", "exec")  # never run here
        ast.unparse(node)
    except (ValueError, RecursionError, MemoryError, SyntaxError) as error:
        name = getattr(node, "name", "an assignment")
        return f"{name!s}: too large or too deeply nested to run ({type(error).__name__})"
    return None


def _is_dotted_name(node: ast.AST) -> bool:
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _clean_function(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """Strip what runs at definition time; return why the function is rejected, or None."""
    node.decorator_list = []
    node.returns = None
    args = node.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None:
            arg.annotation = None
    for default in [*args.defaults, *args.kw_defaults]:
        if not _is_literal(default):
            return f"function {node.name!r}: default values must be literals (numbers, None, ...)"
    return None


def _clean_class(node: ast.ClassDef) -> str | None:
    """Keep a class whose definition runs nothing: dotted bases, methods, literal fields."""
    if node.keywords or not all(_is_dotted_name(base) for base in node.bases):
        return f"class {node.name!r}: only plain base classes are allowed"
    node.decorator_list = []
    body = []
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            reason = _clean_function(item)
            if reason:
                return f"class {node.name!r}, {reason}"
            body.append(item)
        elif isinstance(item, ast.Assign) and _is_literal(item.value):
            body.append(item)
        elif isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant):
            body.append(item)  # docstring
        elif not isinstance(item, ast.Pass):
            return f"class {node.name!r}: its body may hold only methods and literal constants"
    node.body = body or [ast.Pass()]
    return None


def _keep_import(node: ast.Import | ast.ImportFrom, ignored: dict[str, str]) -> ast.stmt | None:
    """The import if its modules are allowed; `ignored` maps each name it would have
    bound to the module, so the feedback can explain a later NameError."""
    if isinstance(node, ast.ImportFrom):
        module = "." * node.level + (node.module or "")
        if node.level or module.split(".")[0] not in ALLOWED_MODULES:
            ignored.update({alias.asname or alias.name: module for alias in node.names})
            return None
        return node
    kept = [alias for alias in node.names if alias.name.split(".")[0] in ALLOWED_MODULES]
    for alias in node.names:
        if alias not in kept:
            ignored[alias.asname or alias.name.split(".")[0]] = alias.name
    return ast.Import(names=kept) if kept else None


def _transform_ipython(source: str) -> str:
    """Turn `%magic` and `!shell` lines into plain (never executed) Python calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def extract(cells: list[str]) -> Extracted:
    """Keep the safe top-level statements of all `cells`, later definitions winning."""
    kept: list[ast.stmt] = []
    result = Extracted("")
    notes = result.notes
    ignored: dict[str, str] = {}  # names bound by imports the grader does not allow
    for index, source in enumerate(cells, start=1):
        try:
            tree = ast.parse(_transform_ipython(source))
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            notes.append(f"code cell {index} has a syntax error and was skipped ({error})")
            continue
        except Exception as error:  # IPython's transformers on input they never expected
            notes.append(f"code cell {index} could not be read and was skipped ({error})")
            continue
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                statement = _keep_import(node, ignored)
                if statement is not None:
                    kept.append(statement)
                    for alias in statement.names:
                        bound = alias.asname or alias.name.split(".")[0]
                        module = getattr(statement, "module", None)
                        origin = {*alias.name.split(".")} | (
                            {*module.split(".")} if module else set()
                        )
                        result.imported[bound] = origin
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                clean = _clean_class if isinstance(node, ast.ClassDef) else _clean_function
                reason = _unparsable(node) or clean(node)
                if reason:
                    notes.append(f"code cell {index}: {reason}; it was skipped")
                    continue
                kept.append(node)
                result.definitions[node.name] = node
            elif (
                isinstance(node, ast.Assign)
                and all(isinstance(t, ast.Name) for t in node.targets)
                and _is_literal(node.value)
            ):
                reason = _unparsable(node)
                if reason:
                    notes.append(f"code cell {index}: {reason}; it was skipped")
                else:
                    kept.append(node)
    used = set().union(*(_names_in(d)[0] for d in result.definitions.values()))
    notes.extend(
        f"your code uses `{name}`, but the grader does not import `{module}`; "
        f"only {', '.join(sorted(ALLOWED_MODULES))} are available"
        for name, module in ignored.items()
        if name in used
    )
    module = ast.Module(body=kept, type_ignores=[])
    result.source = ast.unparse(ast.fix_missing_locations(module))
    return result


def _names_in(node: ast.AST) -> tuple[set[str], set[str]]:
    """(plain names, library references): attribute names and string constants."""
    names: set[str] = set()
    references: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            names.add(child.id)
        elif isinstance(child, ast.Attribute):
            references.add(child.attr)
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            references.add(child.value)
        elif isinstance(child, ast.alias):
            references.update(child.name.split("."))
        elif isinstance(child, ast.ImportFrom) and child.module:  # `from cnnbook.models import`
            references.update(child.module.split("."))
    return names, references


def library_references(extracted: Extracted, name: str) -> set[str]:
    """What definition `name` can reach in libraries: attribute names, string constants
    and the origins of imported names, followed through the helpers it calls.

    The grader uses it to refuse a solution that calls the function it must implement:
    ``F.conv2d`` in ``conv2d_naive``, directly, through a helper, or through
    ``from torch.nn.functional import conv2d as c``. String constants count, because
    ``getattr(F, "conv2d")`` is the same call. A local variable that happens to be
    called ``conv2d`` does not.
    """
    seen: set[str] = set()
    pending = [name]
    references: set[str] = set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in extracted.definitions:
            names, found = _names_in(extracted.definitions[current])
            references |= found
            pending.extend(names)
        elif current in extracted.imported:
            references |= extracted.imported[current]
    return references
