"""Chapter 7's transposed-convolution explorer: output size, overlap pattern, result.

Each input pixel stamps a copy of the kernel into the output, `stride` pixels apart.
Where stamps overlap unevenly the output inherits a grid pattern (the checkerboard of
Odena et al.). The explorer shows that count map next to what a uniform kernel makes of
a smooth photo, so the pattern can be seen arising from the arithmetic.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from cnnbook.upsampling import conv_transpose2d, overlap_counts, transposed_output_size
from cnnbook.widgets import wire


def render_transposed_conv_explorer(
    image: torch.Tensor,
    kernel_size: int = 3,
    stride: int = 2,
    padding: int = 0,
    dilation: int = 1,
) -> Figure:
    """Input, overlap counts and output of a transposed convolution with an all-ones
    kernel (scaled so that a perfectly even overlap would keep the brightness).

    `image` is a square (1, H, H) or (H, H) grey image. Raises `ValueError` when the
    setting leaves no output pixel (padding crops more than the output has)."""
    image = image.detach().float().cpu()
    if image.ndim == 3:
        image = image.mean(0)
    size = image.shape[-1]
    out_size = transposed_output_size(size, kernel_size, stride, padding, 0, dilation)
    if out_size <= 0:
        raise ValueError(
            f"no output: (H - 1)·s - 2p + d(k - 1) + 1 = {out_size} for H = {size}; "
            "reduce the padding"
        )
    counts = overlap_counts(size, kernel_size, stride, padding, dilation)
    kernel = torch.ones(1, 1, kernel_size, kernel_size) * (stride / kernel_size) ** 2
    output = conv_transpose2d(image[None, None], kernel, None, stride, padding, 0, dilation)[0, 0]

    fig, (ax_in, ax_count, ax_out) = plt.subplots(1, 3, figsize=(6.8, 2.9))
    ax_in.imshow(image.numpy(), cmap="gray", vmin=0, vmax=1)
    ax_in.set(title=f"input {size}×{size}", xlabel="x (pixels)", ylabel="y (pixels)")
    shown = ax_count.imshow(counts.numpy(), cmap="magma", vmin=0)
    fig.colorbar(shown, ax=ax_count, fraction=0.046, label="kernel taps writing here")
    low, high = int(counts.min()), int(counts.max())
    ax_count.set(
        title=f"overlap counts:\n{low} to {high}" + (" (even)" if low == high else ""),
        xlabel="x (output pixels)",
        ylabel="y (output pixels)",
    )
    ax_out.imshow(output.numpy(), cmap="gray", vmin=0, vmax=1)
    ax_out.set(
        title=f"output {out_size}×{out_size}",
        xlabel="x (output pixels)",
        ylabel="y (output pixels)",
    )
    fig.suptitle(
        f"kernel {kernel_size}, stride {stride}, padding {padding}, dilation {dilation}:\n"
        f"({size} − 1)·{stride} − 2·{padding} + {dilation}·({kernel_size} − 1) + 1 = {out_size}",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def transposed_conv_explorer(image: torch.Tensor):
    """Sliders wired to `render_transposed_conv_explorer` (needs a live kernel)."""
    import ipywidgets as widgets

    controls = {
        "kernel_size": widgets.IntSlider(value=3, min=1, max=8, description="kernel"),
        "stride": widgets.IntSlider(value=2, min=1, max=4, description="stride"),
        "padding": widgets.IntSlider(value=0, min=0, max=4, description="padding"),
        "dilation": widgets.IntSlider(value=1, min=1, max=3, description="dilation"),
    }
    return wire(
        lambda **values: render_transposed_conv_explorer(image, **values),
        controls,
        [["kernel_size", "stride"], ["padding", "dilation"]],
        static={"kernel_size": [1, 2, 3, 4, 5, 6], "stride": [1, 2, 3], "padding": [0, 1]},
    )
