"""A number the prose quotes is a number a cell asserts (tools/glue_claims.py says how
that is read), and every glued name is used by the prose, every name the prose uses glued.
"""

import re
import sys

import nbformat
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
from glue_claims import Notebook

CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_glued_value_is_asserted(path):
    assert not Notebook(path).unbounded(), "glued values no assertion reads"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_prose_and_glue_agree(path):
    notebook = Notebook(path)
    patterns = notebook.glued_patterns()
    unused = [p for p in patterns if not any(re.fullmatch(p, name) for name in notebook.used)]
    undefined = sorted(
        name for name in notebook.used if not any(re.fullmatch(p, name) for p in patterns)
    )
    assert not unused, f"glued but never quoted: {unused}"
    assert not undefined, f"quoted but never glued: {undefined}"


def _notebook_from(source: str, prose: str, tmp_path):
    path = tmp_path / "planted.ipynb"
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source), nbformat.v4.new_markdown_cell(prose)]
    )
    nbformat.write(nb, path)
    return Notebook(path)


@pytest.mark.parametrize(
    ("source", "bounded"),
    [
        ("acc = train()\ncnnbook.glue('acc', acc)", False),  # quoted, never checked
        ("acc = train()\ncnnbook.glue('acc', acc)\nassert acc > 0.9", True),
        (
            "r = {'a': train()}\nfor k, v in r.items():\n    cnnbook.glue(k, v)\nassert r['a'] > 0.9",
            True,
        ),
        ("gap = cnnbook.glue('acc', a - b)\nassert gap > 0", True),
        ("EPOCHS = 4\ncnnbook.glue('acc', EPOCHS)", True),  # set, not measured
        ("cnnbook.glue('acc', cnnbook.sized(cpu=4, gpu=10))", True),
        ("acc = train()\ncnnbook.glue('acc', acc)\nassert other > 0.9", False),
        (
            "import torch\ncnnbook.glue('acc', torch.rand(1))\ntorch.testing.assert_close(a, b)",
            False,
        ),
        ("r = {'a': acc}\nfor k, v in r.items():\n    cnnbook.glue(k, v)\nassert acc > 0.9", True),
        ("cnnbook.glue('acc', curves[-1])\nfinal = curves[-1]\nassert final < 0.1", True),
        ("h = a()\ncnnbook.glue('acc', h[-1])\nh = b()\nfinal = h[-1]\nassert final < 0.1", False),
        ("cnnbook.glue('acc', time_call(train), timing=True)", True),
        ("cnnbook.glue('acc', 'won' if a > b else 'lost')", True),
        ("def words(n):\n    return f'{n} epochs'\ncnnbook.glue('acc', words(4))", True),
        ("def train(n):\n    return n\ncnnbook.glue('acc', train(data))", False),
        ("cnnbook.glue('acc', time_call(train), timing=False)", False),
    ],
)
def test_the_rule_catches_a_planted_glue(source, bounded, tmp_path):
    notebook = _notebook_from(source, "{glue:text}`acc:.2f`", tmp_path)
    assert (not notebook.unbounded()) is bounded
