"""Every explorer starts where its page's text and figure are.

A chapter renders an explorer's figure (`fig = render_x(...)`) and shows the explorer
(`x(...)`) in the next cell. The published page hides that figure, since the explorer's
first view replaces it, so the explorer must start from the same parameters: each one
the figure's call sets is a control of the explorer with that value as its default.
"""

import ast
import importlib
import inspect
import itertools
import re

import nbformat
import pytest

from conftest import ROOT


def _pairs():
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        for figure, explorer in itertools.pairwise(code):
            found = re.search(r"^fig = render_(\w+)\(", figure.source, flags=re.M)
            if found and re.search(rf"^{found[1]}\(", explorer.source, flags=re.M):
                yield pytest.param(figure, found[1], id=f"{path.stem}-{found[1]}")


def _module(cell, name):
    (module,) = [node.module for node in ast.walk(ast.parse(cell.source))
                 if isinstance(node, ast.ImportFrom) and any(a.name == name for a in node.names)]  # fmt: skip
    return importlib.import_module(module)


def _figure_settings(cell, render) -> dict:
    """The literal arguments of the figure's call, by parameter name."""
    call = next(node for node in ast.walk(ast.parse(cell.source))
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == render.__name__)  # fmt: skip
    names = list(inspect.signature(render).parameters)
    settings = {}
    given = [*zip(names, call.args, strict=False), *((k.arg, k.value) for k in call.keywords)]
    for name, node in given:
        try:
            settings[name] = ast.literal_eval(node)
        except ValueError:
            continue  # data from the notebook, such as the image
    return settings


def _explorer_defaults(module, name) -> dict:
    """The explorer's controls at their defaults, caught on their way to `wire`."""
    caught = {}

    def catch(render, controls, rows, static):
        caught.update({key: control.value for key, control in controls.items()})

    explorer = getattr(module, name)
    required = [p for p in inspect.signature(explorer).parameters.values()
                if p.default is inspect.Parameter.empty]  # fmt: skip
    original = module.wire
    module.wire = catch
    try:
        explorer(*[None] * len(required))
    finally:
        module.wire = original
    return caught


def _same(a, b) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize(("cell", "name"), list(_pairs()))
def test_an_explorer_starts_at_the_figure_it_replaces(cell, name):
    module = _module(cell, name)
    settings = _figure_settings(cell, getattr(module, f"render_{name}"))
    defaults = _explorer_defaults(module, name)
    assert defaults, f"{name} wires no controls"
    for key, value in settings.items():
        assert key in defaults, f"{name}: the figure sets {key}, no control does"
        assert _same(defaults[key], value), f"{name}: {key} starts at {defaults[key]!r}"
    assert "remove-output" in cell.metadata.get("tags", []), "the page would show it twice"


def test_every_explorer_of_the_book_has_its_figure_above_it():
    """The pairing above covers every explorer a chapter shows with a figure above it."""
    assert len(list(_pairs())) >= 8
