"""The whole book builds with zero warnings, and its Colab links point at the notebooks."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "book" / "_ext"))
from colab_links import colab_url


def test_colab_url_from_repository():
    assert colab_url("https://github.com/org/repo/", "main", "exercises/01-x.ipynb") == (
        "https://colab.research.google.com/github/org/repo/blob/main/exercises/01-x.ipynb"
    )


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    assert (ROOT / "_vendor" / "mathjax" / "tex-chtml.js").exists(), (
        "the book's JavaScript is missing: run `make vendor` (make test does)"
    )
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [
            str(jupyter_book),
            "build",
            str(ROOT),
            "--path-output",
            str(out),
            "-W",
            "-n",
            "--keep-going",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return out / "_build" / "html"


def test_book_builds_without_warnings(html):
    assert (html / "index.html").exists()


def test_pages_serve_widgets_and_math_locally(html):
    page = (html / "book" / "01-convolution.html").read_text()
    assert "application/vnd.jupyter.widget-view+json" in page or "widget-state" in page
    assert "_static/require.js" in page and "_static/ipywidgets/embed-amd.js" in page
    assert "_static/mathjax/tex-chtml.js" in page
    # nothing is fetched from outside (thebe names a URL but loads it only on request)
    assert not re.findall(r'<script[^>]+src="https?://', page)
    assert not re.findall(r'<link[^>]+href="https?://[^"]+\.css', page)
    assert (html / "_static" / "ipywidgets" / "embed-amd.js").exists()


def test_colab_buttons_open_each_notebook_in_the_repository(html):
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].removeprefix("https://github.com/").strip("/")
    branch = config["repository"]["branch"]
    for chapter in sorted((ROOT / "book").glob("[0-9][0-9]-*.ipynb")):
        page = (html / "book" / f"{chapter.stem}.html").read_text()
        launch = (
            f"https://colab.research.google.com/github/{repo}/blob/{branch}/book/{chapter.name}"
        )
        # a chapter split over two pages links its one exercise notebook from both
        (exercises,) = (ROOT / "exercises").glob(f"{chapter.name[:2]}-*.ipynb")
        exercise = f"https://colab.research.google.com/github/{repo}/blob/{branch}/exercises/{exercises.name}"
        assert launch in page, f"no Colab launch button for {chapter.name}"
        assert exercise in page, f"no Colab link to the exercises of {chapter.name}"
