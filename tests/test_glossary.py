"""The glossary teaches: sorted, one Korean translation per term, a Korean index, every
term's first use on a chapter page linked to it, and fonts that draw Hangul."""

import sys
from collections import Counter

import nbformat
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import glossary

ENTRIES = glossary.entries()
# Terms with no Korean translation in use: the notes keep them in English.
ENGLISH_ONLY = {"dying ReLU", "im2col"}


def test_the_glossary_is_sorted_a_to_z():
    keys = [glossary.sort_key(e.key) for e in ENTRIES]
    assert keys == sorted(keys)


def test_every_entry_has_its_korean_and_each_translation_is_used_once():
    assert {e.key for e in ENTRIES if not e.korean} == ENGLISH_ONLY
    korean = Counter(k for e in ENTRIES for k in e.korean)
    assert not [k for k, n in korean.items() if n > 1]
    assert not any("그래디언트" in k for k in korean)  # gradient is 기울기 throughout


def test_the_core_terms_are_there():
    english = {t for e in ENTRIES for t in e.english}
    core = {"gradient descent", "SGD", "epoch", "optimizer", "softmax", "sigmoid", "tanh",
            "ReLU", "Adam", "mAP", "convolution", "backpropagation", "LSTM"}  # fmt: skip
    assert core <= english


def test_the_korean_index_is_up_to_date_and_in_ganada_order():
    text = glossary.GLOSSARY.read_text()
    assert text == glossary.page_with_index(text), "run python tools/glossary.py"
    index = text.split(glossary.INDEX_START)[1]
    korean = [line[2:].split(":")[0] for line in index.splitlines() if line.startswith("- ")]
    assert korean == sorted(korean) and len(korean) == sum(len(e.korean) for e in ENTRIES)
    hangul = [k for k in korean if "\uac00" <= k[0] <= "\ud7a3"]
    assert hangul[0].startswith("가") and hangul[-1].startswith("히")


@pytest.mark.parametrize("path", glossary.chapters(), ids=lambda p: p.stem)
def test_every_term_s_first_use_on_a_page_links_to_the_glossary(path):
    nb = nbformat.read(path, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert not glossary.unlinked(cells, ENTRIES), "run python tools/glossary.py"
    assert len(glossary.first_uses(cells, ENTRIES)) >= 10


def test_the_linker_finds_first_uses_outside_code_math_and_roles():
    cells = [
        "# Convolution\n\nA `convolution` and $convolution$ and {cite}`convolution`.",
        "Transposed convolutions upsample; a convolution does not. Kernels slide.",
    ]
    linked = glossary.link(cells, ENTRIES)
    assert linked[0] == cells[0]
    assert linked[1] == (
        "{term}`Transposed convolutions <transposed convolution>` upsample; a "
        "{term}`convolution` does not. {term}`Kernels <kernel>` slide."
    )
    assert glossary.unlinked(linked, ENTRIES) == []


def test_the_pages_name_fonts_that_draw_hangul():
    css = (ROOT / "book" / "_theme" / "course.css").read_text()
    for font in ("Apple SD Gothic Neo", "Malgun Gothic", "Noto Sans CJK KR"):
        assert f'"{font}"' in css
