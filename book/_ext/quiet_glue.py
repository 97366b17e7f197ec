"""Bookkeeping out of the reader's way: code cells on the page without their `glue` lines.

A chapter hands every number its prose quotes to the text with `cnnbook.glue(name,
value)`. As statements of their own, such calls do nothing a reader needs to see (one
cell of Chapter 4 ended in eleven of them), so the page shows each code cell without
them; a loop whose body is nothing but glue goes too. A call whose value the code goes
on to use (`ratio = cnnbook.glue("ratio", a / b)`) is part of the computation and stays.
The notebooks keep every line: Colab, the tests and the build run the full cells.
"""

from __future__ import annotations

import ast
import re

from docutils import nodes

MAGIC = re.compile(r"^(\s*)[%!]")


def _is_glue(statement: ast.stmt) -> bool:
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return False
    function = statement.value.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    return name == "glue"


def _hidden(statements: list[ast.stmt]) -> tuple[set[int], bool]:
    """The lines of the glue-only statements among `statements`, and whether that is all
    of them."""
    lines, hidden_all = set(), True
    for statement in statements:
        bodies = [getattr(statement, field, []) for field in ("body", "orelse", "finalbody")]
        bodies = [body for body in bodies if body and isinstance(body[0], ast.stmt)]
        if _is_glue(statement):
            whole = True
        elif bodies and not getattr(statement, "handlers", None):
            inner = [_hidden(body) for body in bodies]
            whole = all(entirely for _, entirely in inner)
            if not whole:
                lines.update(*(found for found, _ in inner))
        else:
            whole = False
        if whole:
            lines.update(range(statement.lineno, statement.end_lineno + 1))
        hidden_all &= whole
    return lines, hidden_all


def without_glue(source: str) -> str:
    """`source` without its glue-only statements and the blank lines they leave behind;
    unchanged if it does not parse as Python (magics aside) or shares a glue call's line
    with other code."""
    lines = source.split("\n")
    parsable = "\n".join(MAGIC.sub(r"\1pass  #", line) for line in lines)
    try:
        tree = ast.parse(parsable)
    except SyntaxError:
        return source
    hidden, _ = _hidden(tree.body)
    if not hidden:
        return source
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            span = set(range(node.lineno, node.end_lineno + 1))
            if span & hidden and not hasattr(node, "body") and not _is_glue(node):
                return source  # `x = 1; glue(...)`: leave the cell as written
    kept = [line for number, line in enumerate(lines, 1) if number not in hidden]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept))
    return text.strip("\n")


def quiet_cells(app, doctree) -> None:
    for block in doctree.findall(nodes.literal_block):
        parent = block.parent
        if parent is None or "cell_input" not in parent.get("classes", []):
            continue
        source = block.astext()
        shown = without_glue(source)
        if shown != source:
            block.rawsource = shown
            block.children = [nodes.Text(shown)]


def setup(app):
    app.connect("doctree-read", quiet_cells)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
