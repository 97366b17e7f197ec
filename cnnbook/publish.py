"""Numbers that prose quotes must come from cells: this is the bridge.

In the built book `glue` hands a value to MyST-NB so Markdown can cite it with
``{glue:}`name` ``; in Colab or plain Jupyter, where MyST-NB is absent, it is a no-op
and the value is still printed by the cell that computed it.
"""

from __future__ import annotations

from typing import Any


def glue(name: str, value: Any, *, timing: bool = False) -> Any:
    """Register `value` under `name` for the book's Markdown; return it unchanged.

    Every glued number is one the notebook asserts (tests/test_glue_bounds.py reads
    that), except wall-clock figures, marked `timing=True`: a busy machine must not
    fail a correct change, so speed is judged by `make bench`, not by an assertion.
    """
    del timing  # read from the source by the test, not at run time
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return value
    myst_glue(name, value, display=False)
    return value
