"""One citation style in the text and in the list: author and year.

The chapters cite "He et al., 2016"; pybtex's styles label the bibliography with keys
such as [HZRS16] or [CvMerrienboerG+14] instead. This style labels each entry as the text
cites it (one author, two joined by "and", three or more as "et al."), with a, b, ...
where one label would name two papers, and sorts the list by author, year and title.
"""

from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as Plain
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting.author_year_title import SortingStyle

NAME = "author_year"


def _surname(person) -> str:
    return Text(*person.rich_prelast_names, " " if person.rich_prelast_names else "",
                *person.rich_last_names).render_as("text").strip()  # fmt: skip


def author_year(entry) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in people]
    if len(names) > 2:
        who = f"{names[0]} et al."
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = names[0] if names else entry.fields.get("title", "?")
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year(e) for e in entries]
        total, seen = Counter(labels), Counter()
        for label in labels:
            if total[label] > 1:
                seen[label] += 1
                yield f"{label}{'abcdefghij'[seen[label] - 1]}"
            else:
                yield label


class AuthorYearStyle(Plain):
    default_label_style = AuthorYearLabels
    default_sorting_style = SortingStyle


def setup(app):
    register_plugin("pybtex.style.formatting", NAME, AuthorYearStyle, force=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
