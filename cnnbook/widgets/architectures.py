"""Chapter 6's architecture explorer: seven classic networks, stage by stage.

For a chosen network the explorer shows where its parameters live (one bar per named
stage), how the receptive field grows and the feature maps shrink along its layers, and
a layer table. The networks are the from-scratch ones of `cnnbook.models`, built on the
meta device: shapes, parameter counts and multiply-accumulates come without allocating
a single weight, so even VGG-16 (138 M parameters) is instant.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from functools import lru_cache

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import nn

from cnnbook.models import alexnet, densenet121, googlenet, lenet5, resnet18, resnet50, vgg
from cnnbook.models.summary import LayerRow, layer_table
from cnnbook.runtime import static_build
from cnnbook.widgets import wire

# name -> (builder, input shape (C, H, W) the network was designed for)
MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, int, int]]] = {
    "LeNet-5": (lenet5, (1, 32, 32)),
    "AlexNet": (alexnet, (3, 227, 227)),
    "VGG-16": (vgg, (3, 224, 224)),
    "GoogLeNet": (googlenet, (3, 224, 224)),
    "ResNet-18": (resnet18, (3, 224, 224)),
    "ResNet-50": (resnet50, (3, 224, 224)),
    "DenseNet-121": (densenet121, (3, 224, 224)),
}


def _lookup(name: str) -> tuple[Callable[[], nn.Module], tuple[int, int, int]]:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def build(name: str) -> nn.Module:
    """The network called `name` in `MODELS`, on the meta device (shapes, no weights)."""
    builder, _ = _lookup(name)
    with torch.device("meta"):
        return builder()


@lru_cache(maxsize=16)
def architecture_rows(name: str) -> tuple[LayerRow, ...]:
    """Every row of `layer_table` for the network `name` on its input shape (cached)."""
    _, input_shape = _lookup(name)
    return tuple(layer_table(build(name), input_shape))


def shown_rows(rows: Sequence[LayerRow], input_shape: Sequence[int]) -> list[LayerRow]:
    """The rows worth a line in a table: those with parameters (convolutions, linear
    layers, batch norms, whole blocks), pooling layers, and any layer that changes the
    number of values. Elementwise layers (ReLU, Tanh, Dropout, local response
    normalization) and Flatten, which only reshapes, are left out; their outputs are the
    previous row's. Batch norms stay: they carry parameters, so the shown rows still add
    up to the network's total, and at the top level they are few (inside a residual or
    dense block they are counted in the block's row)."""
    shown, size = [], math.prod(input_shape)
    for row in rows:
        new_size = math.prod(row.output_shape)
        if row.parameters or "Pool" in row.kind or new_size != size:
            shown.append(row)
        size = new_size
    return shown


def stage_of(row: LayerRow) -> str:
    """The top-level stage a row belongs to: "layer1" for "layer1.0", "C1" for "C1.0"."""
    return row.name.split(".")[0]


def stage_parameters(rows: Sequence[LayerRow]) -> dict[str, int]:
    """Parameters per top-level stage, in the network's order."""
    stages: dict[str, int] = {}
    for row in rows:
        stages[stage_of(row)] = stages.get(stage_of(row), 0) + row.parameters
    return stages


def shape_text(shape: Sequence[int]) -> str:
    """(64, 56, 56) -> "64×56×56"; (1000,) -> "1000"."""
    return "×".join(str(n) for n in shape)


def field_text(field: float) -> str:
    """A receptive field in pixels, or "whole image" after global pooling or a linear layer."""
    return "whole image" if math.isinf(field) else f"{field:.0f}"


def compact(n: float) -> str:
    """61706 -> "61.7k", 11689512 -> "11.7M"."""
    for bound, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= bound:
            return f"{n / bound:.3g}{suffix}"
    return f"{n:.0f}"


def _title(name: str, rows: Sequence[LayerRow]) -> str:
    _, input_shape = _lookup(name)
    params = sum(row.parameters for row in rows)
    gmacs = sum(row.macs for row in rows) / 1e9
    return (
        f"{name}: {params:,} parameters, {gmacs:.3g} GMACs for one {shape_text(input_shape)} input"
    )


def layer_table_html(name: str) -> str:
    """The layer table of the network `name` as a compact HTML table, with a total row.

    One line per row of `shown_rows`: layer, type, output shape, parameters, MACs
    (multiply-accumulates for one input) and receptive field in input pixels."""
    rows = architecture_rows(name)
    _, input_shape = _lookup(name)
    cell = "padding:1px 8px;border-bottom:1px solid #ddd"
    right = f"{cell};text-align:right"
    header = "".join(
        f'<th style="{cell if i < 2 else right}">{title}</th>'
        for i, title in enumerate(
            ("layer", "type", "output shape", "parameters", "MACs", "receptive field (px)")
        )
    )
    lines = [
        f'<tr><td style="{cell}">input</td><td style="{cell}"></td>'
        f'<td style="{right}">{shape_text(input_shape)}</td>'
        f'<td style="{right}"></td><td style="{right}"></td><td style="{right}">1</td></tr>'
    ]
    for row in shown_rows(rows, input_shape):
        values = (
            shape_text(row.output_shape),
            f"{row.parameters:,}",
            compact(row.macs) if row.macs else "",
            field_text(row.receptive_field),
        )
        lines.append(
            f'<tr><td style="{cell}"><code>{html.escape(row.name)}</code></td>'
            f'<td style="{cell}">{html.escape(row.kind)}</td>'
            + "".join(f'<td style="{right}">{value}</td>' for value in values)
            + "</tr>"
        )
    total = sum(row.parameters for row in rows)
    macs = sum(row.macs for row in rows)
    bold = "font-weight: bold; border-top: 2px solid #888"
    lines.append(
        f'<tr style="{bold}"><td style="{cell}">total</td><td style="{cell}"></td>'
        f'<td style="{right}"></td><td style="{right}">{total:,}</td>'
        f'<td style="{right}">{compact(macs)}</td><td style="{right}"></td></tr>'
    )
    return (
        f'<table style="font-size: small; border-collapse: collapse; margin: 0.5em 0">'
        f"<caption style='caption-side: top; text-align: left'>"
        f"{html.escape(_title(name, rows))}</caption>"
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(lines)}</tbody></table>"
    )


def render_architecture_explorer(model: str = "ResNet-18", log_scale: bool = True) -> Figure:
    """Parameters per stage (top) and, along the table's rows, the receptive field and
    the feature maps' height (below, the full width: it names every row); the title gives
    the totals for one input."""
    rows = architecture_rows(model)
    _, input_shape = _lookup(model)
    stages = stage_parameters(rows)
    shown = shown_rows(rows, input_shape)
    scale = "log" if log_scale else "linear"

    fig, (ax_params, ax_field) = plt.subplots(
        2, 1, figsize=(6.8, 7.2), gridspec_kw={"height_ratios": [1, 1.25]}
    )
    positions = range(len(stages))
    bars = ax_params.bar(positions, list(stages.values()), color="tab:blue")
    ax_params.bar_label(bars, labels=[compact(n) if n else "" for n in stages.values()], fontsize=7)
    for x, n in zip(positions, stages.values(), strict=True):
        if not n:  # no bar to label (a pooling stage); a log axis has no 0 to put one on
            ax_params.annotate("0", (x, 0), xycoords=("data", "axes fraction"), xytext=(0, 2),
                               textcoords="offset points", ha="center", fontsize=7)  # fmt: skip
    ax_params.set_xticks(list(positions), list(stages), fontsize=8)
    ax_params.set_yscale(scale)
    ax_params.set(xlabel="stage", ylabel="parameters", title="Parameters per stage")
    ax_params.margins(y=0.15)
    ax_params.grid(axis="y", alpha=0.3)

    index = list(range(1, len(shown) + 1))
    fields = [row.receptive_field if math.isfinite(row.receptive_field) else math.nan
              for row in shown]  # fmt: skip
    heights = [row.output_shape[1] if len(row.output_shape) == 3 else math.nan for row in shown]
    ax_field.plot(index, fields, "o-", ms=3, label="receptive field")
    ax_field.plot(index, heights, "s-", ms=3, label="feature-map height")
    ax_field.axhline(input_shape[1], color="grey", ls="--", lw=1,
                     label=f"input size ({input_shape[1]} px)")  # fmt: skip
    first_global = next(
        (i for i, row in zip(index, shown, strict=True) if math.isinf(row.receptive_field)), None
    )
    if first_global is not None:
        ax_field.axvspan(first_global - 0.5, len(shown) + 0.5, color="tab:green", alpha=0.1,
                         label="sees the whole image")  # fmt: skip
    ax_field.set_xticks(index, [row.name for row in shown], rotation=90, fontsize=7)
    ax_field.set_xlim(0.5, len(shown) + 0.5)
    ax_field.set_yscale(scale)
    ax_field.set(
        xlabel="layer or block (rows of the table)",
        ylabel="pixels",
        title="Receptive field (input pixels) and map height",
    )
    ax_field.grid(alpha=0.3)
    ax_field.legend(fontsize=7)
    fig.suptitle(_title(model, rows), fontsize=11)
    fig.tight_layout()
    return fig


def architecture_explorer():
    """A model menu and a log-scale toggle wired to `render_architecture_explorer`, with
    the model's layer table (`layer_table_html`) below the figure; the table follows the
    menu."""
    import ipywidgets as widgets

    controls = {
        "model": widgets.Dropdown(options=list(MODELS), value="ResNet-18", description="model"),
        "log_scale": widgets.Checkbox(value=True, description="log scale"),
    }
    table = widgets.HTML(layer_table_html(controls["model"].value))

    def show_table(change):
        table.value = layer_table_html(change["new"])

    controls["model"].observe(show_table, names="value")
    wired = wire(
        render_architecture_explorer,
        controls,
        [["model", "log_scale"]],
        static={"model": None, "log_scale": None},
    )
    if static_build():  # the published page: the figures only (the notebook has the table)
        return wired
    return widgets.VBox([*wired.children, table])  # controls, figure, table
