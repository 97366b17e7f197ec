"""The execution report the book shows is drawn from the recorded runs, and says what is missing."""

import json
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
from execution_report import PAGE, REPORTS, is_score, render

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
    runs = [json.loads(p.read_text()) for p in sorted(REPORTS.glob("*.json"))]
    assert runs, "reports/ holds no run: python tools/execution_report.py --allow-cpu"
    assert PAGE.read_text() == render(runs), "run tools/execution_report.py to redraw the page"


def test_scores_are_told_from_other_glued_numbers_by_their_names():
    assert all(map(is_score, ["best_accuracy", "fcn_miou", "yolo_map50", "lstm_mse"]))
    assert not any(map(is_score, ["mse_grad", "speedup", "noise_var", "ar4_64"]))
