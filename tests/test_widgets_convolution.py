import pytest
import torch

from cnnbook.kernels import KERNELS, parse_kernel
from cnnbook.widgets.convolution import apply_kernel, kernel_explorer, render_kernel_explorer

IMAGE = torch.rand(1, 20, 24)


@pytest.mark.parametrize(
    ("stride", "padding", "dilation"), [(1, 0, 1), (2, 1, 1), (3, 2, 2), (1, 0, 4)]
)
def test_render_shows_the_output_shape_pytorch_computes(stride, padding, dilation):
    fig = render_kernel_explorer(
        IMAGE, "blur: box", stride=stride, padding=padding, dilation=dilation
    )
    ax_in, ax_kernel, ax_out = fig.axes
    expected = torch.nn.functional.conv2d(
        IMAGE[None], torch.ones(1, 1, 3, 3), stride=stride, padding=padding, dilation=dilation
    ).shape[-2:]
    assert ax_out.get_title() == f"output {expected[0]}×{expected[1]}"
    assert ax_out.images[0].get_array().shape == tuple(expected)
    assert len(ax_in.patches) == 9 + (padding > 0)  # the taps, plus the padding outline
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in (ax_in, ax_kernel, ax_out))
    assert f"stride {stride}, padding {padding}, dilation {dilation}" in fig._suptitle.get_text()


def test_render_custom_kernel_and_colour_image():
    fig = render_kernel_explorer(torch.rand(3, 10, 10), "custom", custom="0 0 0; 0 2 0; 0 0 0")
    assert fig.axes[1].get_title() == "kernel: custom"
    assert [t.get_text() for t in fig.axes[1].texts].count("2") == 1


def test_render_reports_a_kernel_that_does_not_fit():
    fig = render_kernel_explorer(torch.rand(1, 6, 6), dilation=4)
    assert fig.axes[2].get_title() == "output: empty"
    assert apply_kernel(torch.rand(1, 6, 6), KERNELS["identity"], dilation=4) is None


def test_identity_kernel_returns_the_image():
    torch.testing.assert_close(apply_kernel(IMAGE, KERNELS["identity"], padding=1), IMAGE[0])


def test_parse_kernel_rejects_malformed_text():
    assert parse_kernel("1,2,3; 4 5 6; 7 8 9")[1, 2] == 6
    with pytest.raises(ValueError, match="three rows"):
        parse_kernel("1 2; 3 4")


def test_kernel_explorer_builds_its_controls():
    box = kernel_explorer(IMAGE)
    descriptions = [w.description for row in box.children[:2] for w in row.children]
    assert descriptions == ["kernel", "custom 3×3", "stride", "padding", "dilation"]
