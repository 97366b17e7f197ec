"""Figures as lossless WebP: the same pixels in about half the bytes.

Matplotlib writes PNG, which compresses a plot's smooth colour maps and a photograph
poorly; lossless WebP keeps every pixel and is read by every current browser. After the
build, each figure in `_images` that WebP makes smaller gets a WebP copy, and the pages
point to it. The PNG stays, for anything that links it directly.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image


def webp_bytes(png: Path) -> bytes:
    with Image.open(png) as image:
        buffer = io.BytesIO()
        image.save(buffer, format="webp", lossless=True, method=6)
    return buffer.getvalue()


def lighten_figures(app, exception) -> None:
    if exception or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    renamed = {}
    for png in sorted((outdir / "_images").glob("*.png")):
        webp = webp_bytes(png)
        if len(webp) < png.stat().st_size:
            png.with_suffix(".webp").write_bytes(webp)
            renamed[f"_images/{png.name}"] = f"_images/{png.stem}.webp"
    if not renamed:
        return
    for page in outdir.rglob("*.html"):
        text = page.read_text()
        lighter = text
        for old, new in renamed.items():
            lighter = lighter.replace(f'src="{old}', f'src="{new}').replace(
                f'/{old}"', f'/{new}"'
            )
        if lighter != text:
            page.write_text(lighter)


def setup(app):
    app.connect("build-finished", lighten_figures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
