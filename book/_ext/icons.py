"""The theme's icons without Font Awesome's 1.5 MB script.

pydata-sphinx-theme loads Font Awesome's SVG-with-JavaScript build on every page (542 KB
compressed, plus 274 KB of web fonts it pulls in) to draw about 18 icons. After the
build, this extension writes `_static/icons.css`, one CSS mask per icon the pages use,
drawn from the same Font Awesome paths (Font Awesome Free, CC BY 4.0), and takes the
script out of every page. A page then weighs what its own content weighs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

SCRIPT = re.compile(r'\s*<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>')
CLASSES = re.compile(r'class="([^"]*)"')
# The class that names an icon's style, and the pack Font Awesome defines it in.
PACKS = {"fa-solid": "fas", "fas": "fas", "fa-brands": "fab", "fab": "fab",
         "fa-regular": "far", "far": "far"}  # fmt: skip
NOT_ICONS = {"fa-lg", "fa-sm", "fa-xs", "fa-fw", "fa-2x", "fa-3x", *PACKS}
# "name":[width,height,[aliases],"unicode","path"] (a name that is a valid JavaScript
# identifier goes unquoted)
ICON = re.compile(
    r'(?:"([a-z0-9-]+)"|([a-z0-9]+)):\[(\d+),(\d+),(\[[^\]]*\]),"[0-9a-f]+","([^"]*)"\]'
)
CSS = "icons.css"
# The theme draws an admonition's title icon with the icon font too: its glyph per kind.
ADMONITIONS = {"": "bell", "note": "info-circle", "attention": "exclamation-circle",
               "caution": "exclamation-triangle", "warning": "exclamation-triangle",
               "danger": "exclamation-triangle", "error": "times-circle", "hint": "lightbulb",
               "tip": "lightbulb", "important": "exclamation-circle", "seealso": "share",
               "admonition-todo": "pencil"}  # fmt: skip


def icon_paths(script: str) -> dict[tuple[str, str], tuple[int, int, str]]:
    """(pack, name) -> (width, height, SVG path) for every icon the script defines,
    aliases included. Each pack's icons precede the call that registers them,
    `d("fab",p)`, so the text up to that call, after the previous one, is the pack."""
    icons: dict[tuple[str, str], tuple[int, int, str]] = {}
    start = 0
    for call in re.finditer(r'd\("(fa[bsr])",p\)', script):
        for quoted, bare, width, height, aliases, path in ICON.findall(script, start, call.start()):
            shape = (int(width), int(height), path)
            for name in [quoted or bare, *(a for a in json.loads(aliases) if isinstance(a, str))]:
                icons.setdefault((call[1], name), shape)
        start = call.end()
    return icons


def icon_css(used: set[tuple[str, str]], paths: dict[tuple[str, str], tuple[int, int, str]]) -> str:
    """A rule per icon: an inline box as wide as the glyph, painted in the text colour
    through the icon's shape."""
    marked = ", ".join(f".{style}::before" for style in PACKS)
    rules = [
        "/* Icons from Font Awesome Free (https://fontawesome.com, CC BY 4.0), as masks. */",
        f"{marked} {{ content: ''; display: inline-block; height: 1em;"
        " vertical-align: -0.125em; background-color: currentColor; }",
        ".fa-lg { font-size: 1.25em; }",
        # the theme's own CSS sets the icon font on these, and a box set in a font makes
        # the browser fetch it, even with nothing to draw
        f"{', '.join(f'.{style}' for style in PACKS)} {{ font-family: inherit !important; }}",
    ]
    for pack, name in sorted(used):
        width, height, _ = paths[pack, name]
        selector = ", ".join(f".{style}.fa-{name}::before" for style, p in PACKS.items()
                             if p == pack)  # fmt: skip
        rules.append(f"{selector} {{ width: {width / height:.4f}em; {_mask(paths[pack, name])} }}")
    title = "div.admonition{} > .admonition-title::after"
    rules.append(f"{title.format('')} {{ font-family: inherit !important; content: '' !important;"
                 " background-color: currentColor; }")  # fmt: skip
    for kind, name in ADMONITIONS.items():
        selector = title.format(f".{kind}" if kind else "")
        rules.append(f"{selector} {{ {_mask(paths['fas', name])} }}")
    return "\n".join(rules) + "\n"


def _mask(shape: tuple[int, int, str]) -> str:
    width, height, path = shape
    svg = f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}'>" \
          f"<path d='{path}'/></svg>"  # fmt: skip
    mask = f'url("data:image/svg+xml,{quote(svg)}") center / contain no-repeat'
    return f"-webkit-mask: {mask}; mask: {mask};"


def icons_used(html: str) -> set[tuple[str, str]]:
    """(pack, name) of every icon element in a page."""
    used = set()
    for classes in CLASSES.findall(html):
        tokens = classes.split()
        packs = {PACKS[t] for t in tokens if t in PACKS}
        names = {t[3:] for t in tokens if t.startswith("fa-") and t not in NOT_ICONS}
        used |= {(pack, name) for pack in packs for name in names}
    return used


def replace_font_awesome(app, exception) -> None:
    if exception or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    paths = icon_paths((outdir / "_static" / "scripts" / "fontawesome.js").read_text())
    used: set[tuple[str, str]] = set()
    for page in outdir.rglob("*.html"):
        text = page.read_text()
        stripped = SCRIPT.sub("", text)
        if stripped != text:
            page.write_text(stripped)
        used |= icons_used(stripped)
    missing = used - set(paths)
    if missing:
        raise RuntimeError(f"icons the pages use but Font Awesome does not define: {missing}")
    (outdir / "_static" / CSS).write_text(icon_css(used, paths))


def setup(app):
    app.add_css_file(CSS)
    app.connect("build-finished", replace_font_awesome)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
