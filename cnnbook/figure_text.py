"""The height of a figure's smallest text, carried to the page so a test can read it.

A figure wider than the page's column is shown scaled down, and its text with it: 8-point
tick labels on a 1,600-pixel figure are 5 pixels tall in a 688-pixel column. Only the
kernel knows a figure's font sizes and dpi, and only the browser knows how wide the image
is shown. So while the published book is built, each figure's PNG carries its smallest
text height in image pixels (a PNG text chunk under `TEXT_KEY`); the build copies it onto
the page's image (book/_ext/light_images.py), and the browser test scales it by the
displayed width (tests/browser.py).
"""

from __future__ import annotations

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

TEXT_KEY = "cnnbook:smallest-text-px"


def _drawn_texts(artist: Artist):
    """The non-empty texts a draw would put on the canvas: a hidden artist hides its
    children, and an axes turned off (`ax.axis("off")`) draws neither axis."""
    if not artist.get_visible():
        return
    if isinstance(artist, Text) and artist.get_text().strip():
        yield artist
    hidden = set()
    if isinstance(artist, Axes) and not artist.axison:
        hidden = {getattr(artist, name, None) for name in ("xaxis", "yaxis", "zaxis")}
    for child in artist.get_children():
        if child not in hidden:
            yield from _drawn_texts(child)


def smallest_text_px(fig: Figure, dpi: float | None = None) -> float | None:
    """Height in image pixels of the figure's smallest text at `dpi` (the figure's own by
    default), or None for a figure without text."""
    fig.draw_without_rendering()  # lays out the ticks, whose labels exist only once drawn
    sizes = [text.get_fontsize() for text in _drawn_texts(fig)]
    return min(sizes) * (dpi or fig.dpi) / 72 if sizes else None


def png_with_text_size(fig: Figure) -> str:
    """The figure as IPython shows it inline (base64 PNG, tight bounding box), with its
    smallest text height in the PNG's text chunk."""
    from IPython.core.pylabtools import print_figure

    size = smallest_text_px(fig)
    metadata = {TEXT_KEY: f"{size:.2f}"} if size is not None else {}
    return print_figure(fig, "png", bbox_inches="tight", base64=True, metadata=metadata)


def record_text_sizes() -> None:
    """Make this IPython kernel's inline figures carry their smallest text height.

    The inline backend registers its own PNG formatter when it is first loaded, so it is
    loaded here first; registering after it is what makes this one the formatter used.
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    import matplotlib
    import matplotlib.pyplot as plt

    plt.switch_backend(matplotlib.get_backend())
    shell.display_formatter.formatters["image/png"].for_type(Figure, png_with_text_size)
