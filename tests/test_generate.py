import nbformat
import pytest

from cnnbook.grading.generate import STUB, main, make_exercise, render, stub_source


def test_solution_block_becomes_an_indented_stub():
    source = (
        "def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n"
    )
    assert stub_source(source) == f"def f(x):\n    {STUB}"


def test_code_outside_blocks_is_kept():
    assert stub_source("check(f);") == "check(f);"
    assert stub_source("import torch\nx = 1") == "import torch\nx = 1"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "without"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "nested"),
    ],
)
def test_unbalanced_markers_are_errors(source, message):
    with pytest.raises(ValueError, match=message):
        stub_source(source, "test")


def test_class_body_markers_are_refused_but_method_markers_work():
    with pytest.raises(ValueError, match="inside its methods"):
        stub_source("class A:\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTION", "test")
    source = "class A:\n    def f(self):\n        ### BEGIN SOLUTION\n        return 1\n        ### END SOLUTION"
    assert stub_source(source) == f"class A:\n    def f(self):\n        {STUB}"


def test_markdown_is_kept_and_solutions_removed():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("### BEGIN SOLUTION is just text here"),
            nbformat.v4.new_code_cell(
                "def f():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION"
            ),
        ]
    )
    exercise = make_exercise(nb)
    assert exercise.cells[0].source == nb.cells[0].source
    assert "42" not in exercise.cells[1].source and "42" in nb.cells[1].source


def test_committed_exercises_are_in_sync_with_solutions(root):
    solutions = sorted((root / "solutions").glob("*.ipynb"))
    assert solutions, "no solutions notebooks found"
    for path in solutions:
        target = root / "exercises" / path.name
        assert target.exists(), f"{target} missing: run `make exercises`"
        assert target.read_text() == render(path), f"{target} is stale: run `make exercises`"
    assert main(["--root", str(root), "--check"]) == 0


def test_check_mode_reports_a_stale_exercise(tmp_path, root, capsys):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    source = root / "solutions" / "01-convolution.ipynb"
    (tmp_path / "solutions" / source.name).write_text(source.read_text())
    (tmp_path / "exercises" / source.name).write_text("{}")
    assert main(["--root", str(tmp_path), "--check"]) == 1
    assert "out of date" in capsys.readouterr().out
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--root", str(tmp_path), "--check"]) == 0
