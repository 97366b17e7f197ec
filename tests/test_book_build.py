"""The whole book builds with zero warnings, and its Colab links point at the notebooks."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "book" / "_ext"))
from browser import FLAGS, chromium_or_skip, pages, serve, visit
from colab_links import colab_url
from page_scripts import SHIM, tidy_scripts


def test_colab_url_from_repository():
    assert colab_url("https://github.com/org/repo/", "main", "exercises/01-x.ipynb") == (
        "https://colab.research.google.com/github/org/repo/blob/main/exercises/01-x.ipynb"
    )


def test_page_scripts_drop_repeated_inline_scripts_and_shim_the_widget_embedder():
    from sphinx.builders.html._assets import _JavaScript

    config = _JavaScript(None, body='const THEBE_JS_URL = "x"')
    scripts = [
        _JavaScript("_static/require.js"),
        config,
        _JavaScript(None, body='const THEBE_JS_URL = "x"'),
        _JavaScript(
            "_static/ipywidgets/embed-amd.js", **{"data-jupyter-widgets-cdn-only": "false"}
        ),
    ]
    context = {"script_files": scripts}
    tidy_scripts(None, "book/x", "page.html", context, None)
    names = [s.filename for s in context["script_files"]]
    assert names == [
        "_static/require.js",
        None,
        f"_static/{SHIM}",
        "_static/ipywidgets/embed-amd.js",
    ]
    assert context["script_files"][1] is config
    without_widgets = {"script_files": [_JavaScript("_static/a.js")]}
    tidy_scripts(None, "book/y", "page.html", without_widgets, None)
    assert [s.filename for s in without_widgets["script_files"]] == ["_static/a.js"]


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


def test_pages_declare_each_inline_script_once_and_shim_mathjax_before_the_widgets(html):
    """The two console errors every chapter logged: a theme script declaring
    `const THEBE_JS_URL` twice, and the widget embedder calling MathJax 2's
    `MathJax.Hub.Queue` on the book's MathJax 3."""
    assert (html / "_static" / SHIM).exists()
    for page in sorted(html.rglob("*.html")):
        text = page.read_text()
        inline = [
            body
            for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", text, flags=re.S)
            if "src=" not in attributes and body.strip()
        ]
        assert len(inline) == len(set(inline)), f"{page.name} repeats an inline script"
        if "embed-amd.js" in text:
            assert -1 < text.find(f"_static/{SHIM}") < text.find("embed-amd.js"), page.name


@pytest.fixture(scope="module")
def browser():
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        yield chromium
        chromium.close()


def test_every_page_reads_well_in_a_real_browser(html, browser):
    """Served locally, every page loads without a console error, a failed request or a
    request leaving the machine; MathJax typesets every formula; every image loads; no
    code line is clipped at the right edge."""
    problems = {}
    with serve(html) as base:
        for path in pages(html):
            found = {k: v for k, v in vars(visit(browser, base, path)).items() if v}
            if found:
                problems[path] = found
    assert len(pages(html)) > 12
    assert not problems, problems


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
