"""Executing the chapters for the published book: every explorer (`cnnbook.widgets.wire`)
renders its figures over a grid of its main controls and embeds a self-contained control
to switch between them, since no kernel answers a widget on a static page.

The kernels that execute the notebooks inherit this process's environment, so setting
the variables here reaches them however the book is built (`make book`, the tests, CI).
The explorers' figures are written to `_build/explorer-static/explorer-frames` (the test
suite's chapter runs write there too), which the site serves as `_static/explorer-frames`;
a page loads only the figure on show. After the build, every figure a page asks for must
be in the site: a page taken from an execution cache whose figures are gone fails the
build instead of showing broken images.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cnnbook.runtime import STATIC_ENV
from cnnbook.widgets.static import BUILD_FRAMES, FRAMES_ENV

FRAMES = BUILD_FRAMES.name


def serve_frames(app, config) -> None:
    folder = Path(app.srcdir) / BUILD_FRAMES
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[FRAMES_ENV] = str(folder)
    config.html_static_path.append(str(BUILD_FRAMES.parent))


def check_frames(app, exception) -> None:
    if exception or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    missing = set()
    for page in outdir.rglob("*.html"):
        for name in re.findall(rf"_static/{FRAMES}/([0-9a-f]+\.webp)", page.read_text()):
            if not (outdir / "_static" / FRAMES / name).exists():
                missing.add(f"{page.relative_to(outdir)}: {name}")
    if missing:
        raise RuntimeError(
            "explorer figures missing from the site (an execution cache outlived them: "
            f"delete _build/.jupyter_cache and build again): {sorted(missing)[:5]}"
        )


def setup(app):
    os.environ[STATIC_ENV] = "1"
    app.connect("config-inited", serve_frames)
    app.connect("build-finished", check_frames)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
