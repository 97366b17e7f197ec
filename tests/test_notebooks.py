"""Notebook hygiene and the exercise notebooks' behaviour as students first see them."""

import ast
import re
import sys

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from conftest import ROOT

NOTEBOOKS = sorted(
    p for folder in ("book", "solutions", "exercises") for p in (ROOT / folder).glob("*.ipynb")
)
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]-*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


def _config():
    return yaml.safe_load((ROOT / "_config.yml").read_text())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count)
    ]
    assert not dirty, f"cells {dirty} have outputs: clear them before committing"


def _ends_in_a_bare_glue(source: str) -> bool:
    """Whether a cell's last statement is a `glue(...)` call whose value Jupyter would show."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        body = ast.parse("\n".join(lines)).body
    except SyntaxError:
        return False
    last = body[-1] if body else None
    return (
        isinstance(last, ast.Expr)
        and isinstance(last.value, ast.Call)
        and ast.unparse(last.value.func).endswith("glue")
        and not source.rstrip().endswith(";")
    )


def test_a_bare_glue_call_is_recognised():
    assert _ends_in_a_bare_glue('x = 1\ncnnbook.glue("x", x)')
    assert not _ends_in_a_bare_glue('cnnbook.glue("x", 1);')
    assert not _ends_in_a_bare_glue('x = cnnbook.glue("x", 1)')


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_cell_shows_a_stray_glued_value(path):
    """`cnnbook.glue` returns its value, so a cell ending in it prints a bare number under
    the cell; end such a cell with `;` or assign the value."""
    cells = nbformat.read(path, as_version=4).cells
    stray = [i for i, c in enumerate(cells) if c.cell_type == "code" and _ends_in_a_bare_glue(c.source)]
    assert not stray, f"cells {stray} end in a bare glue(...) call"


MAX_SHOWN_LINES = 30  # about what a page shows beside its prose without scrolling


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_code_cell_is_longer_than_a_reader_can_follow(path):
    """A cell the page shows (glue-only lines left out, book/_ext/quiet_glue.py) over
    MAX_SHOWN_LINES lines asks the reader to hold too much at once: split it where the
    prose can explain each part."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from quiet_glue import without_glue

    long = {
        i: shown
        for i, c in enumerate(nbformat.read(path, as_version=4).cells)
        if c.cell_type == "code" and "remove-input" not in c.metadata.get("tags", [])
        if (shown := without_glue(c.source).count("\n") + 1) > MAX_SHOWN_LINES
    }
    assert not long, f"cells shown with more than {MAX_SHOWN_LINES} lines: {long}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_colab_setup_installs_from_the_configured_repository(path):
    """`_config.yml` names the repository once; every notebook must install from it."""
    url = _config()["repository"]["url"].rstrip("/")
    setup = next(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert 'if "google.colab" in sys.modules:' in setup
    assert f'%pip install -q "cnnbook @ git+{url}"' in setup
    for found in re.findall(
        r"github\.com/[\w.-]+/[\w.-]+", nbformat.read(path, as_version=4).cells[0].source + setup
    ):
        assert url.endswith(found.removeprefix("github.com")), f"{found} differs from {url}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_follows_the_template(path):
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for heading in (
        "After this chapter you can",
        "## Summary",
        "## Exercises",
        "## Further reading",
    ):
        assert heading in text, f"missing {heading!r}"
    assert "{colab}`exercises/" in text
    questions = text.split("## Check your understanding", 1)[-1].split("## Summary", 1)[0]
    answers = questions.count(":::{dropdown} Answer")
    assert "## Check your understanding" in text and answers >= 2, (
        "a chapter ends with two or three questions before its summary, each answer in a "
        f"collapsed dropdown; found {answers}"
    )
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert "hide-input" in setup.metadata.get("tags", [])
    checks = sum("check" in c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code")
    assert checks >= 6, f"only {checks} cells are tagged as checks"


def test_every_chapter_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    for path in CHAPTERS:
        assert f"book/{path.stem}" in toc


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_blank_exercise_runs_and_every_check_says_not_implemented(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    checks = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("check(")]
    assert checks
    for cell in checks:
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert "not implemented yet" in text, cell.source
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
