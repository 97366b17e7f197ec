"""The course package every chapter imports: device, seeding, data, plots and checks.

Chapters stay short because the plumbing they share lives here, written once and
unit-tested. Widgets and the grader are imported from their own subpackages on demand,
so that `import cnnbook` stays cheap in Colab.
"""

from cnnbook import data, measure, plotting, training
from cnnbook.publish import glue
from cnnbook.runtime import budget, describe, device, generator, seed, sized, static_build

if static_build():  # the published book: figures carry their text size to the page's test
    from cnnbook.figure_text import record_text_sizes

    record_text_sizes()

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "budget",
    "data",
    "describe",
    "device",
    "generator",
    "glue",
    "measure",
    "plotting",
    "seed",
    "sized",
    "training",
]
