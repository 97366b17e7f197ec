import math
import re

import pytest
from matplotlib.figure import Figure

from cnnbook.measure import count_parameters
from cnnbook.models.summary import LayerRow
from cnnbook.widgets.architectures import (
    MODELS,
    architecture_explorer,
    architecture_rows,
    build,
    layer_table_html,
    render_architecture_explorer,
    shown_rows,
    stage_parameters,
)


@pytest.mark.parametrize("name", list(MODELS))
def test_render_labels_every_axis_and_names_the_model(name):
    fig = render_architecture_explorer(name)
    assert isinstance(fig, Figure)
    assert name in fig._suptitle.get_text()
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


@pytest.mark.parametrize("name", list(MODELS))
def test_html_total_is_the_models_parameter_count(name):
    page = layer_table_html(name)
    total = re.search(r"<td[^>]*>total</td>.*?<td[^>]*>([\d,]+)</td>", page).group(1)
    assert int(total.replace(",", "")) == count_parameters(build(name))


def test_lenet_table_rows():
    page = layer_table_html("LeNet-5")
    assert page.startswith("<table") and "font-size: small" in page
    for shape in ("6×28×28", "6×14×14", "16×10×10", "16×5×5", "120×1×1", "whole image", "48,120"):
        assert shape in page
    assert "Tanh" not in page  # elementwise layers are left out


def test_shown_rows_keep_parameters_pools_and_shape_changes():
    rows = [
        LayerRow("conv", "Conv2d", (4, 8, 8), 40, 0, 3),
        LayerRow("relu", "ReLU", (4, 8, 8), 0, 0, 3),
        LayerRow("pool", "MaxPool2d", (4, 4, 4), 0, 0, 4),
        LayerRow("flat", "Flatten", (64,), 0, 0, math.inf),
        LayerRow("drop", "Dropout", (64,), 0, 0, math.inf),
        LayerRow("fc", "Linear", (10,), 650, 0, math.inf),
    ]
    assert [row.name for row in shown_rows(rows, (1, 8, 8))] == ["conv", "pool", "fc"]
    assert stage_parameters(rows) == {
        "conv": 40, "relu": 0, "pool": 0, "flat": 0, "drop": 0, "fc": 650,
    }  # fmt: skip


def test_stages_are_the_top_level_children():
    assert list(stage_parameters(architecture_rows("ResNet-18"))) == [
        "stem", "layer1", "layer2", "layer3", "layer4", "head",
    ]  # fmt: skip
    assert list(stage_parameters(architecture_rows("LeNet-5"))) == [
        "C1", "S2", "C3", "S4", "C5", "F6", "output",
    ]  # fmt: skip
    assert architecture_rows("LeNet-5") is architecture_rows("LeNet-5")  # cached


def test_log_scale_toggle():
    fig = render_architecture_explorer("LeNet-5", log_scale=False)
    assert all(ax.get_yscale() == "linear" for ax in fig.axes)
    fig = render_architecture_explorer("LeNet-5", log_scale=True)
    assert all(ax.get_yscale() == "log" for ax in fig.axes)


def test_unknown_model_names_the_known_ones():
    with pytest.raises(ValueError, match="ResNet-18"):
        render_architecture_explorer("ResNet-19")
    with pytest.raises(ValueError, match="LeNet-5"):
        layer_table_html("ResNet-19")


def test_explorer_controls_and_table_follow_the_menu():
    box = architecture_explorer()
    model, log_scale = box.children[0].children
    assert (model.description, log_scale.description) == ("model", "log scale")
    assert list(model.options) == list(MODELS)
    table = box.children[-1]
    assert "ResNet-18" in table.value
    model.value = "LeNet-5"
    assert "61,706" in table.value
