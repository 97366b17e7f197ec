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


def budget(path: str) -> int:
    """What a page may transfer, gzip-compressed: 2 MB, and 300 KB for the bibliography,
    a list of links that needs neither the widgets nor the figures' weight."""
    return 300_000 if path.endswith("bibliography.html") else 2_000_000


def test_every_page_reads_well_in_a_real_browser(html, browser):
    """Served locally, every page loads without a console error, a failed request or a
    request leaving the machine; MathJax typesets every formula; every image loads; no
    code line is clipped at the right edge; every control of every explorer changes its
    figure with no kernel behind the page; at a phone's width no page scrolls sideways.
    Pictures of every page (its top on a desktop and on a phone) and of every explorer go
    to SCREENSHOTS."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems, explorers, weights = {}, {}, {}
    with serve(html) as base:
        for path in pages(html):
            report = visit(browser, base, path, SCREENSHOTS, root=html)
            explorers[path], weights[path] = report.explorers, report.transferred
            found = {k: v for k, v in vars(report).items()
                     if v and k not in ("explorers", "transferred")}  # fmt: skip
            if found:
                problems[path] = found
    (SCREENSHOTS / "page-weights.txt").write_text(
        "".join(f"{weight / 1e6:6.2f} MB  {path}\n" for path, weight in sorted(weights.items()))
    )
    heavy = {p: w for p, w in weights.items() if w > budget(p)}
    assert not heavy, f"pages over their transfer budget (gzip bytes): {heavy}"
    assert len(pages(html)) > 12
    assert not problems, problems
    modules = (ROOT / "cnnbook" / "widgets").glob("*.py")
    wired = sum(len(re.findall(r"(?<!def )\bwire\(", m.read_text())) for m in modules)
    assert sum(explorers.values()) >= wired, "an explorer is not precomputed on its page"


def test_explorers_load_their_figures_from_the_site_as_needed(html):
    """An explorer's page holds its controls and the figures' addresses, not the figures:
    each is a lossless WebP file in the site, fetched when a control asks for it."""
    frames = html / "_static" / "explorer-frames"
    for page in sorted((html / "book").glob("*.html")):
        for fragment in re.findall(r'<div class="static-explorer".*?</script></div>',
                                   page.read_text(), flags=re.S):  # fmt: skip
            assert len(fragment) < 100_000 and "base64" not in fragment, page.name
            names = re.findall(r"_static/explorer-frames/([0-9a-f]+\.webp)", fragment)
            assert names, page.name
            for name in names:
                assert (frames / name).read_bytes()[8:12] == b"WEBP", name


def test_the_execution_report_lists_every_notebook_of_this_build(html):
    """Generated at build time, not typed: the build's device and versions, and a row per
    executed notebook with its time and status; the introduction links to it."""
    page = (html / "book" / "execution-report.html").read_text()
    assert "Built on " in page and "the chapters executed on " in page
    for chapter in sorted((ROOT / "book").glob("[0-9][0-9]-*.ipynb")):
        row = re.search(rf"<tr[^>]*>\s*<td[^>]*>.*?{chapter.stem}.*?</tr>", page, flags=re.S)
        assert row and "<p>passed</p>" in row[0], f"{chapter.stem} has no passing row"
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


def test_pages_draw_their_icons_without_font_awesome_s_script(html):
    css = (html / "_static" / "icons.css").read_text()
    for page in sorted(html.rglob("*.html")):
        text = page.read_text()
        assert "fontawesome.js" not in text, page.name
        if "<i class=" in text and "_static" not in page.parts:
            assert "_static/icons.css" in text, page.name
    assert ".fa-solid.fa-magnifying-glass::before" in css


def test_figures_are_served_as_lossless_webp(html):
    page = (html / "book" / "01-convolution.html").read_text()
    figures = re.findall(r'<img[^>]+src="\.\./_images/([^"]+)"', page)
    assert figures and all(name.endswith(".webp") for name in figures), figures


def test_the_instructors_page_renders_its_demo_and_offers_no_launch_button(html):
    """The gradebook as a table and the feedback as the student reads it; Colab cannot
    open a Markdown page, so the page has no launch button (the chapters keep theirs)."""
    page = (html / "book" / "instructors.html").read_text()
    table = re.search(r'<div class="grader-output"><table class="table">.*?</table>', page,
                      flags=re.S)  # fmt: skip
    assert table and "<th>student</th>" in table[0] and "<td>ana</td>" in table[0]
    assert "| student |" not in page and "| --- |" not in page
    feedback = re.search(r'<div class="grader-output feedback">(.*?)</div>', page, flags=re.S)
    assert feedback and "<h4>Feedback: ben</h4>" in feedback[1]
    assert "<strong>0 / 12</strong>" in feedback[1] and "**" not in feedback[1]
    assert "colab.research.google.com" not in page.split('<article')[0]
    assert "launch-buttons" not in page
    assert "launch-buttons" in (html / "book" / "01-convolution.html").read_text()


def test_the_bibliography_links_every_entry_and_labels_it_by_author_and_year(html):
    """Every entry links to its paper and carries the label the text cites it by (such as
    [He et al., 2016]), not a key such as [CvMerrienboerG+14]."""
    page = (html / "book" / "bibliography.html").read_text()
    entries = re.findall(r'<div class="citation" id="[^"]+" role="doc-biblioentry">(.*?)</div>',
                         page, flags=re.S)  # fmt: skip
    assert len(entries) >= 70
    labels = [re.sub(r"<[^>]+>", "", re.search(r'class="label">(.*?)</span>\s*<p', e, flags=re.S)[1])
              for e in entries]  # fmt: skip
    assert all(re.fullmatch(r"\[\S.*, (\d{4}[a-j]?)\]", label) for label in labels), labels
    assert "[He et al., 2016]" in labels and "[Kingma and Ba, 2015]" in labels
    unlinked = [label for label, e in zip(labels, entries, strict=True)
                if not re.search(r'<a class="reference external" href="https?://', e)]  # fmt: skip
    assert not unlinked


def test_the_whole_book_prints_to_one_pdf(html, browser):
    """`make pdf` on this session's build: the single-page HTML from the same execution
    cache (no notebook runs again), printed by Chromium with every formula typeset."""
    sys.path.insert(0, str(ROOT / "tools"))
    import print_pdf

    out = html.parent.parent
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--path-output", str(out), "-W", "-n",
         "--keep-going", "--builder", "custom", "--custom-builder", "singlehtml"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    single = out / "_build" / "singlehtml"
    text = (single / "book" / "intro.html").read_text()
    for title in ("1. Convolution", "9. Sequence models", "Course plan", "Bibliography"):
        assert title in text
    pdf = out / "cnn-course.pdf"
    pages = print_pdf.print_pdf(single, "book/intro.html", pdf, browser)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and pages > 150, pages
    figures = len(re.findall(r'<img[^>]+src="_images/', text))
    assert figures > 50 and data.count(b"/Subtype /Image") >= figures, "figures missing"
