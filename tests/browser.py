"""The built book in a real browser: Playwright driving the system Chromium over a local
HTTP server, with every request that would leave the machine blocked and recorded."""

from __future__ import annotations

import functools
import gzip
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from chromium import CHROMIUM, FLAGS, serve

__all__ = ["CHROMIUM", "FLAGS", "chromium_or_skip", "pages", "serve", "visit"]

# Which code cells overflow their box, and which formulas MathJax left untypeset.
PAGE_CHECKS = """() => ({
  overflowing: [...document.querySelectorAll('div.cell_input pre, div.highlight pre')]
    .filter((pre) => pre.scrollWidth > pre.clientWidth + 1)
    .map((pre) => pre.textContent.split('\\n').find((l) => l.length > 80) || pre.textContent.slice(0, 80)),
  untypeset: [...document.querySelectorAll('span.math, div.math')]
    .filter((el) => !el.querySelector('mjx-container'))
    .map((el) => el.textContent.slice(0, 60)),
  broken_images: [...document.images]
    .filter((img) => !img.complete || img.naturalWidth === 0)
    .map((img) => img.src.slice(0, 80)),
  search_boxes: [...document.querySelectorAll('.search-button-field')]
    .filter((field) => field.offsetParent !== null).length,
})"""


# Every figure's smallest text as shown (its height in the image, `data-text-px`, scaled
# by the width the image is displayed at), with the figures that carry no measure; images
# load eagerly first, since a lazy one below the fold has no size yet.
FIGURE_TEXT_CHECKS = """async (minimum) => {
  const figures = [...document.querySelectorAll('div.cell_output img, .static-explorer img')];
  for (const image of figures) {
    image.loading = 'eager';
    try { await image.decode(); } catch (error) { /* a broken image is reported elsewhere */ }
  }
  const name = (image) => image.getAttribute('src').split('/').pop().slice(0, 40);
  const shown = figures.filter((image) => image.naturalWidth > 0 && image.clientWidth > 0);
  return {
    small: shown.filter((image) => image.dataset.textPx)
      .map((image) => [name(image), image.dataset.textPx * image.clientWidth / image.naturalWidth])
      .filter(([, px]) => px < minimum)
      .map(([file, px]) => `${file}: ${px.toFixed(1)} px`),
    unmeasured: shown.filter((image) => !image.dataset.textPx).map(name),
  };
}"""
MIN_TEXT_PX = 9  # the smallest figure text a reader can read, in CSS pixels


@dataclass
class PageReport:
    """What a page did in the browser that a reader would notice or a server would see."""

    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    overflowing: list[str] = field(default_factory=list)
    untypeset: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    extra_search_boxes: int = 0  # search fields shown beyond the first
    phone_overflow: int = 0  # pixels the page scrolls sideways at a phone's width
    dead_controls: list[str] = field(default_factory=list)
    small_figure_text: list[str] = field(default_factory=list)  # desktop: "file: px"
    small_figure_text_phone: list[str] = field(default_factory=list)
    unmeasured_figures: list[str] = field(default_factory=list)  # no text size recorded
    explorers: int = 0
    transferred: int = 0  # bytes of every local response, gzip-compressed as Pages serves them


# Move every control of every precomputed explorer to another value, wait for the figure
# it asks for (the page loads figures as they are needed), and report the controls after
# which the figure did not change or did not load.
EXPLORER_CHECKS = """async () => {
  const dead = [];
  for (const [n, root] of [...document.querySelectorAll('.static-explorer')].entries()) {
    const image = root.querySelector('img');
    for (const input of root.querySelectorAll('[data-index]')) {
      const before = image.src;
      const options = input.tagName === 'SELECT' ? input.options.length : Number(input.max) + 1;
      input.value = String((Number(input.value) + 1) % options);
      input.dispatchEvent(new Event('input'));
      try { await image.decode(); } catch (error) { /* reported below */ }
      if (image.src === before || !image.complete || image.naturalWidth === 0) {
        dead.push(`explorer ${n}: ${input.id}`);
      }
    }
  }
  return dead;
}"""


def chromium_or_skip() -> str:
    """The system Chromium; its absence fails in CI and skips elsewhere (`make test`
    installs it when run as root with apt)."""
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    why = "no Chromium at /usr/bin/chromium (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI requires the browser tests; {why}")
    pytest.skip(why)


def pages(html: Path) -> list[str]:
    """Every page of the built book a reader can land on (redirects left out)."""
    return sorted(
        str(p.relative_to(html))
        for p in html.rglob("*.html")
        if "_static" not in p.parts and 'http-equiv="Refresh"' not in p.read_text()
    )


PHONE = {"width": 390, "height": 844}  # an iPhone 12 to 14, in CSS pixels
MATHJAX_DONE = (
    "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
    " ? MathJax.startup.promise.then(() => true) : true"
)


@functools.cache
def gzipped_size(path: Path) -> int:
    """What a file weighs on the wire from a server that compresses (GitHub Pages does)."""
    return len(gzip.compress(path.read_bytes(), compresslevel=6))


def visit(
    browser, base: str, path: str, screenshots: Path | None = None, root: Path | None = None
) -> PageReport:
    """Load one page, wait until MathJax has finished, and report what went wrong; move
    the controls of its explorers, after saving a picture of each in `screenshots`, with
    the page's top on a desktop and on a phone. With `root` (the served folder), also
    weigh everything the page loaded."""
    report = PageReport()
    page = browser.new_page(viewport={"width": 1280, "height": 1800})
    loaded: set[str] = set()
    page.on("requestfinished", lambda r: r.url.startswith(base) and loaded.add(r.url))

    def route(request_route):
        url = request_route.request.url
        if url.startswith(base) or url.startswith("data:") or url.startswith("blob:"):
            request_route.continue_()
        else:
            report.outside_requests.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and report.console_errors.append(m.text))
    page.on("pageerror", lambda e: report.console_errors.append(str(e)))
    page.on(
        "requestfailed",
        lambda r: r.url.startswith(base) and report.failed_requests.append(r.url),
    )
    page.on(
        "response",
        lambda r: r.status >= 400 and report.failed_requests.append(f"{r.status} {r.url}"),
    )
    page.goto(f"{base}/{path}", wait_until="load")
    page.evaluate(MATHJAX_DONE)
    page.wait_for_load_state("networkidle")
    found = page.evaluate(PAGE_CHECKS)
    report.overflowing = found["overflowing"]
    report.untypeset = found["untypeset"]
    report.broken_images = found["broken_images"]
    report.extra_search_boxes = max(found["search_boxes"] - 1, 0)
    text = page.evaluate(FIGURE_TEXT_CHECKS, MIN_TEXT_PX)
    report.small_figure_text, report.unmeasured_figures = text["small"], text["unmeasured"]
    explorers = page.locator(".static-explorer")
    report.explorers = explorers.count()
    for n in range(report.explorers if screenshots else 0):
        name = path.removesuffix(".html").replace("/", "-")
        explorers.nth(n).screenshot(path=str(screenshots / f"{name}-explorer-{n}.png"))
    report.dead_controls = page.evaluate(EXPLORER_CHECKS)
    if screenshots:
        name = path.removesuffix(".html").replace("/", "-")
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(screenshots / f"{name}-desktop.png"))
    page.close()
    phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    phone.route("**/*", route)
    phone.goto(f"{base}/{path}", wait_until="load")
    phone.evaluate(MATHJAX_DONE)
    phone.wait_for_load_state("networkidle")
    report.small_figure_text_phone = phone.evaluate(FIGURE_TEXT_CHECKS, MIN_TEXT_PX)["small"]
    report.phone_overflow = phone.evaluate(
        "() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth)"
    )
    if screenshots:
        phone.screenshot(path=str(screenshots / f"{name}-phone.png"))
    phone.close()
    if root is not None:
        files = {root / url.removeprefix(base).split("?")[0].split("#")[0].lstrip("/")
                 for url in loaded}  # fmt: skip
        report.transferred = sum(gzipped_size(f) for f in files if f.is_file())
    return report
