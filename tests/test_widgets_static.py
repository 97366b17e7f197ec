"""Explorers precomputed for the published book: the grid they render, the page fragment
that switches between its figures, and when `wire` builds one instead of live widgets."""

import json
import re

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

from cnnbook.runtime import STATIC_ENV
from cnnbook.widgets import static as static_module
from cnnbook.widgets import wire
from cnnbook.widgets.static import StaticExplorer, grid_choices, static_explorer_html


def _controls():
    return {
        "kind": widgets.Dropdown(options=[("plain", "p"), ("fancy", "f")], value="p",
                                 description="kind"),
        "size": widgets.IntSlider(value=2, min=1, max=5, description="size"),
        "log": widgets.Checkbox(value=False, description="log"),
        "scale": widgets.FloatSlider(value=0.5, min=0.0, max=1.0, description="scale"),
    }  # fmt: skip


def _render(kind, size, log, scale):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.set_title(f"{kind} {size} {log} {scale}")
    ax.plot(range(size + 1))
    return fig


def test_grid_choices_take_menus_whole_and_check_values_against_the_control():
    controls = _controls()
    choices = grid_choices(controls, {"kind": None, "size": [1, 2, 5], "log": None})
    assert choices == {
        "kind": [("plain", "p"), ("fancy", "f")],
        "size": [("1", 1), ("2", 2), ("5", 5)],
        "log": [("off", False), ("on", True)],
    }
    with pytest.raises(ValueError, match="outside"):
        grid_choices(controls, {"size": [2, 9]})
    with pytest.raises(ValueError, match="default value 2"):
        grid_choices(controls, {"size": [1, 3]})
    with pytest.raises(ValueError, match="not among"):
        grid_choices(controls, {"kind": ["p", "x"]})
    with pytest.raises(TypeError, match="explicit values"):
        grid_choices(controls, {"scale": None})


def _data(fragment: str) -> dict:
    return json.loads(re.search(r'<script type="application/json">(.*?)</script>', fragment)[1])


def test_the_fragment_holds_one_figure_per_combination_and_starts_at_the_defaults(
    monkeypatch,
):
    monkeypatch.delenv(static_module.FRAMES_ENV, raising=False)
    controls = _controls()
    fragment = static_explorer_html(_render, controls, {"kind": None, "size": [1, 2, 3]})
    data = _data(fragment)
    assert sorted(data["images"]) == [f"{i},{j}" for i in range(2) for j in range(3)]
    assert data["labels"] == [["plain", "fancy"], ["1", "2", "3"]]
    assert all(image.startswith("data:image/webp;base64,") for image in data["images"].values())
    assert len(set(data["images"].values())) == 6
    assert '<option value="0" selected>plain</option>' in fragment  # the default kind
    assert 'type="range"' in fragment and 'value="1"' in fragment  # size 2 is index 1
    assert "kind, size (2 × 3 = 6 figures); log, scale at their default" in fragment
    # the default figure is on the page before any script runs
    assert f'src="{data["images"]["0,1"]}" data-key="0,1"' in fragment


def test_with_a_frames_folder_the_figures_are_files_the_page_loads_as_needed(
    monkeypatch, tmp_path
):
    import io

    from PIL import Image

    monkeypatch.setenv(static_module.FRAMES_ENV, str(tmp_path))
    fragment = static_explorer_html(_render, _controls(), {"size": [1, 2, 3]})
    sources = _data(fragment)["images"]
    assert all(src.startswith(f"{static_module.FRAMES_URL}/") for src in sources.values())
    files = sorted(tmp_path.glob("*.webp"))
    assert len(files) == 3 and "base64" not in fragment
    with Image.open(io.BytesIO(files[0].read_bytes())) as image:
        assert image.format == "WEBP"
        # the notebook's resolution: a 2-inch-wide figure is about 200 pixels wide
        assert 150 < image.width < 220
    again = static_explorer_html(_render, _controls(), {"size": [1, 2, 3]})
    assert again == fragment and len(list(tmp_path.glob("*"))) == 3  # named by content


def test_a_grid_over_the_page_budget_is_refused(monkeypatch):
    monkeypatch.setattr(static_module, "BYTES_PER_EXPLORER", 1000)
    with pytest.raises(ValueError, match="one explorer may weigh"):
        static_explorer_html(_render, _controls(), {"size": [1, 2, 3]})


def test_wire_builds_live_widgets_in_a_kernel_and_the_precomputed_explorer_for_the_book(
    monkeypatch,
):
    grid = {"size": [1, 2]}
    monkeypatch.delenv(STATIC_ENV, raising=False)
    live = wire(_render, _controls(), [["kind", "size"]], static=grid)
    assert isinstance(live, widgets.VBox)
    monkeypatch.setenv(STATIC_ENV, "1")
    book = wire(_render, _controls(), [["kind", "size"]], static=grid)
    assert isinstance(book, StaticExplorer) and "static-explorer" in book._repr_html_()
