"""A Sphinx role that links a repository notebook to Colab: {colab}`exercises/01-x.ipynb`.

The URL is built from `repository.url` and `repository.branch` in `_config.yml`, so the
chapters never spell out the repository themselves.
"""

from __future__ import annotations

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


def setup(app):
    app.add_role("colab", colab_role)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
