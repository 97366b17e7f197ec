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
        for r in grade_folder(submissions, chapter, tmp_path / "out", jobs=1, log=lambda _: None)
    }
    full = sum(ex.points for ex in load_chapter(chapter).EXERCISES)
    assert rows["solved"]["total"] == full and rows["solved"]["status"] == "graded"
    assert rows["blank"]["total"] == 0
    feedback = (tmp_path / "out" / "feedback" / "blank.md").read_text()
    assert feedback.count("Not implemented") == len(load_chapter(chapter).EXERCISES)


def test_a_function_that_must_return_a_layer_is_judged_by_what_it_returns(tmp_path):
    """Chapter 7's `convolutionalize` returns a layer, which cannot travel as data: the
    grader's child runs it and reports its kind and output, and a wrong kind, a layer
    that fails, or a lambda all get a reason instead of a crash."""
    import nbformat

    from cnnbook.grading.engine.grader import grade_folder

    solutions = nbformat.read(ROOT / "solutions" / "07-segmentation.ipynb", as_version=4)
    wrong = {
        "linear": "def convolutionalize(linear, in_shape):\n    return linear",
        "lambda": "def convolutionalize(linear, in_shape):\n    return lambda x: x",
        "zeros": (
            "def convolutionalize(linear, in_shape):\n"
            "    return nn.Conv2d(in_shape[0], linear.out_features, in_shape[1:])"
        ),
    }
    folder = tmp_path / "in"
    folder.mkdir()
    for name, source in wrong.items():
        nb = nbformat.from_dict(solutions)
        cell = next(c for c in nb.cells if c.source.startswith("def convolutionalize("))
        cell.source = source
        nbformat.write(nb, folder / f"{name}_07-segmentation.ipynb")
    rows = {r["student"]: r for r in grade_folder(folder, "07", tmp_path / "out", jobs=1,
                                                  log=lambda _: None)}  # fmt: skip
    full = sum(ex.points for ex in load_chapter("07").EXERCISES)
    for name in wrong:
        assert rows[name]["status"] == "graded"
        assert rows[name]["total"] == full - 2, name
    feedback = {name: (tmp_path / "out" / "feedback" / f"{name}.md").read_text() for name in wrong}
    assert "returned Linear, expected an nn.Conv2d" in feedback["linear"]
    assert "returned function, expected an nn.Conv2d" in feedback["lambda"]
    assert "max error" in feedback["zeros"]
