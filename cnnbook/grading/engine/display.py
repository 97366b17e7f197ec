"""The grader's outputs as an instructor or a student sees them, for a notebook page.

The instructors page runs the grader and shows what it wrote. Printed, a gradebook is a
wall of commas and a feedback file is raw Markdown; rendered here, the CSV is a table
and the feedback reads as the student's Markdown viewer shows it. Both go out as HTML,
so that the feedback's headings stay inside the output instead of becoming sections of
the page around it.
"""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path

from markdown_it import MarkdownIt


class Html:
    """An HTML fragment that Jupyter (and MyST-NB) displays as HTML."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        return self.text


def gradebook_table(path: Path) -> Html:
    """`grades.csv` as a table, every cell escaped (names come from students)."""
    with open(path, newline="") as f:
        header, *rows = list(csv.reader(f))
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return Html(
        '<div class="grader-output"><table class="table">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def feedback_html(path: Path, shift: int = 3) -> Html:
    """A feedback file rendered from its Markdown, headings `shift` levels down so that
    they sit below the page's own (the grader already escaped the students' text)."""
    rendered = MarkdownIt("commonmark").render(Path(path).read_text())

    def lower(match: re.Match) -> str:
        level = min(int(match[2]) + shift, 6)
        return f"<{match[1]}h{level}"

    rendered = re.sub(r"<(/?)h([1-6])", lower, rendered)
    return Html(f'<div class="grader-output feedback">{rendered}</div>')
