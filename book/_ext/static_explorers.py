"""Executing the chapters for the published book: every explorer (`cnnbook.widgets.wire`)
renders its figures over a grid of its main controls and embeds a self-contained control
to switch between them, since no kernel answers a widget on a static page.

The kernels that execute the notebooks inherit this process's environment, so setting
the variable here reaches them however the book is built (`make book`, the tests, CI).
"""

from __future__ import annotations

import os

from cnnbook.runtime import STATIC_ENV


def setup(app):
    os.environ[STATIC_ENV] = "1"
    return {"parallel_read_safe": True, "parallel_write_safe": True}
