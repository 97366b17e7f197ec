"""A failed execution never looks like content.

MyST-NB warns when a notebook fails to execute (the build, run with -W, then fails), but
it records the failure only in Sphinx's environment. The next build sees unchanged
sources, reads nothing, and exits 0 with the failed pages, tracebacks and empty second
halves, still in `_build/html`. Here a page whose last execution failed is read (so
executed) again on every build, and the build warns while any page still holds one.

The `execution-table` directive lists every executed page with its method, run time and
status, and states a failure's reason in the table (MyST-NB's own table hides it in a
tooltip behind an emoji some systems cannot draw).
"""

from __future__ import annotations

import posixpath
import re

from docutils import nodes
from myst_nb.sphinx_ import NbMetadataCollector
from sphinx.addnodes import pending_xref
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LOGGER = logging.getLogger(__name__)
HAS_TABLE = "has_execution_table"
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours of a terminal traceback


def executions(env) -> dict[str, dict]:
    """docname -> MyST-NB's record of its last execution, for every executed page."""
    return {
        docname: data["exec_data"]
        for docname, data in NbMetadataCollector.get_doc_data(env).items()
        if data.get("exec_data") and docname in env.found_docs
    }


def failures(env) -> dict[str, str]:
    """docname -> why its last execution failed."""
    return {
        docname: reason(record)
        for docname, record in executions(env).items()
        if not record.get("succeeded", True)
    }


def reason(record: dict) -> str:
    """The error's name and the traceback's last line, which says what went wrong."""
    text = ANSI.sub("", record.get("traceback") or "")
    lines = [line for line in text.splitlines() if line.strip()]
    last = lines[-1].strip() if lines else ""
    error = record.get("error") or "failed"
    return f"{error}: {last}"[:300] if last and last != error else error


def reread_failures(app, env, added, changed, removed) -> list[str]:
    return sorted(failures(env))


def fail_on_failures(app, env) -> None:
    for docname, why in sorted(failures(env).items()):
        LOGGER.warning(
            "%s holds a failed execution (%s); the build re-executes it next time",
            docname,
            why,
            type="cnnbook",
            subtype="execution",
        )


class ExecutionTableNode(nodes.General, nodes.Element):
    """Where the table goes, once every page has been read."""


class ExecutionTable(SphinxDirective):
    def run(self):
        NbMetadataCollector.set_doc_data(self.env, self.env.docname, HAS_TABLE, True)
        return [ExecutionTableNode()]


def pages_with_tables(app, env) -> list[str]:
    """Pages showing the table are rewritten whenever an execution is new."""
    if not NbMetadataCollector.new_exec_data(env):
        return []
    return [d for d, data in NbMetadataCollector.get_doc_data(env).items() if data.get(HAS_TABLE)]


def _cell(content) -> nodes.entry:
    paragraph = nodes.paragraph()
    paragraph += content if isinstance(content, nodes.Node) else nodes.Text(content)
    return nodes.entry("", paragraph)


def execution_table(env, parent: str) -> nodes.table:
    table = nodes.table(classes=["colwidths-auto", "execution-table"])
    group = nodes.tgroup(cols=4)
    table += group
    for _ in range(4):
        group += nodes.colspec(colwidth=25)
    head, body = nodes.thead(), nodes.tbody()
    group += head
    group += body
    row = nodes.row()
    for title in ("Page", "Method", "Run time (s)", "Status"):
        row += _cell(title)
    head += row
    failed = failures(env)
    for docname, record in sorted(executions(env).items()):
        link = pending_xref(refdoc=parent, reftype="doc", refdomain="std", refexplicit=True,
                            reftarget=posixpath.relpath(docname, posixpath.dirname(parent)),
                            refwarn=True, classes=["xref", "doc"])  # fmt: skip
        link += nodes.inline(text=docname)
        runtime = record.get("runtime")
        status = f"failed: {failed[docname]}" if docname in failed else "passed"
        row = nodes.row()
        for content in (link, str(record.get("method", "")),
                        "-" if runtime is None else f"{runtime:.1f}", status):  # fmt: skip
            row += _cell(content)
        body += row
    return table


class FillExecutionTables(SphinxPostTransform):
    default_priority = 8  # before the references are resolved

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(ExecutionTableNode)):
            node.replace_self(execution_table(self.env, self.env.docname))


def setup(app):
    app.add_node(ExecutionTableNode)
    app.add_directive("execution-table", ExecutionTable)
    app.add_post_transform(FillExecutionTables)
    app.connect("env-get-outdated", reread_failures)
    app.connect("env-updated", pages_with_tables)
    app.connect("env-check-consistency", fail_on_failures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
