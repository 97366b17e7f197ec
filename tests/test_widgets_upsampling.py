import pytest
import torch

from cnnbook.upsampling import overlap_counts, transposed_output_size
from cnnbook.widgets.upsampling import render_transposed_conv_explorer, transposed_conv_explorer

IMAGE = torch.rand(1, 12, 12)


@pytest.mark.parametrize(
    ("kernel_size", "stride", "padding", "dilation"), [(3, 2, 0, 1), (4, 2, 1, 1), (2, 3, 0, 2)]
)
def test_render_shows_the_size_pytorch_computes_and_the_overlap(kernel_size, stride, padding,
                                                                dilation):  # fmt: skip
    fig = render_transposed_conv_explorer(IMAGE, kernel_size, stride, padding, dilation)
    ax_in, ax_counts, ax_out = fig.axes[:3]
    size = transposed_output_size(12, kernel_size, stride, padding, 0, dilation)
    out = torch.nn.functional.conv_transpose2d(
        IMAGE[None], torch.ones(1, 1, kernel_size, kernel_size), stride=stride, padding=padding,
        dilation=dilation,
    )  # fmt: skip
    assert out.shape[-1] == size
    assert ax_out.get_title() == f"output {size}×{size}"
    assert ax_counts.images[0].get_array().shape == (size, size)
    counts = overlap_counts(12, kernel_size, stride, padding, dilation).numpy()
    assert (ax_counts.images[0].get_array() == counts).all()
    assert f"= {size}" in fig._suptitle.get_text()
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in (ax_in, ax_counts, ax_out))


def test_checkerboard_is_named_in_the_count_title():
    uneven = render_transposed_conv_explorer(IMAGE, 3, 2).axes[1].get_title()
    even = render_transposed_conv_explorer(IMAGE, 2, 2).axes[1].get_title()
    assert uneven == "overlap counts:\n1 to 4" and even == "overlap counts:\n1 to 1 (even)"


def test_an_empty_output_is_a_value_error():
    with pytest.raises(ValueError, match="reduce the padding"):
        render_transposed_conv_explorer(torch.rand(1, 2, 2), 1, 1, 3)


def test_explorer_builds_its_controls():
    box = transposed_conv_explorer(IMAGE)
    descriptions = [w.description for row in box.children[:2] for w in row.children]
    assert descriptions == ["kernel", "stride", "padding", "dilation"]
