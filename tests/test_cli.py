import csv
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_cnnbook_grade_command_writes_a_gradebook(tmp_path):
    submissions = tmp_path / "in"
    submissions.mkdir()
    shutil.copy(
        ROOT / "solutions" / "01-convolution.ipynb", submissions / "ana_01-convolution.ipynb"
    )
    cnnbook = Path(sys.executable).with_name("cnnbook")
    done = subprocess.run(
        [str(cnnbook), "grade", str(submissions), "--chapter", "01", "--out", str(tmp_path / "out"), "-j", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 of 1 notebooks graded" in done.stdout
    with open(tmp_path / "out" / "grades.csv") as f:
        (row,) = csv.DictReader(f)
    assert row["student"] == "ana" and float(row["total"]) == float(row["max"]) == 12


def test_module_entry_point_rejects_a_missing_folder(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "cnnbook.grading", str(tmp_path / "nope"), "--chapter", "01", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "not a folder" in done.stderr


def test_unknown_chapter_is_a_clear_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "cnnbook.grading", str(tmp_path), "--chapter", "42", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0 and "no exercises for chapter '42'" in done.stderr
