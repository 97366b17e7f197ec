"""The glossary (English–Korean): its entries, its Korean index, and its links from the
chapters.

`book/glossary.md` holds one Sphinx glossary, sorted A–Z by its first English term, in
which every entry names its English terms and then its Korean ones, one per line. Below
it, the Korean index (가나다 order) points each Korean term back to its entry. Every
chapter links the first use of each term on its page to the entry with MyST's `{term}`
role. `python tools/glossary.py` rewrites the index and adds the links that are missing;
`tests/test_glossary.py` fails when either is out of date.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "book" / "glossary.md"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
INDEX_START = "## 가나다 색인 (Korean index)"

# What prose is not: code, roles (a link, a citation, a glued number), math, Markdown
# links and raw HTML. A term inside one of these is not linked.
PROTECTED = re.compile(
    r"```.*?```"  # fenced blocks
    r"|`[^`\n]*`"  # code spans, and the body of a role
    r"|\{[\w:-]+\}`[^`]*`"  # roles: {term}`...`, {cite}`...`, {glue:text}`...`
    r"|\$\$.*?\$\$|\$[^$\n]+\$"  # math
    r"|!?\[[^\]]*\]\([^)]*\)"  # Markdown links and images
    r"|<[^>\n]+>"  # HTML tags
    r"|https?://\S+",
    flags=re.S,
)


@dataclass
class Entry:
    """One glossary entry: its English terms (the first is the one chapters link to),
    its Korean terms and its definition."""

    english: list[str]
    korean: list[str]
    definition: str

    @property
    def key(self) -> str:
        return self.english[0]


def _block(text: str) -> str:
    start = text.index("```{glossary}")
    body_start = text.index("\n", start) + 1
    return text[body_start : text.index("\n```", body_start)]


def entries(text: str | None = None) -> list[Entry]:
    """The entries of the glossary page, in page order."""
    body = _block(GLOSSARY.read_text() if text is None else text)
    result: list[Entry] = []
    terms: list[str] = []
    definition: list[str] = []
    for line in body.splitlines():
        if line.startswith(":"):  # an option of the directive, such as :sorted:
            continue
        if not line.strip():
            if definition:
                definition.append("")
            continue
        if line.startswith("  "):
            definition.append(line[2:])
            continue
        if definition:
            result.append(_entry(terms, definition))
            terms, definition = [], []
        terms.append(line.strip())
    if terms:
        result.append(_entry(terms, definition))
    return result


def _entry(terms: list[str], definition: list[str]) -> Entry:
    korean = [t for t in terms if HANGUL.search(t)]
    english = [t for t in terms if not HANGUL.search(t)]
    return Entry(english, korean, "\n".join(definition).strip())


def sort_key(term: str) -> str:
    """A–Z by the words, "1x1 convolution" under c."""
    return re.sub(r"^\d+x\d+\s*", "", term).lower()


def korean_index(glossary: list[Entry]) -> str:
    """The Korean terms in 가나다 order (Unicode order of the syllables), each pointing
    to its entry."""
    rows = sorted((k, e.key) for e in glossary for k in e.korean)
    lines = [INDEX_START, ""]
    lines += [f"- {korean}: {{term}}`{key}`" for korean, key in rows]
    return "\n".join(lines) + "\n"


def page_with_index(text: str) -> str:
    """The glossary page with its Korean index rebuilt from its entries."""
    head = text.split(INDEX_START)[0].rstrip() + "\n\n"
    return head + korean_index(entries(text))


# Linking the chapters


def _terms(glossary: list[Entry]) -> list[tuple[str, str]]:
    """(English term, entry key), longest first: "transposed convolution" claims its
    words before "convolution" can."""
    pairs = [(term, e.key) for e in glossary for term in e.english]
    return sorted(pairs, key=lambda pair: -len(pair[0]))


def _pattern(term: str) -> re.Pattern:
    """The term as a word, any case for its lower-case letters, with a plural ending."""
    words = [re.escape(w) for w in term.split()]
    body = r"\s+".join(words)
    flags = 0 if any(c.isupper() for c in term) else re.I
    return re.compile(rf"(?<![\w-]){body}(?:s|es)?(?![\w-])", flags)


def _protected_spans(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in PROTECTED.finditer(text)]
    offset = 0
    for line in text.splitlines(keepends=True):  # headings and directive lines
        if line.lstrip().startswith(("#", ":", "```")):
            spans.append((offset, offset + len(line)))
        offset += len(line)
    return spans


def _inside(position: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(start < position[1] and position[0] < end for start, end in spans)


def first_uses(cells: list[str], glossary: list[Entry]) -> dict[str, tuple[int, int, int]]:
    """key -> (cell, start, end) of the first use of each entry's terms on a page,
    counting uses already linked with {term} (which are protected, so they are found
    through their target)."""
    found: dict[str, tuple[int, int, int]] = {}
    claimed: dict[int, list[tuple[int, int]]] = {}
    for term, key in _terms(glossary):
        pattern = _pattern(term)
        for index, text in enumerate(cells):
            target = re.escape(key)
            linked = re.search(rf"\{{term\}}`[^`<]*<{target}>`|\{{term\}}`{target}`", text)
            spans = _protected_spans(text) + claimed.get(index, [])
            plain = next((m for m in pattern.finditer(text) if not _inside(m.span(), spans)), None)
            hits = [m for m in (linked, plain) if m]
            if not hits:
                continue
            first = min(hits, key=lambda m: m.start())
            place = (index, *first.span())
            if key not in found or place < found[key]:
                found[key] = place
            break
        for index, text in enumerate(cells):  # every use of a longer term is taken
            claimed.setdefault(index, []).extend(m.span() for m in pattern.finditer(text))
    return found


def link(cells: list[str], glossary: list[Entry]) -> list[str]:
    """The cells with each entry's first use wrapped in a {term} role."""
    uses = first_uses(cells, glossary)
    cells = list(cells)
    for key, (index, start, end) in sorted(uses.items(), key=lambda kv: -kv[1][2]):
        text = cells[index]
        words = text[start:end]
        if words.startswith("{term}"):
            continue
        role = f"{{term}}`{words}`" if words == key else f"{{term}}`{words} <{key}>`"
        cells[index] = text[:start] + role + text[end:]
    return cells


def unlinked(cells: list[str], glossary: list[Entry]) -> list[str]:
    """The first uses on a page that are not links: what `link` would add."""
    return [
        cells[index][start:end]
        for index, start, end in first_uses(cells, glossary).values()
        if not cells[index][start:end].startswith("{term}")
    ]


def chapters() -> list[Path]:
    return sorted((ROOT / "book").glob("[0-9][0-9]-*.ipynb"))


def main() -> int:
    text = GLOSSARY.read_text()
    GLOSSARY.write_text(page_with_index(text))
    glossary = entries()
    for path in chapters():
        nb = nbformat.read(path, as_version=4)
        markdown = [c for c in nb.cells if c.cell_type == "markdown"]
        linked = link([c.source for c in markdown], glossary)
        if linked != [c.source for c in markdown]:
            for cell, source in zip(markdown, linked, strict=True):
                cell.source = source
            nbformat.write(nb, path)
            print(f"{path.name}: linked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
