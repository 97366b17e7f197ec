"""Explorers for the published book, where no kernel runs behind the page.

At build time every combination of a few controls' values is rendered once, and the page
gets a small self-contained control (plain HTML and JavaScript, no CDN) that switches
between the precomputed figures. In Jupyter and Colab the live ipywidgets stay as they
are: `wire` builds this static version only when the book's build asks for it through
the environment variable `cnnbook.runtime.STATIC_ENV` (set by
`book/_ext/static_explorers.py`).

The figures are rendered like the notebook's own (100 dpi, every colour) and saved as
lossless WebP. When the build names a folder for them (`FRAMES_ENV`), each is a file the
site serves and the page loads only the one on show, fetching another when a control
moves it; without a folder they are inlined as data URIs.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt

from cnnbook.figure_text import smallest_text_px

# What one explorer's figures may weigh in all (the page loads one at a time).
BYTES_PER_EXPLORER = 4_000_000
DPI = 100  # as the notebooks' inline figures
FRAMES_ENV = "CNNBOOK_EXPLORER_FRAMES"  # the folder the build serves as _static/explorer-frames
FRAMES_URL = "../_static/explorer-frames"  # from a chapter page in book/
# where the book's build keeps them, under the book's root; its parent is a static path
BUILD_FRAMES = Path("_build") / "explorer-static" / "explorer-frames"


def _options(control) -> list[tuple[str, object]]:
    """(label, value) pairs a control offers: a menu's entries or a checkbox's two states."""
    if hasattr(control, "_options_labels"):
        return list(zip(control._options_labels, control._options_values, strict=True))
    if isinstance(control.value, bool):
        return [("off", False), ("on", True)]
    raise TypeError(f"{type(control).__name__} needs explicit values in the grid")


def grid_choices(controls: Mapping, grid: Mapping[str, Sequence | None]) -> dict[str, list]:
    """For each precomputed control, its (label, value) choices: the values the grid
    names (None: every option of a menu or checkbox), each checked against the control."""
    choices = {}
    for name, values in grid.items():
        control = controls[name]
        if values is None:
            choices[name] = _options(control)
            continue
        if hasattr(control, "_options_labels"):
            labels = dict((v, k) for k, v in _options(control))
            unknown = [v for v in values if v not in labels]
            if unknown:
                raise ValueError(f"{name}: {unknown} are not among the control's options")
            choices[name] = [(labels[v], v) for v in values]
        else:
            low, high = getattr(control, "min", None), getattr(control, "max", None)
            outside = [v for v in values if low is not None and not low <= v <= high]
            if outside:
                raise ValueError(f"{name}: {outside} lie outside [{low}, {high}]")
            choices[name] = [(f"{v:g}" if isinstance(v, float) else str(v), v) for v in values]
        if control.value not in [v for _, v in choices[name]]:
            raise ValueError(f"{name}: the grid must include the default value {control.value!r}")
    return choices


def render_frame(render: Callable, params: dict, dpi: int = DPI) -> tuple[bytes, float | None]:
    """One figure of the grid as lossless WebP bytes, and the height of its smallest text
    in pixels (`cnnbook.figure_text`); the figure is closed, since a grid renders many."""
    from PIL import Image

    fig = render(**params)
    text_px = smallest_text_px(fig, dpi)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    out = io.BytesIO()
    # method 1: within 7% of the smallest file, in a third of method 6's time
    Image.open(buffer).convert("RGB").save(out, format="webp", lossless=True, method=1)
    return out.getvalue(), text_px


def frame_source(frame: bytes) -> str:
    """Where the page finds a figure: a file in the build's frames folder, named by its
    content (so an unchanged figure keeps its name), or else a data URI."""
    folder = os.environ.get(FRAMES_ENV)
    if not folder:
        return "data:image/webp;base64," + base64.b64encode(frame).decode()
    name = f"{hashlib.sha256(frame).hexdigest()[:20]}.webp"
    path = Path(folder) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(frame)
        partial.rename(path)
    return f"{FRAMES_URL}/{name}"


_SCRIPT = """(function () {
  const root = document.getElementById(%(id)s);
  const data = JSON.parse(root.querySelector("script[type='application/json']").textContent);
  const inputs = [...root.querySelectorAll("[data-index]")];
  const image = root.querySelector("img");
  function show() {
    const key = inputs.map((input) => input.value).join(",");
    inputs.forEach((input) => {
      const readout = root.querySelector("output[for='" + input.id + "']");
      if (readout) readout.textContent = data.labels[input.dataset.index][input.value];
    });
    if (image.dataset.key !== key) image.src = data.images[key];
    image.dataset.key = key;
  }
  inputs.forEach((input) => input.addEventListener("input", show));
  show();
})();"""


def static_explorer_html(
    render: Callable, controls: Mapping, grid: Mapping[str, Sequence | None]
) -> str:
    """The explorer as one HTML fragment: a control per precomputed parameter, the
    figures inline as PNG, and the script that shows the figure the controls select.
    The other controls keep their default values."""
    choices = grid_choices(controls, grid)
    defaults = {name: control.value for name, control in controls.items()}
    names = list(choices)
    images, labels = {}, [[label for label, _ in choices[n]] for n in names]
    size, text_px = 0, []
    for indices in itertools.product(*(range(len(choices[n])) for n in names)):
        params = dict(defaults)
        params.update({n: choices[n][i][1] for n, i in zip(names, indices, strict=True)})
        frame, frame_text_px = render_frame(render, params)
        size += len(frame)
        text_px += [frame_text_px] if frame_text_px is not None else []
        images[",".join(map(str, indices))] = frame_source(frame)
    if size > BYTES_PER_EXPLORER:
        raise ValueError(
            f"{len(images)} figures take {size:,} bytes, over the {BYTES_PER_EXPLORER:,} "
            "one explorer may weigh: precompute fewer values"
        )
    data = json.dumps({"labels": labels, "images": images}, separators=(",", ":"))
    # named by its content, so rebuilding an unchanged page gives the same HTML
    root = f"explorer-{hashlib.sha1(data.encode()).hexdigest()[:12]}"
    rows, starts = [], []
    for index, name in enumerate(names):
        control, start = controls[name], [v for _, v in choices[name]].index(defaults[name])
        starts.append(start)
        label = html.escape(getattr(control, "description", "") or name)
        field = f"{root}-{index}"
        if hasattr(control, "_options_labels") or isinstance(control.value, bool):
            options = "".join(
                f'<option value="{i}"{" selected" if i == start else ""}>{html.escape(text)}'
                "</option>"
                for i, text in enumerate(labels[index])
            )
            widget = f'<select id="{field}" data-index="{index}">{options}</select>'
        else:
            widget = (
                f'<input type="range" id="{field}" data-index="{index}" min="0" '
                f'max="{len(labels[index]) - 1}" step="1" value="{start}">'
                f'<output for="{field}"></output>'
            )
        rows.append(f'<label for="{field}">{label}</label> {widget}')

    def described(name: str) -> str:
        return getattr(controls[name], "description", "") or name

    fixed = [described(n) for n in controls if n not in choices]
    counts = " × ".join(str(len(choices[n])) for n in names)
    note = (
        f"Precomputed for this page: {', '.join(map(described, names))} "
        f"({counts} = {len(images)} figures)"
        + (f"; {', '.join(fixed)} at {'its' if len(fixed) == 1 else 'their'} default" if fixed
           else "")
        + ". Open the notebook (Colab button at the top) for the full explorer."
    )  # fmt: skip
    return (
        f'<div class="static-explorer" id="{root}">'
        f'<div class="static-explorer-controls">{"".join(f"<span>{r}</span>" for r in rows)}'
        "</div>"
        f'<img alt="explorer figure" src="{html.escape(images[",".join(map(str, starts))])}"'
        f' data-key="{",".join(map(str, starts))}"'
        + (f' data-text-px="{min(text_px):.2f}"' if text_px else "")
        + ">"
        f'<p class="static-explorer-note">{html.escape(note)}</p>'
        f'<script type="application/json">{data}</script>'
        f"<script>{_SCRIPT % {'id': json.dumps(root)}}</script>"
        "</div>"
    )


class StaticExplorer:
    """What an explorer cell shows in the published book: the precomputed explorer."""

    def __init__(self, render: Callable, controls: Mapping, grid: Mapping[str, Sequence | None]):
        self.html = static_explorer_html(render, controls, grid)

    def _repr_html_(self) -> str:
        return self.html
