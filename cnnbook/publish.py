"""Numbers that prose quotes must come from cells: this is the bridge.

In the built book `glue` hands a value to MyST-NB so Markdown can cite it with
``{glue:}`name` ``; in Colab or plain Jupyter, where MyST-NB is absent, it is a no-op
and the value is still printed by the cell that computed it.
"""

from __future__ import annotations

from typing import Any


def glue(name: str, value: Any) -> Any:
    """Register `value` under `name` for the book's Markdown; return it unchanged."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return value
    myst_glue(name, value, display=False)
    return value
