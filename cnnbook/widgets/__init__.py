"""Interactive figures, one module per chapter.

Each module pairs a pure `render_*` function (parameters in, matplotlib figure out),
which the tests call and the book shows as a static figure, with a function that wires
ipywidgets controls to it for readers running the notebook; `wire` does the wiring. On
the published book, where no kernel answers the controls, `wire` returns the explorer
precomputed over a grid of its main controls instead (`cnnbook.widgets.static`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from cnnbook.runtime import static_build
from cnnbook.widgets.static import StaticExplorer


def wire(
    render: Callable,
    controls: dict,
    rows: Sequence[Sequence[str]],
    static: Mapping[str, Sequence | None],
):
    """Controls laid out in `rows` (lists of control names) above a figure that
    `render(**values)` redraws whenever a control changes. A `ValueError` from `render`
    (an invalid input typed by the reader) is shown as a message instead of a figure.

    `static` names the controls the published book precomputes and their values (None:
    every option of a menu or checkbox); the other controls stay at their defaults there.
    """
    if static_build():
        return StaticExplorer(render, controls, static)
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    def draw(**params):
        try:
            fig = render(**params)
        except ValueError as error:
            print(error)
            return
        display(fig)
        plt.close(fig)

    output = widgets.interactive_output(draw, controls)
    return widgets.VBox([*(widgets.HBox([controls[name] for name in row]) for row in rows), output])
