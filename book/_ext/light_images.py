"""Figures as lossless WebP: the same pixels in about half the bytes.

Matplotlib writes PNG, which compresses a plot's smooth colour maps and a photograph
poorly; lossless WebP keeps every pixel and is read by every current browser. After the
build, each figure in `_images` that WebP makes smaller gets a WebP copy, and the pages
point to it. The PNG stays, for anything that links it directly.

A figure's PNG may carry the height of its smallest text (`cnnbook.figure_text`); the
page's image gets it as `data-text-px`, which the browser test scales by the width the
image is shown at.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from PIL import Image

from cnnbook.figure_text import TEXT_KEY


def webp_bytes(png: Path) -> tuple[bytes, str | None]:
    """The PNG as lossless WebP, and the text height it carries (None if it carries none)."""
    with Image.open(png) as image:
        buffer = io.BytesIO()
        image.save(buffer, format="webp", lossless=True, method=6)
        text_px = image.text.get(TEXT_KEY)
    return buffer.getvalue(), text_px


def lighten_figures(app, exception) -> None:
    if exception or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    renamed, attributes = {}, {}
    for png in sorted((outdir / "_images").glob("*.png")):
        webp, text_px = webp_bytes(png)
        new = f"_images/{png.name}"
        if len(webp) < png.stat().st_size:
            png.with_suffix(".webp").write_bytes(webp)
            new = f"_images/{png.stem}.webp"
        renamed[f"_images/{png.name}"] = new
        attributes[new] = f'data-text-px="{text_px}" ' if text_px else ""
    for page in outdir.rglob("*.html"):
        text = page.read_text()
        lighter = text
        for old, new in renamed.items():
            # an <img> names its file after src="(../)*"; a link after a "/"
            lighter = re.sub(
                rf'src="((?:\.\./)*){re.escape(old)}"',
                lambda match, new=new: f'{attributes[new]}src="{match[1]}{new}"',
                lighter,
            ).replace(f'/{old}"', f'/{new}"')
        if lighter != text:
            page.write_text(lighter)


def setup(app):
    app.connect("build-finished", lighten_figures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
