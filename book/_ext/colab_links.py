"""A Sphinx role that links a repository notebook to Colab: {colab}`exercises/01-x.ipynb`.

The URL is built from `repository.url` and `repository.branch` in `_config.yml`, so the
chapters never spell out the repository themselves. Launch buttons are kept for pages
whose source is a notebook: Colab cannot open a MyST Markdown page, even one with code
cells (the instructors page).
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes

COLAB = "https://colab.research.google.com/github"


def colab_url(repository_url: str, branch: str, path: str) -> str:
    """The Colab address that opens `path` of a GitHub repository at `branch`."""
    owner_repo = repository_url.removeprefix("https://github.com/").strip("/")
    return f"{COLAB}/{owner_repo}/blob/{branch}/{path.lstrip('/')}"


def colab_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    theme = inliner.document.settings.env.config.html_theme_options
    url = colab_url(theme["repository_url"], theme.get("repository_branch", "main"), text)
    node = nodes.reference(rawtext, f"open {text.rsplit('/', 1)[-1]} in Colab", refuri=url)
    return [node], []


def launch_only_notebooks(app, pagename, templatename, context, doctree) -> None:
    if pagename not in app.env.all_docs or Path(app.env.doc2path(pagename)).suffix == ".ipynb":
        return
    buttons = context.get("header_buttons")
    if buttons:
        buttons[:] = [b for b in buttons if b.get("label") != "launch-buttons"]


def setup(app):
    app.add_role("colab", colab_role)
    # after sphinx-book-theme adds its launch buttons (priority 501)
    app.connect("html-page-context", launch_only_notebooks, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
