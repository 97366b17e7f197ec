"""Print the book to one PDF, offline: the single-page HTML build in the system Chromium.

`make pdf` builds the book with Sphinx's `singlehtml` builder (the notebooks come from
the execution cache the HTML build filled), then this script serves that page locally,
waits until MathJax has typeset every formula, and prints it to A4 with the figures'
colours. The PDF lands next to the HTML site, where the introduction links it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chromium import CHROMIUM, FLAGS, serve

# Printing hides the page's navigation and shows every hidden cell's output as it is.
PRINT_CSS = """
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer, .header-article,
.prev-next-area, .static-explorer-controls, .static-explorer-note { display: none !important; }
.bd-main .bd-content .bd-article-container { max-width: 100% !important; }
div.cell div.cell_input pre, div.cell div.cell_output pre { font-size: 0.7em !important; }
"""


# Images below the fold load lazily, which a printout never triggers: load them all.
LOAD_EVERY_IMAGE = """() => Promise.all([...document.images].map((image) => {
  image.loading = "eager";
  return image.complete ? true : image.decode().catch(() => true);
}))"""


def print_pdf(folder: Path, page: str, out: Path, browser) -> int:
    """Print `folder/page` to `out` in a Playwright `browser`; returns the number of
    pages printed.

    The single page's links are written relative to the build's root even when the
    page itself lies in a subfolder (`book/intro.html`), so it is served from the root."""
    served = folder / "print.html"
    served.write_bytes((folder / page).read_bytes())
    tab = browser.new_page()
    # The whole book is one page of hundreds of figures and formulas: on a busy 2-core
    # machine it takes longer than Playwright's 30 s default to settle (a suite run failed
    # on that once). A page that never settles still fails, after five minutes.
    tab.set_default_timeout(300_000)
    try:
        with serve(folder) as base:
            tab.goto(f"{base}/{served.name}", wait_until="load")
            tab.evaluate(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
                " ? MathJax.startup.promise.then(() => true) : true"
            )
            tab.wait_for_load_state("networkidle")
            tab.add_style_tag(content=PRINT_CSS)
            tab.evaluate(LOAD_EVERY_IMAGE)
            margins = {"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"}
            pdf = tab.pdf(format="A4", print_background=True, margin=margins)
    finally:
        tab.close()
        served.unlink()
    out.write_bytes(pdf)
    return pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page>") + pdf.count(b"/Type /Page ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the singlehtml build")
    parser.add_argument("out", type=Path, help="the PDF to write")
    parser.add_argument("--page", default="book/intro.html", help="the book's first page")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        pages = print_pdf(args.folder, args.page, args.out, browser)
        browser.close()
    print(f"wrote {args.out} ({pages} pages, {args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
