"""The grader against honest, partial, broken and hostile submissions.

One batch holds every kind of submission, graded once (in parallel, as instructors run
it); each test then reads its student's result. Limits are small so the hostile cases
finish quickly.
"""

import csv
import json
import os
import shutil
import time

import nbformat
import pytest

from cnnbook.grading.chapters.ch01 import EXERCISES
from cnnbook.grading.engine.grader import discover, grade_folder, student_name
from cnnbook.grading.engine.sandbox import Limits
from conftest import ROOT

SOLUTIONS = ROOT / "solutions" / "01-convolution.ipynb"
EXERCISE_NB = ROOT / "exercises" / "01-convolution.ipynb"
FULL = sum(ex.points for ex in EXERCISES)
POINTS = {ex.name: ex.points for ex in EXERCISES}
LIMITS = Limits(timeout=3.0, memory_bytes=512 * 2**20, cpu_seconds=60)


def _solution_source(name: str) -> str:
    nb = nbformat.read(SOLUTIONS, as_version=4)
    return next(c.source for c in nb.cells if c.source.startswith(f"def {name}("))


def solution_with(**functions: str) -> nbformat.NotebookNode:
    """The solutions notebook with the cells defining the named functions replaced."""
    nb = nbformat.read(SOLUTIONS, as_version=4)
    nb.metadata["colab"] = {"provenance": [], "name": "Copy of 01-convolution.ipynb"}
    for name, source in functions.items():
        cell = next(
            c for c in nb.cells if c.cell_type == "code" and c.source.startswith(f"def {name}(")
        )
        cell.source = source
    return nb


def with_cells(nb, *sources: str, at: int = 1):
    for offset, source in enumerate(sources):
        nb.cells.insert(at + offset, nbformat.v4.new_code_cell(source))
    return nb


PATCH_EVERYTHING = """
import torch, numpy
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
numpy.testing.assert_allclose = lambda *a, **k: None
"""

SUBMISSIONS = {
    "solution": lambda: solution_with(),
    "blank": lambda: nbformat.read(EXERCISE_NB, as_version=4),
    "partial": lambda: solution_with(
        conv2d_unfold="def conv2d_unfold(x, weight, bias=None, stride=1, padding=0, dilation=1):\n"
        "    raise NotImplementedError",
        max_pool2d="def max_pool2d(x, kernel_size, stride=None, padding=0):\n"
        "    return x[..., ::2, ::2]",
    ),
    "looper": lambda: solution_with(
        receptive_field="def receptive_field(layers):\n    while True:\n        pass"
    ),
    "hog": lambda: solution_with(
        conv2d_naive="def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1):\n"
        "    import torch\n    return torch.empty(10**11)",
        max_pool2d="def max_pool2d(x, kernel_size, stride=None, padding=0):\n"
        "    hoard = []\n    while True:\n        hoard.append(bytearray(10**7))",
    ),
    "patcher": lambda: with_cells(
        solution_with(
            conv2d_naive="def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1):\n"
            + "\n".join("    " + line for line in PATCH_EVERYTHING.strip().splitlines())
            + "\n    return x",
        ),
        PATCH_EVERYTHING,
    ),
    "transformer": lambda: with_cells(
        solution_with(count_conv_params="def count_conv_params(i, o, k, bias=True):\n    return 0"),
        "ip = get_ipython()\nip.input_transformers_post.append(lambda lines: ['raise SystemExit\\n'])",
        "%pip install nothing\n!rm -rf /",
    ),
    "no-checks": lambda: _without_check_cells(solution_with()),
    "missing": lambda: _without_function(solution_with(), "receptive_field"),
    "signature": lambda: solution_with(
        conv2d_naive="def conv2d_naive(x, weight):\n    import torch.nn.functional as F\n"
        "    return x",
        conv_output_size="conv_output_size = 3",
    ),
    "wrong-types": lambda: solution_with(
        conv2d_naive="def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1):\n"
        "    return [1, 2]",
        conv2d_unfold=_solution_source("conv2d_unfold").replace(
            "return out.reshape(N, O, H_out, W_out)",
            "return out.reshape(N, O, H_out, W_out).double()",
        ),
        max_pool2d="def max_pool2d(x, kernel_size, stride=None, padding=0):\n    return x.mT",
        count_conv_params="def count_conv_params(i, o, k, bias=True):\n    return object()",
        receptive_field="def receptive_field(layers):\n    return 5.0",
    ),
    "wrong-device": lambda: solution_with(
        conv2d_naive="import torch\n"
        "def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1):\n"
        "    return torch.empty(1, device='meta')",
    ),
    "cheater": lambda: solution_with(
        conv2d_naive="import torch.nn.functional as F\n"
        "def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1):\n"
        "    return getattr(F, 'conv2d')(x, weight, bias, stride, padding, dilation)",
        conv2d_unfold="from torch.nn.functional import conv2d as c\n"
        "def helper(*a):\n    return c(*a)\n"
        "def conv2d_unfold(x, weight, bias=None, stride=1, padding=0, dilation=1):\n"
        "    return helper(x, weight, bias, stride, padding, dilation)",
    ),
    "runtime-cheater": lambda: solution_with(
        conv2d_naive="import torch.nn.functional as F\n"
        "def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1):\n"
        "    name = ''.join(['co', 'nv', '2d'])\n"
        "    return getattr(F, name)(x, weight, bias, stride, padding, dilation)",
    ),
    "subclass": lambda: solution_with(
        conv2d_naive="import torch\nclass Liar(torch.Tensor):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def allclose(self, *a, **k):\n        return True\n"
        "def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1):\n"
        "    return torch.zeros(1).as_subclass(Liar)",
    ),
    "exiter": lambda: solution_with(
        conv_output_size="def conv_output_size(size, kernel, padding=0, stride=1, dilation=1):\n"
        "    import os\n    os._exit(0)",
        count_conv_params="def count_conv_params(i, o, k, bias=True):\n    raise SystemExit(1)",
    ),
    "printer": lambda: with_cells(
        solution_with(
            conv_output_size="def conv_output_size(size, kernel, padding=0, stride=1, dilation=1):\n"
            "    print('x' * 10**7)\n    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1"
        ),
        "print('y' * 10**7)",
    ),
    "late-importer": lambda: solution_with(
        conv_output_size="def conv_output_size(size, kernel, padding=0, stride=1, dilation=1):\n"
        "    import statistics, fractions, dataclasses, enum, string, copy\n"
        "    span = fractions.Fraction(dilation * (kernel - 1) + 1)\n"
        "    return int((size + 2 * padding - span) // stride + 1)"
    ),
    "definer": lambda: solution_with(
        receptive_field="import os\n@print\ndef receptive_field(layers, cache=os.system('touch /tmp/pwned')):\n"
        "    return 1"
    ),
}

RAW_FILES = {
    "truncated": lambda: SOLUTIONS.read_text()[:2000],
    "not-json": lambda: "this is my homework, I wrote it in a text editor",
    "image": lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "empty": lambda: json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 0}),
}


def _without_check_cells(nb):
    nb.cells = [c for c in nb.cells if not c.source.startswith(("# NBVAL", "check("))]
    return nb


def _without_function(nb, name):
    nb.cells = [c for c in nb.cells if not c.source.startswith(f"def {name}(")]
    return nb


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    for student, make in SUBMISSIONS.items():
        nbformat.write(make(), folder / f"{student}_Copy of 01-convolution.ipynb")
    for student, make in RAW_FILES.items():
        content = make()
        path = folder / f"{student} - 01-convolution.ipynb"
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    # the same student twice: both are graded and the gradebook flags it
    nbformat.write(nbformat.read(EXERCISE_NB, as_version=4),
                   folder / "twice_Copy of 01-convolution.ipynb")  # fmt: skip
    nbformat.write(solution_with(), folder / "twice_Copy of 01-convolution (1).ipynb")
    out = tmp_path_factory.mktemp("grades")
    start = time.perf_counter()
    rows = grade_folder(folder, "01", out, jobs=2, seed=1234, limits=LIMITS, log=lambda _: None)
    seconds = time.perf_counter() - start
    results = {}
    for row in rows:
        sha = next(
            s.sha256 for s in discover(folder, "01-convolution") if s.path.name == row["file"]
        )
        results[row["student"]] = json.loads((out / "results" / f"{sha}.json").read_text())
    return {"folder": folder, "out": out, "rows": rows, "results": results, "seconds": seconds}


def points(batch, student):
    result = batch["results"][student]
    return {name: ex["points"] for name, ex in result["exercises"].items()}


def summary(batch, student, exercise):
    ex = batch["results"][student]["exercises"][exercise]
    return " ".join([ex["summary"], *ex["reasons"]])


def test_solutions_get_full_marks(batch):
    assert batch["results"]["solution"]["total"] == FULL


def test_blank_exercises_get_zero_with_not_implemented(batch):
    result = batch["results"]["blank"]
    assert result["total"] == 0
    assert all("not implemented" in ex["summary"] for ex in result["exercises"].values())


def test_partial_notebook_scores_exactly_its_correct_parts(batch):
    expected = FULL - POINTS["conv2d_unfold"] - POINTS["max_pool2d"]
    assert batch["results"]["partial"]["total"] == expected
    assert "not implemented" in summary(batch, "partial", "conv2d_unfold")
    assert "shape" in summary(batch, "partial", "max_pool2d")


def test_infinite_loop_times_out_and_the_rest_is_graded(batch):
    got = points(batch, "looper")
    assert got["receptive_field"] == 0
    assert "timed out after 3 s" in summary(batch, "looper", "receptive_field")
    assert sum(got.values()) == FULL - POINTS["receptive_field"]


def test_memory_hogs_hit_the_limit(batch):
    got = points(batch, "hog")
    assert got["conv2d_naive"] == got["max_pool2d"] == 0
    assert "memory" in summary(batch, "hog", "conv2d_naive")
    assert "memory" in summary(batch, "hog", "max_pool2d")
    assert sum(got.values()) == FULL - POINTS["conv2d_naive"] - POINTS["max_pool2d"]


def test_monkeypatching_the_comparisons_gains_nothing(batch):
    got = points(batch, "patcher")
    assert got["conv2d_naive"] == 0
    assert "shape" in summary(batch, "patcher", "conv2d_naive")
    assert sum(got.values()) == FULL - POINTS["conv2d_naive"]


def test_ipython_transformers_and_magics_never_run(batch):
    got = points(batch, "transformer")
    assert got["count_conv_params"] == 0
    assert sum(got.values()) == FULL - POINTS["count_conv_params"]


def test_deleted_check_cells_do_not_matter(batch):
    assert batch["results"]["no-checks"]["total"] == FULL


def test_missing_function_is_named(batch):
    assert points(batch, "missing")["receptive_field"] == 0
    assert "`receptive_field` is not defined" in summary(batch, "missing", "receptive_field")
    assert batch["results"]["missing"]["total"] == FULL - POINTS["receptive_field"]


def test_wrong_signature_and_non_function(batch):
    assert "unexpected keyword argument" in summary(batch, "signature", "conv2d_naive")
    assert "is not a function" in summary(batch, "signature", "conv_output_size")
    assert points(batch, "signature")["conv2d_naive"] == 0


def test_wrong_type_shape_dtype_are_explained(batch):
    assert batch["results"]["wrong-types"]["total"] == POINTS["conv_output_size"]  # left intact
    assert "expected a torch.Tensor, got list" in summary(batch, "wrong-types", "conv2d_naive")
    assert "dtype torch.float64" in summary(batch, "wrong-types", "conv2d_unfold")
    assert "shape" in summary(batch, "wrong-types", "max_pool2d")
    assert "returned a object" in summary(batch, "wrong-types", "count_conv_params")
    assert "float" in summary(batch, "wrong-types", "receptive_field")


def test_a_tensor_on_another_device_is_named(batch):
    assert points(batch, "wrong-device")["conv2d_naive"] == 0
    assert "tensor on the meta device" in summary(batch, "wrong-device", "conv2d_naive")


def test_calling_the_library_function_is_refused(batch):
    got = points(batch, "cheater")
    assert got["conv2d_naive"] == got["conv2d_unfold"] == 0
    assert "uses conv2d" in summary(batch, "cheater", "conv2d_naive")
    assert "uses conv2d" in summary(batch, "cheater", "conv2d_unfold")


def test_a_library_call_behind_a_name_built_at_run_time_is_caught(batch):
    got = points(batch, "runtime-cheater")
    assert got["conv2d_naive"] == 0
    assert "dispatches aten::convolution" in summary(batch, "runtime-cheater", "conv2d_naive")
    assert sum(got.values()) == FULL - POINTS["conv2d_naive"]


def test_a_tensor_subclass_cannot_fake_equality(batch):
    assert points(batch, "subclass")["conv2d_naive"] == 0
    assert "shape" in summary(batch, "subclass", "conv2d_naive")


def test_exiting_the_process_only_loses_that_exercise(batch):
    got = points(batch, "exiter")
    assert got["conv_output_size"] == got["count_conv_params"] == 0
    assert "crashed" in summary(batch, "exiter", "conv_output_size")
    assert "SystemExit" in summary(batch, "exiter", "count_conv_params")
    assert sum(got.values()) == FULL - POINTS["conv_output_size"] - POINTS["count_conv_params"]


def test_megabytes_of_printing_are_harmless(batch):
    assert batch["results"]["printer"]["total"] == FULL


def test_allowed_modules_can_be_imported_inside_functions(batch):
    """The child drops privileges; modules a solution may import must still load."""
    assert batch["results"]["late-importer"]["total"] == FULL


def test_definition_time_code_never_runs(batch):
    assert not os.path.exists("/tmp/pwned")
    assert points(batch, "definer")["receptive_field"] == 0
    assert any("default values" in note for note in batch["results"]["definer"]["notes"])


@pytest.mark.parametrize(
    ("student", "status", "reason"),
    [
        ("truncated", "unreadable", "not valid JSON"),
        ("not-json", "unreadable", "not valid JSON"),
        ("image", "unreadable", "not text"),
        ("empty", "empty", "no code"),
    ],
)
def test_broken_files_get_zero_and_a_reason(batch, student, status, reason):
    result = batch["results"][student]
    assert result["status"] == status and result["total"] == 0
    assert reason in " ".join(result["notes"])
    assert reason in (batch["out"] / "feedback" / f"{student}.md").read_text()


def test_gradebook_has_one_row_per_file_and_two_files_of_one_student_are_both_graded(batch):
    with open(batch["out"] / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(SUBMISSIONS) + len(RAW_FILES) + 2
    assert list(rows[0]) == ["student", *POINTS, "total", "max", "status", "review",
                             "isolation", "file", "feedback"]  # fmt: skip
    twice = sorted((r for r in rows if r["student"] == "twice"), key=lambda r: r["file"])
    assert [(r["status"], r["total"]) for r in twice] == [("graded", str(float(FULL))),
                                                         ("graded", "0.0")]  # fmt: skip
    for row in twice:  # neither is dropped silently: the instructor decides
        assert row["review"].startswith("2 files for this student: ")
        assert "twice_Copy of 01-convolution (1).ipynb" in row["review"]
    assert len({r["feedback"] for r in twice}) == 2


def test_feedback_explains_each_exercise(batch):
    text = (batch["out"] / "feedback" / "partial.md").read_text()
    assert "## ✗ `max_pool2d`: 0 / 2" in text and "## ✓ `conv2d_naive`: 3 / 3" in text


def test_rerun_skips_graded_files_and_merges_new_results(batch, tmp_path):
    folder, out = batch["folder"], batch["out"]
    before = {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()}
    start = time.perf_counter()
    grade_folder(folder, "01", out, jobs=2, limits=LIMITS, log=lambda _: None)
    assert time.perf_counter() - start < 10  # nothing to grade: only the gradebook
    assert {p.name: p.stat().st_mtime_ns for p in (out / "results").iterdir()} == before
    # a second machine's result for a new file merges into the same gradebook
    extra = tmp_path / "extra"
    extra.mkdir()
    shutil.copy(SOLUTIONS, extra / "zoe_01-convolution.ipynb")
    other_out = tmp_path / "other"
    other_out.mkdir()
    (other_out / "seed.txt").write_text((out / "seed.txt").read_text())
    grade_folder(extra, "01", other_out, limits=LIMITS, log=lambda _: None)
    for result in (other_out / "results").iterdir():
        shutil.copy(result, out / "results" / result.name)
    shutil.copy(SOLUTIONS, folder / "zoe_01-convolution.ipynb")
    try:
        rows = grade_folder(folder, "01", out, limits=LIMITS, log=lambda _: None)
    finally:
        (folder / "zoe_01-convolution.ipynb").unlink()
    zoe = next(r for r in rows if r["student"] == "zoe")
    assert zoe["status"] == "graded" and zoe["total"] == FULL


@pytest.mark.parametrize(
    ("relative", "name"),
    [
        ("alice_Copy of 01-convolution.ipynb", "alice"),
        ("Copy of 01-convolution (2).ipynb", "Copy of 01-convolution"),
        ("bob/Copy of 01-convolution.ipynb", "bob"),
        ("Kim Min-jun - 01-convolution.ipynb", "Kim Min-jun"),
    ],
)
def test_student_names_from_file_names(tmp_path, relative, name):
    assert student_name(tmp_path / relative, tmp_path, "01-convolution") == name
