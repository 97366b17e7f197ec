"""The course plan is drawn from the pages, the recorded runs and the grader, and covers
every chapter page and every exercise notebook exactly once."""

import sys

import yaml

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import course_plan


def test_the_page_in_the_book_is_drawn_from_the_measurements():
    assert course_plan.PAGE.read_text() == course_plan.render(), "run python tools/course_plan.py"


def _toc_files(node) -> list[str]:
    if isinstance(node, dict):
        own = [node["file"]] if "file" in node else []
        return own + [f for value in node.values() for f in _toc_files(value)]
    if isinstance(node, list):
        return [f for item in node for f in _toc_files(item)]
    return []


def test_every_chapter_page_and_exercise_notebook_has_its_week():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    chapters = [f.removeprefix("book/") for f in _toc_files(toc) if f[5:7].isdigit()]
    scheduled = [stem for _, _, stems, _ in course_plan.WEEKS for stem in stems]
    assert sorted(scheduled) == sorted(chapters) and len(set(scheduled)) == len(scheduled)
    due = [d for *_, d in course_plan.WEEKS if d]
    assert sorted(due) == sorted(p.stem for p in (ROOT / "exercises").glob("*.ipynb"))
    assert [w for w, *_ in course_plan.WEEKS] == list(range(1, 13))


def test_reading_time_counts_prose_and_code(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(" ".join(["word"] * 400)),
        nbformat.v4.new_code_cell("x = 1\n\ny = 2\n" * 10),
    ])  # fmt: skip
    nbformat.write(nb, tmp_path / "page.ipynb")
    assert course_plan.reading_minutes(tmp_path / "page.ipynb") == 2 + 2
