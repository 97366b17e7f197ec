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
from notebook_runs import fill_cache, wait_for
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


# How long the build waits for a chapter still running on the other worker. A chapter
# that stalls is failed by its cell timeouts long before; past this, the build executes
# whatever is missing itself.
WAIT_FOR_CHAPTERS = 1800


@pytest.fixture(scope="module")
def chapter_runs(request) -> dict[str, Path]:
    """This session's executions of the chapters (tests/notebook_runs.py), by stem."""
    paths = {item.nodeid.split("::")[0] for item in request.session.items}
    chapters = sorted(Path(p).stem for p in paths if p.startswith("book/") and p.endswith(".ipynb"))
    runs, failed = wait_for(chapters, WAIT_FOR_CHAPTERS)
    assert not failed, f"the book cannot be built from chapters whose execution failed: {failed}"
    return runs


@pytest.fixture(scope="module")
def html(tmp_path_factory, chapter_runs) -> Path:
    """The book, built from this session's executions of the chapters: a chapter the
    suite ran is not executed again."""
    assert (ROOT / "_vendor" / "mathjax" / "tex-chtml.js").exists(), (
        "the book's JavaScript is missing: run `make vendor` (make test does)"
    )
    out = tmp_path_factory.mktemp("book")
    fill_cache(out / "_build" / ".jupyter_cache", chapter_runs, ROOT / "book")
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


def test_the_build_executes_no_chapter_the_suite_ran(html, chapter_runs):
    """myst-nb registers a notebook in the cache's project only to execute it."""
    from jupyter_cache import get_cache

    executed = get_cache(str(html.parent / ".jupyter_cache")).list_project_records()
    assert not {Path(record.uri).stem for record in executed} & set(chapter_runs)


def test_pages_serve_explorers_and_math_locally(html):
    page = (html / "book" / "01-convolution.html").read_text()
    assert 'class="static-explorer"' in page  # precomputed: no kernel behind the page
    assert "_static/mathjax/tex-chtml.js" in page
    for path in sorted((html / "book").glob("*.html")):
        text = path.read_text()
        # nothing is fetched from outside (thebe names a URL but loads it only on request)
        assert not re.findall(r'<script[^>]+src="https?://', text), path.name
        assert not re.findall(r'<link[^>]+href="https?://[^"]+\.css', text), path.name
        if "widget-state" in text:  # a live widget left in a chapter: served by the book
            assert "_static/require.js" in text and "_static/ipywidgets/embed-amd.js" in text
        # a widget shown without its state (e.g. a progress bar) is dead markup on the page
        assert "widget-view+json" not in text or "widget-state" in text, path.name
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


SCREENSHOTS = ROOT / "_build" / "screenshots"


def test_every_page_reads_well_in_a_real_browser(html, browser):
    """Served locally, every page loads without a console error, a failed request or a
    request leaving the machine; MathJax typesets every formula; every image loads; no
    code line is clipped at the right edge; every control of every explorer changes its
    figure with no kernel behind the page. Pictures of the explorers go to SCREENSHOTS."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems, explorers = {}, {}
    with serve(html) as base:
        for path in pages(html):
            report = visit(browser, base, path, SCREENSHOTS)
            explorers[path] = report.explorers
            found = {k: v for k, v in vars(report).items() if v and k != "explorers"}
            if found:
                problems[path] = found
    assert len(pages(html)) > 12
    assert not problems, problems
    modules = (ROOT / "cnnbook" / "widgets").glob("*.py")
    wired = sum(len(re.findall(r"(?<!def )\bwire\(", m.read_text())) for m in modules)
    assert sum(explorers.values()) >= wired, "an explorer is not precomputed on its page"


def test_precomputed_explorers_stay_within_the_page_budget(html):
    """Each explorer adds at most 2 MB to its page (cnnbook.widgets.static enforces 1 MB
    per explorer at build time; this checks what the pages hold)."""
    for page in sorted((html / "book").glob("*.html")):
        fragments = re.findall(r'<div class="static-explorer".*?</script></div>', page.read_text(),
                               flags=re.S)  # fmt: skip
        assert sum(map(len, fragments)) <= 2_000_000, page.name


def test_the_execution_report_lists_every_notebook_of_this_build(html):
    """Generated at build time, not typed: the build's device and versions, and a row per
    executed notebook with its time and status; the introduction links to it."""
    page = (html / "book" / "execution-report.html").read_text()
    assert "Built on " in page and "the chapters executed on " in page
    for chapter in sorted((ROOT / "book").glob("[0-9][0-9]-*.ipynb")):
        row = re.search(rf"<tr[^>]*>\s*<td[^>]*>.*?{chapter.stem}.*?</tr>", page, flags=re.S)
        assert row and "✅" in row[0], f"{chapter.stem} has no passing row"
    assert "execution-report.html" in (html / "book" / "intro.html").read_text()


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
