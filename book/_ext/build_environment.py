"""`{build-environment}`: one sentence, written while the page is built, naming the date,
the Python and PyTorch versions and the device the build's kernels execute the chapters
on, so the execution report's table of this build is never typed by hand."""

from __future__ import annotations

import os
import platform
import sys
from datetime import date

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


def describe_build() -> str:
    import torch

    if torch.cuda.is_available():
        device = f"CUDA: {torch.cuda.get_device_name(0)}"
    else:
        device = f"CPU: {os.cpu_count()}-core {platform.machine()} (no CUDA device)"
    python = ".".join(map(str, sys.version_info[:3]))
    return (
        f"Built on {date.today().isoformat()} with Python {python} and torch "
        f"{torch.__version__}; the chapters executed on {device}."
    )


class BuildEnvironment(SphinxDirective):
    def run(self):
        return [nodes.paragraph(text=describe_build())]


def setup(app):
    app.add_directive("build-environment", BuildEnvironment)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
