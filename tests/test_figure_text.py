"""The smallest text of a figure, as the browser test needs it: only text that is drawn,
at the dpi the figure is saved at."""

import base64
import io

import matplotlib.pyplot as plt
import pytest
from PIL import Image

from cnnbook.figure_text import TEXT_KEY, png_with_text_size, smallest_text_px


def test_the_smallest_drawn_text_at_the_figures_dpi():
    fig, (plot, picture) = plt.subplots(1, 2, dpi=100)
    plot.plot([0, 1])
    plot.tick_params(labelsize=7)
    plot.set_title("title", fontsize=12)
    picture.axis("off")  # its tick labels (default 10 pt) are not drawn
    picture.set_title("picture", fontsize=11)
    assert smallest_text_px(fig) == pytest.approx(7 * 100 / 72)
    assert smallest_text_px(fig, dpi=200) == pytest.approx(7 * 200 / 72)
    plt.close(fig)


def test_hidden_and_empty_texts_do_not_count():
    fig, ax = plt.subplots(dpi=100)
    ax.axis("off")
    ax.text(0, 0, "tiny", fontsize=3, visible=False)
    ax.text(0, 0, "  ", fontsize=3)
    assert smallest_text_px(fig) is None
    ax.set_title("seen", fontsize=9)
    assert smallest_text_px(fig) == pytest.approx(9 * 100 / 72)
    plt.close(fig)


def test_the_png_carries_the_size_in_its_text_chunk():
    fig, ax = plt.subplots(dpi=100)
    ax.plot([0, 1])  # default tick labels: 10 pt
    with Image.open(io.BytesIO(base64.b64decode(png_with_text_size(fig)))) as image:
        assert float(image.text[TEXT_KEY]) == pytest.approx(10 * 100 / 72, abs=0.01)
    plt.close(fig)
