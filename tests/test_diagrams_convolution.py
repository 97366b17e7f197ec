"""Chapter 1's diagrams draw what PyTorch computes: output sizes, the cells a kernel reads,
and the im2col patch matrix."""

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from matplotlib.colors import to_hex

matplotlib.use("Agg")

from cnnbook.diagrams.convolution import (
    GEOMETRY_SETTINGS,
    conv_geometry,
    conv_geometry_panel,
    im2col_diagram,
)
from cnnbook.diagrams.shapes import COLORS


def _cells(fig, prefix=""):
    """{(role, tapped): {(row, col), ...}} from the gids of the drawn cells."""
    found = {}
    for patch in fig.axes[0].patches:
        gid = patch.get_gid() or ""
        if not gid.startswith(prefix) or "@" not in gid:
            continue
        role, where = gid[len(prefix) :].split("@")
        name, _, tap = role.partition("+")
        r, c = map(int, where.split(","))
        found.setdefault((name, bool(tap)), set()).add((r, c))
    return found


def _torch_geometry(size, kernel, stride, padding, dilation, position):
    """The output size and the padded-input cells that output `position` depends on,
    found by back-propagating from that one output through F.conv2d."""
    padded = torch.zeros(1, 1, size + 2 * padding, size + 2 * padding, requires_grad=True)
    out = F.conv2d(padded, torch.ones(1, 1, kernel, kernel), stride=stride, dilation=dilation)
    position = tuple(min(p, out.shape[-1] - 1) for p in position)
    out[0, 0][position].backward()
    taps = {tuple(rc) for rc in padded.grad[0, 0].nonzero().tolist()}
    return out.shape[-1], taps, position


CASES = [(7, 3, s, p, d, (1, 1)) for _, s, p, d in GEOMETRY_SETTINGS] + [
    (6, 3, 2, 1, 1, (2, 1)),
    (8, 2, 3, 0, 1, (1, 2)),
    (9, 3, 2, 2, 3, (0, 3)),
    (5, 5, 1, 2, 1, (4, 4)),
]


@pytest.mark.parametrize("size, kernel, stride, padding, dilation, position", CASES)
def test_geometry_draws_what_conv2d_computes(size, kernel, stride, padding, dilation,
                                             position):  # fmt: skip
    expected_out, expected_taps, expected_position = _torch_geometry(
        size, kernel, stride, padding, dilation, position
    )
    cells = _cells(conv_geometry(size, kernel, stride, padding, dilation, position))
    outputs = cells[("output", False)] | cells[("output", True)]
    assert len(outputs) == expected_out**2
    assert max(r for r, _ in outputs) + 1 == expected_out
    assert cells[("output", True)] == {expected_position}
    drawn_taps = cells.get(("input", True), set()) | cells.get(("padding", True), set())
    assert drawn_taps == expected_taps and len(drawn_taps) == kernel**2
    padding_cells = cells.get(("padding", False), set()) | cells.get(("padding", True), set())
    assert len(padding_cells) == (size + 2 * padding) ** 2 - size**2
    assert all(min(r, c) < padding or max(r, c) >= padding + size for r, c in padding_cells)


def test_taps_are_orange_and_padding_holds_zeros():
    fig = conv_geometry(5, 3, 1, 1, 1, position=(0, 0))
    for patch in fig.axes[0].patches:
        if "+tap" in (patch.get_gid() or ""):
            assert to_hex(patch.get_facecolor()) == COLORS["highlight"]
    zeros = [t for t in fig.axes[0].texts if t.get_text() == "0"]
    assert len(zeros) == 7**2 - 5**2


def test_panel_draws_each_setting_with_its_formula():
    fig = conv_geometry_panel()
    texts = [t.get_text() for t in fig.axes[0].texts]
    for index, (label, stride, padding, dilation) in enumerate(GEOMETRY_SETTINGS):
        expected, _, _ = _torch_geometry(7, 3, stride, padding, dilation, (1, 1))
        cells = _cells(fig, prefix=f"{index}/")
        assert len(cells[("output", False)] | cells[("output", True)]) == expected**2
        assert f"output {expected}×{expected}" in texts
        assert any(t.startswith(f"{label}: stride {stride}") for t in texts)
        assert any(t.endswith(f"= {expected}$") and f"/\\,{stride}" in t for t in texts)


def test_a_kernel_that_does_not_fit_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        conv_geometry(5, 3, dilation=3)


def _texts(fig, prefix):
    return {t.get_gid().split(":")[1]: t.get_text() for t in fig.axes[0].texts
            if (t.get_gid() or "").startswith(prefix + ":")}  # fmt: skip


@pytest.mark.parametrize(
    "x, weight, highlight",
    [
        (None, None, (0, 5)),
        (torch.randint(-9, 10, (5, 5), generator=torch.Generator().manual_seed(0)),
         torch.tensor([[1, 0, -1], [2, 0, -2], [1, 0, -1]]), (0, 8)),
        (torch.arange(12).reshape(3, 4), torch.tensor([[1, -1, 2]]), (1,)),
    ],
)  # fmt: skip
def test_im2col_columns_match_unfold_and_the_row_matches_conv2d(x, weight, highlight):
    x_t = torch.arange(1.0, 17.0).reshape(4, 4) if x is None else x.float()
    w_t = torch.tensor([[1.0, 2.0], [0.0, -1.0]]) if weight is None else weight.float()
    fig = im2col_diagram(x, weight, highlight)
    columns = F.unfold(x_t[None, None], kernel_size=w_t.shape)[0]  # (K*K, L)
    drawn = _texts(fig, "columns-value")
    assert len(drawn) == columns.numel()
    for (r, c), value in zip(
        [(r, c) for r in range(columns.shape[0]) for c in range(columns.shape[1])],
        columns.flatten().tolist(), strict=True,
    ):  # fmt: skip
        assert float(drawn[f"{r},{c}"]) == value
    row = F.conv2d(x_t[None, None], w_t[None, None]).flatten().tolist()
    drawn_row = _texts(fig, "row-value")
    assert [float(drawn_row[str(j)]) for j in range(len(row))] == row
    # every patch is numbered above its column and in its output cell
    assert sorted(int(t) for t in _texts(fig, "column-number").values()) == list(
        range(1, len(row) + 1)
    )
    assert len(_texts(fig, "output-number")) == len(row)
    # the highlighted patches fill exactly their columns
    filled = {
        tuple(map(int, p.get_gid().split(":")[1].split(",")))
        for p in fig.axes[0].patches
        if (p.get_gid() or "").startswith("columns:") and to_hex(p.get_facecolor()) != "#ffffff"
    }
    assert filled == {(r, j) for j in highlight for r in range(columns.shape[0])}
