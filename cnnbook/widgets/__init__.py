"""Interactive figures, one module per chapter.

Each module pairs a pure `render_*` function (parameters in, matplotlib figure out),
which the tests call and the book shows as a static figure, with a function that wires
ipywidgets controls to it for readers running the notebook.
"""
