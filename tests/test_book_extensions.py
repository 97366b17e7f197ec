"""The book's Sphinx extensions, unit by unit: icons without Font Awesome's script,
figures as lossless WebP, failures stated in words, the grader's outputs rendered."""

import sys
from types import SimpleNamespace

import numpy as np
from PIL import Image, PngImagePlugin

from cnnbook.figure_text import TEXT_KEY
from conftest import ROOT

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import execution_status
import icons
import light_images

SCRIPT = (
    'var p={github:[496,512,[],"f09b","M1 2z"],"square-github":[448,512,["github-square"],'
    '"f092","M3 4z"]};d("fab",p)},function(){var p={file:[384,512,[128459],"f15b","M5 6z"]};'
    'd("far",p)},function(){var p={file:[384,512,[128196],"f15b","M7 8z"],'
    '"magnifying-glass":[512,512,[128269,"search"],"f002","M9 9z"]};d("fas",p)'
)


def test_icons_are_read_per_pack_with_their_aliases():
    paths = icons.icon_paths(SCRIPT)
    assert paths["fab", "github"] == (496, 512, "M1 2z")
    assert paths["fab", "github-square"] == paths["fab", "square-github"]
    assert paths["far", "file"][2] == "M5 6z" and paths["fas", "file"][2] == "M7 8z"
    assert paths["fas", "search"] == paths["fas", "magnifying-glass"]


def test_a_page_s_icons_become_masks_in_the_text_colour():
    used = icons.icons_used(
        '<i class="fa-solid fa-magnifying-glass fa-lg"></i><i class="fab fa-github"></i>'
        '<span class="fa-bars"></span>'  # no style class: not an icon element
    )
    assert used == {("fas", "magnifying-glass"), ("fab", "github")}
    paths = icons.icon_paths(SCRIPT)
    paths.update({("fas", name): (512, 512, "M0 0z") for name in set(icons.ADMONITIONS.values())})
    css = icons.icon_css(used, paths)
    assert ".fa-brands.fa-github::before, .fab.fa-github::before { width: 0.9688em;" in css
    assert "font-family: inherit !important" in css and "mask: url(" in css
    assert "div.admonition.note > .admonition-title::after" in css


def test_figures_become_lossless_webp_with_the_same_pixels(tmp_path):
    images, pages = tmp_path / "_images", tmp_path / "book"
    images.mkdir()
    pages.mkdir()
    smooth = np.linspace(0, 255, 200 * 300 * 3).reshape(200, 300, 3).astype(np.uint8)
    text_chunk = PngImagePlugin.PngInfo()
    text_chunk.add_text(TEXT_KEY, "12.50")
    Image.fromarray(smooth).save(images / "plot.png", pnginfo=text_chunk)
    page = pages / "p.html"
    page.write_text('<img src="../_images/plot.png"><img src="../_images/other.png">')

    class App:
        outdir = str(tmp_path)

        class builder:  # noqa: N801
            format = "html"

    light_images.lighten_figures(App(), None)
    webp = images / "plot.webp"
    assert webp.stat().st_size < (images / "plot.png").stat().st_size
    with Image.open(webp) as a, Image.open(images / "plot.png") as b:
        assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))
    text = page.read_text()
    assert '<img data-text-px="12.50" src="../_images/plot.webp">' in text
    assert 'src="../_images/other.png"' in text  # not a figure of this build: left alone


def test_a_failure_is_stated_by_its_error_and_last_line():
    record = {"succeeded": False, "error": "CellExecutionError",
              "traceback": "Traceback\n\x1b[31mKeyboardInterrupt\x1b[39m: \n\n"}  # fmt: skip
    assert execution_status.reason(record) == "CellExecutionError: KeyboardInterrupt:"
    assert execution_status.reason({"error": "CellTimeoutError"}) == "CellTimeoutError"


def test_the_gradebook_and_feedback_render_as_html(tmp_path):
    from cnnbook.grading.engine.display import feedback_html, gradebook_table

    (tmp_path / "grades.csv").write_text('student,total\n"<b>ann</b>",3\n')
    table = gradebook_table(tmp_path / "grades.csv")._repr_html_()
    assert "<th>student</th>" in table and "<td>&lt;b&gt;ann&lt;/b&gt;</td>" in table
    (tmp_path / "f.md").write_text("# Feedback: ann\n\n**3 / 12**\n\n## ✗ `conv`\n\n- why\n")
    feedback = feedback_html(tmp_path / "f.md")._repr_html_()
    assert "<h4>Feedback: ann</h4>" in feedback and "<strong>3 / 12</strong>" in feedback
    assert "<h5>✗ <code>conv</code></h5>" in feedback and "<li>why</li>" in feedback


def test_a_page_without_a_widget_view_loads_no_widget_embedder():
    from docutils import nodes
    from docutils.utils import new_document
    from page_scripts import WIDGET_VIEW, drop_unused_widget_state

    def page_with(raw_text):
        doctree = new_document("page")
        doctree += nodes.raw("", raw_text, format="html")

        files = {"ipywidgets_state": (None, {}), "ipywidgets_0": ("require.js", {}),
                 "other": ("x.js", {})}  # fmt: skip
        app = SimpleNamespace(env=SimpleNamespace(docname="page",
                                                  nb_metadata={"page": {"js_files": files}}))  # fmt: skip
        drop_unused_widget_state(app, doctree)
        return set(files)

    assert page_with('<div class="static-explorer"></div>') == {"other"}
    shown = f'<script type="{WIDGET_VIEW}">{{}}</script>'
    assert page_with(shown) == {"ipywidgets_state", "ipywidgets_0", "other"}
