"""The GPU-size branches of the chapters: taken through one switch, and run (slowly).

A chapter that trains chooses its size with `cnnbook.sized(cpu=..., gpu=...)`, never by
testing the device itself, so that CNNBOOK_BUDGET=gpu can send every GPU branch through
its code on any machine. The slow tests do exactly that (`make test-gpu-size`); they are
left out of `make test`, as on a CPU they take many minutes.
"""

import re

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT

CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]-*.ipynb"))
SIZED = [p for p in CHAPTERS if "cnnbook.sized(" in p.read_text()]
DEVICE_TEST = re.compile(r"device\.type\s*[!=]=|cuda\.is_available\(\)")


def _code(path):
    return "\n".join(
        c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapters_choose_sizes_through_the_switch_only(path):
    assert not DEVICE_TEST.findall(_code(path)), (
        "choose a GPU-size setting with cnnbook.sized(cpu=..., gpu=...), not a device test"
    )


def test_the_training_chapters_have_gpu_size_branches():
    assert {p.stem for p in SIZED} >= {
        "06-modern-cnns",
        "06-modern-cnns-compared",
        "07-segmentation",
        "07-segmentation-fcn",
        "08-detection-yolo",
        "09-rnn-lstm",
        "10-attention-and-transformers",
        "10-gan-dqn-simclr",
    }


@pytest.mark.slow
@pytest.mark.parametrize("path", SIZED, ids=lambda p: p.name)
def test_chapter_runs_at_gpu_size(path, monkeypatch):
    monkeypatch.setenv("CNNBOOK_BUDGET", "gpu")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert re.search(r"\bepochs?\b|\bsteps\b", printed), "the GPU-size run printed no training"
