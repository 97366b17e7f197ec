"""Keep every page's scripts free of console errors.

Three problems come from the theme stack, not from the book:

- sphinx-thebe and sphinx-togglebutton register their inline configuration scripts once
  per event, and Jupyter Book's build emits the event twice, so each page declared
  `const THEBE_JS_URL` twice (a SyntaxError). Identical scripts are dropped here.
- The ipywidgets embedder typesets widget labels with MathJax 2's `MathJax.Hub.Queue`,
  while the book serves MathJax 3. `widget-embedder.js`, placed just before the embedder,
  gives MathJax 3 that one method; the same script points the embedder at its fonts.
- The theme's colour-mode script reports an error when no default mode is configured.
  The book is light: its figures are drawn for a white page.

And one weight: a notebook that created widgets while it executed carries their state,
and MyST-NB then loads the 4 MB widget embedder on its page. The explorers are
precomputed (no widget is shown), so a page with no widget view left in its outputs
gets neither the state nor the embedder.
"""

from __future__ import annotations

from docutils import nodes

SHIM = "widget-embedder.js"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _filename(script) -> str:
    """A script's file, or "" for an inline one (whose body is among its attributes)."""
    return getattr(script, "filename", None) or ""


def _key(script) -> tuple:
    attributes = getattr(script, "attributes", {})
    return (_filename(script), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def tidy_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        if _key(script) not in seen:
            seen.add(_key(script))
            unique.append(script)
    embedder = next((i for i, s in enumerate(unique) if "embed-amd.js" in _filename(s)), None)
    if embedder is not None:
        shim = type(unique[embedder])(f"_static/{SHIM}")
        unique.insert(embedder, shim)
    scripts[:] = unique


def drop_unused_widget_state(app, doctree) -> None:
    from myst_nb.sphinx_ import NbMetadataCollector

    if any(WIDGET_VIEW in node.astext() for node in doctree.findall(nodes.raw)):
        return
    files = NbMetadataCollector.get_doc_data(app.env)[app.env.docname].get("js_files", {})
    for key in [k for k in files if k.startswith("ipywidgets")]:
        del files[key]


def light_by_default(app, config) -> None:
    config.html_context.setdefault("default_mode", "light")


def setup(app):
    app.connect("config-inited", light_by_default)
    app.connect("html-page-context", tidy_scripts, priority=900)
    app.connect("doctree-read", drop_unused_widget_state)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
