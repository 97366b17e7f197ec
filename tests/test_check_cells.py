"""A check cell is an assertion.

Notebooks are stored without outputs, so nothing compares what a cell prints: a cell the
notebook declares a check (tag `check`) must assert what it shows, with `assert`, a
testing helper (`torch.testing.assert_close`, ...) or an exercise's self-check (`check(fn)`,
which raises in the suite when a case fails).
"""

import ast

import nbformat
import pytest

from conftest import ROOT

NOTEBOOKS = sorted([*(ROOT / "book").glob("*.ipynb"), *(ROOT / "solutions").glob("*.ipynb")])
TAG = "check"


def asserts(source: str) -> bool:
    """Whether `source` (a cell; IPython's % and ! lines aside) asserts anything."""
    python = "\n".join(line for line in source.splitlines() if line.lstrip()[:1] not in "%!")
    for node in ast.walk(ast.parse(python)):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name.startswith("assert") or name == "check":
                return True
    return False


def check_cells(path):
    notebook = nbformat.read(path, as_version=4)
    return [
        (index, cell.source)
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and TAG in cell.metadata.get("tags", [])
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_check_cell_asserts(path):
    inert = [index for index, source in check_cells(path) if not asserts(source)]
    assert not inert, f"check cells that assert nothing: {inert}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_cell_shows_readers_a_marker(path):
    """The marker comment nbval reads compared nothing here and showed on every page."""
    notebook = nbformat.read(path, as_version=4)
    assert not any("NBVAL_" in cell.source for cell in notebook.cells)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import torch\nprint(torch.rand(1))", False),  # a random number, checked by nothing
        ("x = 2 + 2\nprint('four:', x == 4)", False),  # a claim printed, not asserted
        ("x = 2 + 2\nassert x == 4", True),
        ("torch.testing.assert_close(a, b)", True),
        ("%matplotlib inline\ncheck(conv2d_naive);", True),
    ],
)
def test_the_rule_catches_a_planted_cell(source, expected):
    assert asserts(source) is expected
