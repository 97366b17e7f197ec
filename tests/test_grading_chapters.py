"""Every chapter's grader gives the solutions full marks and the blank exercises zero."""

import shutil

import pytest

from cnnbook.grading.engine.grader import grade_folder, load_chapter
from conftest import ROOT

CHAPTERS = sorted(p.stem for p in (ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", CHAPTERS)
def test_solutions_full_marks_blank_exercises_zero(notebook, tmp_path):
    chapter = notebook[:2]
    submissions = tmp_path / "in"
    submissions.mkdir()
    shutil.copy(ROOT / "solutions" / f"{notebook}.ipynb", submissions / f"solved_{notebook}.ipynb")
    shutil.copy(ROOT / "exercises" / f"{notebook}.ipynb", submissions / f"blank_{notebook}.ipynb")
    rows = {
        r["student"]: r
        for r in grade_folder(submissions, chapter, tmp_path / "out", jobs=2, log=lambda _: None)
    }
    full = sum(ex.points for ex in load_chapter(chapter).EXERCISES)
    assert rows["solved"]["total"] == full and rows["solved"]["status"] == "graded"
    assert rows["blank"]["total"] == 0
    feedback = (tmp_path / "out" / "feedback" / "blank.md").read_text()
    assert feedback.count("Not implemented") == len(load_chapter(chapter).EXERCISES)
