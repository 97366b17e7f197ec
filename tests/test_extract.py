import ast
import json

import pytest

from cnnbook.grading.engine.extract import (
    NotebookError,
    extract,
    library_references,
    read_code_cells,
)


def test_only_imports_definitions_and_literals_survive():
    kept = extract(
        [
            "import torch\nimport os\nx = torch.zeros(3)\nN = 3\nNAMES = ('a', -1.5)\nprint('hi')",
            "def f(a, b=2, *, c=None):\n    return a + b\nf(1)",
            "class Block(torch.nn.Module):\n    '''doc'''\n    size = 3\n    def forward(self, x):\n        return x",
        ]
    )
    names = {type(node).__name__ for node in ast.parse(kept.source).body}
    assert names == {"Import", "Assign", "FunctionDef", "ClassDef"}
    assert "print" not in kept.source and "zeros" not in kept.source and "os" not in kept.source
    assert set(kept.definitions) == {"f", "Block"}


def test_definition_time_code_is_removed_or_refused():
    kept = extract(
        [
            "@decorate\ndef f(x: annotate()) -> ret():\n    return x",
            "def g(x=launch()):\n    return x",
            "class C(metaclass=Meta):\n    pass",
            "class D:\n    side_effect()",
        ]
    )
    assert (
        "decorate" not in kept.source
        and "annotate" not in kept.source
        and "ret()" not in kept.source
    )
    assert set(kept.definitions) == {"f"}
    assert len([n for n in kept.notes if "skipped" in n]) == 3


def test_magics_shell_lines_and_syntax_errors_are_harmless():
    kept = extract(["%pip install x\n!rm -rf /\ndef f():\n    return 1", "def broken(:"])
    assert "system" not in kept.source and "run_line_magic" not in kept.source
    assert "f" in kept.definitions
    assert any("syntax error" in note for note in kept.notes)


def test_ignored_imports_are_noted_only_when_used():
    kept = extract(["import os\nimport sys\ndef f():\n    return os.getcwd()"])
    assert len(kept.notes) == 1 and "`os`" in kept.notes[0]


def test_library_references_follow_helpers_and_aliases_not_locals():
    kept = extract(
        [
            "import torch.nn.functional as F\nfrom torch.nn.functional import conv2d as c\n"
            "def helper(x):\n    return c(x)\n"
            "def via_helper(x):\n    return helper(x)\n"
            "def via_getattr(x):\n    return getattr(F, 'max_pool2d')(x)\n"
            "def innocent(x):\n    conv2d = x\n    return conv2d"
        ]
    )
    assert "conv2d" in library_references(kept, "via_helper")
    assert "max_pool2d" in library_references(kept, "via_getattr")
    assert "conv2d" not in library_references(kept, "innocent")


def test_an_import_inside_a_method_names_its_module():
    """`from cnnbook.models import BasicBlock` inside a method reaches the reference."""
    kept = extract(
        [
            "class BasicBlock:\n    def __init__(self):\n"
            "        from cnnbook.models import BasicBlock as Reference\n"
            "        self.inner = Reference(1, 1)\n"
        ]
    )
    assert "cnnbook" in library_references(kept, "BasicBlock")


def _write(tmp_path, content):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"cells": [', "not valid JSON"),
        (b"\xff\xfe\x00binary", "not text"),
        ('["a list"]', "no list of cells"),
        ('{"cells": [], "nbformat": 3}', "unsupported notebook format"),
    ],
)
def test_unreadable_files_say_why(tmp_path, content, message):
    with pytest.raises(NotebookError, match=message):
        read_code_cells(_write(tmp_path, content))


def test_code_cells_in_list_or_string_form(tmp_path):
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 2,
        "metadata": {"colab": {"provenance": []}},
        "cells": [
            {"cell_type": "markdown", "source": "# hi"},
            {"cell_type": "code", "source": ["x = 1\n", "y = 2"]},
            {"cell_type": "code", "source": "z = 3"},
        ],
    }
    assert read_code_cells(_write(tmp_path, json.dumps(notebook))) == ["x = 1\ny = 2", "z = 3"]
