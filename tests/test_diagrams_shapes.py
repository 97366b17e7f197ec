"""The drawing primitives put what they promise where they promise it."""

from matplotlib.colors import to_hex
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from cnnbook.diagrams.shapes import COLORS, arrow, box, canvas, grid


def test_canvas_spans_its_size_without_axes():
    _, ax = canvas(6, 3, "A diagram")
    assert ax.get_xlim() == (0, 6) and ax.get_ylim() == (0, 3)
    assert not ax.axison and ax.get_title() == "A diagram"


def test_box_is_coloured_by_kind_and_its_sides_are_where_arrows_attach():
    _, ax = canvas(6, 3, "boxes")
    b = box(ax, (3, 1.5), "conv 3x3", kind="conv", width=2, height=1)
    (patch,) = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert to_hex(patch.get_facecolor()) == COLORS["conv"]
    assert [t.get_text() for t in ax.texts] == ["conv 3x3"]
    assert b.top == (3, 2) and b.bottom == (3, 1)
    assert b.left == (2, 1.5) and b.right == (4, 1.5) and b.center == (3, 1.5)


def test_arrow_label_and_grid_cells():
    _, ax = canvas(6, 3, "arrows")
    arrow(ax, (0, 0), (2, 2), text="x")
    assert sum(isinstance(p, FancyArrowPatch) for p in ax.patches) == 1
    assert [t.get_text() for t in ax.texts] == ["x"]
    cells = grid(ax, (1, 3), 2, 3, cell=0.5, colors={(1, 2): "red"}, labels={(0, 0): "a"})
    assert len(cells) == 6
    assert cells[5].get_xy() == (2.0, 2.0) and cells[5].get_facecolor()[:3] == (1, 0, 0)
    assert "a" in [t.get_text() for t in ax.texts]
