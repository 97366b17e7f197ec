"""The live explorers and the training progress bar inside a real Jupyter kernel, as a
reader running a chapter in Jupyter or Colab meets them.

The other widget tests call the builders in the test process, where no kernel is
running: `tqdm.auto` then picks its text bar, and no widget talks to a front end. Here
every explorer builder is displayed in an IPython kernel and `fit` draws its progress bar
there (`tqdm.notebook`, an ipywidgets bar). This is what failed with ipywidgets 7.6.0
(`make test-lowest`): its import needs `ipython_genutils`, which it does not declare,
so every explorer cell raised and `fit` stopped with "IProgress not found".
"""

import nbformat
from nbclient import NotebookClient

from conftest import ROOT

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

SETUP = f"""\
import sys
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
sys.path.insert(0, {str(ROOT / "tests")!r})
from test_widgets_detection import IMAGE, TARGETS, raw_detections
from cnnbook.training import fit
from cnnbook.widgets.activations import activation_explorer
from cnnbook.widgets.architectures import architecture_explorer
from cnnbook.widgets.convolution import kernel_explorer
from cnnbook.widgets.detection import anchor_explorer, nms_explorer
from cnnbook.widgets.losses import loss_explorer
from cnnbook.widgets.optimizers import optimizer_race
from cnnbook.widgets.regularization import regularization_lab
from cnnbook.widgets.sequences import gradient_explorer
from cnnbook.widgets.upsampling import transposed_conv_explorer
"""

FIT = """\
torch.manual_seed(0)
x = torch.randn(64, 2)
batches = DataLoader(TensorDataset(x, (x.sum(1) > 0).long()), batch_size=16)
model = nn.Linear(2, 2)
history = fit(model, batches, torch.optim.SGD(model.parameters(), lr=0.5), epochs=2, device="cpu")
"""

# One cell per explorer, each ending in the explorer as the chapters do.
EXPLORERS = [
    "activation_explorer()",
    "architecture_explorer()",
    "kernel_explorer(torch.rand(1, 20, 24))",
    "anchor_explorer(IMAGE, targets=TARGETS)",
    "nms_explorer(IMAGE, *raw_detections(), targets=TARGETS)",
    "loss_explorer()",
    "optimizer_race()",
    "regularization_lab()",
    "gradient_explorer()",
    "transposed_conv_explorer(torch.rand(1, 12, 12))",
]


def test_explorers_and_progress_bar_are_live_widgets_in_a_kernel(tmp_path):
    cells = [SETUP, FIT, *EXPLORERS]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,  # every failing cell is reported below, not only the first
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()

    errors = [
        f"{c.source.splitlines()[-1]}  ->  {o.ename}: {o.evalue}"
        for c in nb.cells
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors, "cells that failed in the kernel:\n" + "\n".join(errors)
    stderr = "".join(o.text for o in nb.cells[1].outputs if o.get("name") == "stderr")
    assert "IProgress" not in stderr
    for cell in nb.cells[1:]:  # the progress bar and every explorer: an ipywidgets view
        views = [o for o in cell.outputs if WIDGET_VIEW in o.get("data", {})]
        assert views, f"no widget shown by: {cell.source.splitlines()[-1]}"

    # Each explorer's figure was drawn into its Output widget by the kernel.
    state = nb.metadata.widgets[WIDGET_STATE]["state"]
    outputs = [m["state"].get("outputs", []) for m in state.values()
               if m["model_name"] == "OutputModel"]  # fmt: skip
    drawn = [o for o in outputs if any("image/png" in x.get("data", {}) for x in o)]
    assert len(drawn) >= len(EXPLORERS), f"{len(drawn)} figures for {len(EXPLORERS)} explorers"
