"""Chapter 1's kernel explorer: a kernel, stride, padding and dilation applied to a photo."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from cnnbook.kernels import KERNELS, parse_kernel
from cnnbook.plotting import draw_kernel
from cnnbook.widgets import wire

DEFAULT_CUSTOM = "1 0 -1; 1 0 -1; 1 0 -1"


def apply_kernel(
    image: torch.Tensor, kernel: torch.Tensor, stride: int = 1, padding: int = 0, dilation: int = 1
) -> torch.Tensor | None:
    """The (H_out, W_out) response of a (1, H, W) image, or None when the dilated kernel
    does not fit inside the padded image (the output would be empty)."""
    span = dilation * (kernel.shape[-1] - 1) + 1
    if span > min(image.shape[-2:]) + 2 * padding:
        return None
    out = F.conv2d(
        image[None], kernel[None, None], stride=stride, padding=padding, dilation=dilation
    )
    return out[0, 0]


def render_kernel_explorer(
    image: torch.Tensor,
    kernel: str = "edge: Sobel x",
    custom: str = DEFAULT_CUSTOM,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> Figure:
    """Input with the kernel's footprint, the kernel's weights, and the output with its shape.

    `kernel` is a name from `cnnbook.kernels.KERNELS` or ``"custom"``, in which case
    `custom` holds the 3x3 weights as text.
    """
    weights = parse_kernel(custom) if kernel == "custom" else KERNELS[kernel]
    image = image.detach().float().cpu()
    if image.ndim == 2:
        image = image[None]
    if image.shape[0] != 1:
        image = image.mean(0, keepdim=True)
    out = apply_kernel(image, weights, stride, padding, dilation)
    h, w = image.shape[-2:]

    fig, (ax_in, ax_k, ax_out) = plt.subplots(
        1, 3, figsize=(6.8, 3.0), gridspec_kw={"width_ratios": [1, 0.7, 1]}
    )
    ax_in.imshow(image[0].numpy(), cmap="gray")
    for i in range(3):  # the taps of the kernel at the top-left output position
        for j in range(3):
            y, x = i * dilation - padding, j * dilation - padding
            ax_in.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, color="tab:orange", alpha=0.9))
    if padding:  # the zero border the kernel may step on
        ax_in.add_patch(
            plt.Rectangle(
                (-padding - 0.5, -padding - 0.5),
                w + 2 * padding,
                h + 2 * padding,
                fill=False,
                ls="--",
                color="tab:orange",
            )
        )
    ax_in.set(
        xlim=(-padding - 1, w + padding),
        ylim=(h + padding, -padding - 1),
        title=f"input {h}×{w}\n(orange: kernel taps)",
        xlabel="x (pixels)",
        ylabel="y (pixels)",
    )

    draw_kernel(ax_k, weights, f"kernel: {kernel}")

    if out is None:
        ax_out.text(
            0.5,
            0.5,
            "kernel does not fit:\nadd padding or reduce dilation",
            ha="center",
            va="center",
            transform=ax_out.transAxes,
        )
        ax_out.set(title="output: empty", xticks=[], yticks=[])
    else:
        bound = float(out.abs().max()) or 1.0
        signed = bool((weights < 0).any())
        ax_out.imshow(
            out.numpy(),
            cmap="RdBu_r" if signed else "gray",
            vmin=-bound if signed else None,
            vmax=bound if signed else None,
        )
        ax_out.set(title=f"output {out.shape[0]}×{out.shape[1]}")
    ax_out.set(xlabel="x (output pixels)", ylabel="y (output pixels)")
    fig.suptitle(f"stride {stride}, padding {padding}, dilation {dilation}")
    fig.tight_layout()
    return fig


# The kernels the published page precomputes (the notebook offers all of KERNELS): one of
# each kind, so that stride, padding and dilation can all be moved on the page.
PAGE_KERNELS = ["identity", "edge: Sobel x", "edge: Laplacian", "blur: Gaussian", "sharpen"]


def kernel_explorer(image: torch.Tensor):
    """Sliders and a kernel menu wired to `render_kernel_explorer` (needs a live kernel)."""
    import ipywidgets as widgets

    controls = {
        "kernel": widgets.Dropdown(
            options=[*KERNELS, "custom"], value="edge: Sobel x", description="kernel"
        ),
        "custom": widgets.Text(value=DEFAULT_CUSTOM, description="custom 3×3"),
        "stride": widgets.IntSlider(value=1, min=1, max=4, description="stride"),
        "padding": widgets.IntSlider(value=0, min=0, max=4, description="padding"),
        "dilation": widgets.IntSlider(value=1, min=1, max=4, description="dilation"),
    }

    def render(custom: str, **params):
        try:
            return render_kernel_explorer(image, custom=custom, **params)
        except ValueError as error:  # an unparsable custom kernel
            raise ValueError(f"custom kernel: {error}") from None

    return wire(
        render,
        controls,
        [["kernel", "custom"], ["stride", "padding", "dilation"]],
        static={"kernel": PAGE_KERNELS, "stride": [1, 2], "padding": [0, 1], "dilation": [1, 2]},
    )
