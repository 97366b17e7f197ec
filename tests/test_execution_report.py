"""The execution report the book shows is drawn from the recorded runs, and says what is missing."""

import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
from execution_report import PAGE, device_reports, is_score, render, seed_matrix

RUN = {
    "kind": "cpu",
    "machine": "2-core x86_64 CPU",
    "date": "2026-11-23",
    "torch": "2.14.1",
    "python": "3.11.7",
    "budget": "cpu",
    "notebooks": [
        {
            "notebook": "06-x.ipynb",
            "seconds": 41.0,
            "device": "device: cpu",
            "accuracies": {"best_accuracy": 0.9012},
        },
        {"notebook": "01-y.ipynb", "seconds": 9.5, "device": "device: cpu", "accuracies": {}},
        {
            "notebook": "09-z.ipynb",
            "seconds": 30.0,
            "device": "device: cpu",
            "accuracies": {"lstm_mse": 0.00042, "lstm_accuracy": 0.5},
        },
    ],
}


def test_a_cpu_run_alone_says_no_gpu_run_is_recorded():
    page = render([RUN])
    assert "No GPU run is recorded yet" in page
    assert "| 06-x.ipynb | 41.0 | best_accuracy 90.12% |" in page
    assert "| 01-y.ipynb | 9.5 | none |" in page
    # an error is a number, not a fraction of something: never shown as a percentage
    assert "| 09-z.ipynb | 30.0 | lstm_mse 0.0004, lstm_accuracy 50.00% |" in page


def test_a_gpu_run_is_shown_beside_the_cpu_run():
    gpu = {**RUN, "kind": "cuda", "machine": "NVIDIA H100", "budget": "gpu"}
    page = render([gpu, RUN])
    assert "No GPU run" not in page
    assert page.index("## CPU") < page.index("## CUDA: NVIDIA H100")


def test_the_page_in_the_book_is_drawn_from_the_recorded_runs():
    runs = device_reports()
    assert runs, "reports/ holds no run: python tools/execution_report.py --allow-cpu"
    assert seed_matrix(), "reports/ holds no seed matrix: make seeds"
    assert PAGE.read_text() == render(runs, seed_matrix()), (
        "run tools/execution_report.py to redraw the page"
    )


MATRIX = {
    "date": "2026-12-06",
    "machine": "x86_64 CPU",
    "torch": "2.14.1",
    "python": "3.11.7",
    "seeds": [0, 1000],
    "threads": [1, 2],
    "runs": [
        {"threads": 1, "seed": 0, "notebook": "07-x.ipynb", "seconds": 40.0, "error": None,
         "glued": {"miou": "0.334", "best": "'FCN-8s'", "epochs": "4"}},
        {"threads": 2, "seed": 1000, "notebook": "07-x.ipynb", "seconds": 30.0, "error": None,
         "glued": {"miou": "0.306", "best": "'FCN-16s'", "epochs": "4"}},
        {"threads": 1, "seed": 1000, "notebook": "09-y.ipynb", "seconds": 41.0,
         "error": "AssertionError: the RNN reached 0.1603", "glued": {}},
    ],
}  # fmt: skip


def test_the_seed_matrix_shows_each_quoted_number_s_spread_and_every_failure():
    page = render([RUN], MATRIX)
    assert "4 runs" not in page and "3 runs, 1 failed." in page
    assert (
        "- failed: 09-y.ipynb, seed 1000, 1 threads: AssertionError: the RNN reached 0.1603" in page
    )
    assert "| `miou` | 0.306 .. 0.334 |" in page
    assert "| `best` | 'FCN-16s' \\| 'FCN-8s' |" in page  # words, escaped for the table
    assert "`epochs`" not in page  # the same in every run: nothing to show
    assert (
        "### 09-y.ipynb\n\n1 runs, 0 passed. Every quoted number was the same in every run." in page
    )


def test_scores_are_told_from_other_glued_numbers_by_their_names():
    assert all(map(is_score, ["best_accuracy", "fcn_miou", "yolo_map50", "lstm_mse"]))
    assert not any(map(is_score, ["mse_grad", "speedup", "noise_var", "ar4_64"]))


def test_a_partial_rerun_replaces_only_its_notebooks_runs(tmp_path, monkeypatch):
    import execution_report

    monkeypatch.setattr(execution_report, "REPORTS", tmp_path)
    monkeypatch.setattr(execution_report, "SEED_MATRIX", tmp_path / "seeds.json")
    monkeypatch.setattr(execution_report, "PAGE", tmp_path / "page.md")
    execution_report.record_seed_matrix(MATRIX)
    fixed = {**MATRIX, "runs": [{**MATRIX["runs"][2], "error": None}]}
    execution_report.record_seed_matrix(fixed)
    runs = execution_report.seed_matrix()["runs"]
    assert [r["notebook"] for r in runs] == ["07-x.ipynb", "07-x.ipynb", "09-y.ipynb"]
    assert runs[2]["error"] is None
    assert "3 runs, all passed." in (tmp_path / "page.md").read_text()


def test_a_partial_device_rerun_keeps_the_other_notebooks_rows(tmp_path, monkeypatch):
    """`execution_report.py --allow-cpu book/X.ipynb` replaces X's row and keeps the rest
    (it once wrote a report holding X alone)."""
    import json

    import execution_report

    monkeypatch.setattr(execution_report, "REPORTS", tmp_path)
    monkeypatch.setattr(execution_report, "SEED_MATRIX", tmp_path / "seeds.json")
    monkeypatch.setattr(execution_report, "PAGE", tmp_path / "page.md")
    (tmp_path / "cpu.json").write_text(json.dumps(RUN))
    fresh = {"notebook": "06-x.ipynb", "seconds": 12.0, "device": "device: cpu",
             "accuracies": {}}  # fmt: skip
    monkeypatch.setattr(execution_report, "execute", lambda path: fresh)
    monkeypatch.setattr(execution_report.torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # main() sets it; kernels started later must not inherit it
    assert execution_report.main(["--allow-cpu", "book/06-x.ipynb"]) == 0
    rows = json.loads((tmp_path / "cpu.json").read_text())["notebooks"]
    assert [(r["notebook"], r["seconds"]) for r in rows] == [
        ("01-y.ipynb", 9.5), ("06-x.ipynb", 12.0), ("09-z.ipynb", 30.0)
    ]  # fmt: skip
