"""Code cells on the page without their glue-only statements (book/_ext/quiet_glue.py)."""

import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "book" / "_ext"))
from quiet_glue import without_glue


def test_glue_statements_and_glue_only_loops_leave_the_page():
    source = (
        "ratio = a / b\n"
        'cnnbook.glue("ratio", ratio)\n'
        "for name, value in pairs:\n"
        '    cnnbook.glue(f"x_{name}",\n'
        "                 value)\n"
        "\n"
        "assert ratio > 1\n"
        'glue("alone", 1)'
    )
    assert without_glue(source) == "ratio = a / b\n\nassert ratio > 1"


def test_glue_whose_value_the_code_uses_stays():
    source = 'best = cnnbook.glue("best", min(errors))\nprint(best)'
    assert without_glue(source) == source


def test_a_loop_that_does_more_than_glue_keeps_its_other_lines():
    source = 'for s in seeds:\n    run(s)\n    cnnbook.glue(f"s{s}", s)\nprint("done")'
    assert without_glue(source) == "for s in seeds:\n    run(s)\nprint(\"done\")"


def test_cells_it_cannot_read_safely_stay_as_written():
    shared = 'x = 1; cnnbook.glue("x", x)'
    assert without_glue(shared) == shared
    broken = 'cnnbook.glue("x", 1)\nif True'
    assert without_glue(broken) == broken
    magic = '%pip install -q cnnbook\ncnnbook.glue("x", 1)\nx = 2'
    assert without_glue(magic) == "%pip install -q cnnbook\nx = 2"
