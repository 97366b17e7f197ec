"""The course plan: a 12-week schedule for a lecturer, with each week's reading and
running time measured from the pages themselves.

Reading time counts the words of a page's prose at 200 words a minute and its code at
10 lines a minute; running time is the page's recorded CPU run in `reports/cpu.json`
(`make report`); the exercises and their points come from the grader's chapter modules.
`python tools/course_plan.py` writes `book/course-plan.md`; a test fails when the page
differs from what this script would write.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "course-plan.md"
WORDS_PER_MINUTE = 200
CODE_LINES_PER_MINUTE = 10

# (week, topic, pages read that week, exercise notebook whose exercises are due)
WEEKS = [
    (1, "Convolution", ["01-convolution"], "01-convolution"),
    (2, "Backpropagation and losses", ["02-backprop-and-losses"], "02-backprop-and-losses"),
    (3, "Optimization", ["03-optimization"], "03-optimization"),
    (4, "Activation functions", ["04-activations"], "04-activations"),
    (5, "Regularization", ["05-regularization"], "05-regularization"),
    (6, "Modern CNNs: LeNet to DenseNet", ["06-modern-cnns", "06-modern-cnns-compared"], None),
    (7, "Modern CNNs: depth and kernels", ["06-depth-and-kernels"], "06-modern-cnns"),
    (8, "Semantic segmentation", ["07-segmentation", "07-segmentation-fcn"], "07-segmentation"),
    (9, "Object detection: from R-CNN to Faster R-CNN", ["08-detection"], None),
    (10, "Object detection: YOLO", ["08-detection-yolo"], "08-detection"),
    (11, "Sequence models: RNN, LSTM and GRU", ["09-rnn-lstm"], "09-rnn-lstm"),
    (12, "After AlexNet: attention to GPT; GANs, DQN, SimCLR",
     ["10-attention-and-transformers", "10-gan-dqn-simclr"], "10-after-alexnet"),
]

PREREQUISITES = """\
- **Python**: functions, classes, list comprehensions, and reading a traceback. The
  notebooks use PyTorch throughout and explain each function the first time it appears.
- **Linear algebra**: vectors, matrices and their product, the transpose.
- **Calculus**: derivatives, partial derivatives and the chain rule (Chapter 2 builds
  backpropagation on it).
- **Probability**: the mean and variance of a random variable, a likelihood.
- No earlier course on neural networks: Chapter 1 starts from the convolution itself."""


def _title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    first = next(c.source for c in nb.cells if c.cell_type == "markdown")
    return first.splitlines()[0].lstrip("# ").strip()


def reading_minutes(path: Path) -> int:
    """The page's prose at WORDS_PER_MINUTE and its code at CODE_LINES_PER_MINUTE."""
    nb = nbformat.read(path, as_version=4)
    words = sum(len(re.findall(r"\w+", c.source)) for c in nb.cells if c.cell_type == "markdown")
    lines = sum(len([line for line in c.source.splitlines() if line.strip()])
                for c in nb.cells if c.cell_type == "code")  # fmt: skip
    return math.ceil(words / WORDS_PER_MINUTE + lines / CODE_LINES_PER_MINUTE)


def running_seconds() -> dict[str, float]:
    """Each notebook's recorded run on the CPU."""
    report = json.loads((ROOT / "reports" / "cpu.json").read_text())
    return {Path(run["notebook"]).stem: run["seconds"] for run in report["notebooks"]}


def exercises(stem: str) -> tuple[int, int]:
    """(number of exercises, points) of an exercise notebook."""
    chapter = importlib.import_module(f"cnnbook.grading.chapters.ch{stem[:2]}")
    return len(chapter.EXERCISES), sum(e.points for e in chapter.EXERCISES)


def render() -> str:
    seconds = running_seconds()
    lines = [
        "# Course plan",
        "",
        "A schedule for teaching the book in 12 weeks: one chapter a week, two for the long",
        "Chapters 6 and 8; a term with a 13th week can give it to a review or a project. Each",
        "week lists the",
        "pages to read, how long they take to read and to run, and the exercise notebook due",
        "at its end; the {doc}`instructors page <instructors>` explains how to hand out and",
        "grade the exercises. The whole book is also one",
        '<a href="../cnn-course.pdf">PDF</a> (`make pdf` builds it).',
        "",
        "## Prerequisites",
        "",
        PREREQUISITES,
        "",
        "## Schedule",
        "",
        f"Reading time counts each page's prose at {WORDS_PER_MINUTE} words a minute and its",
        f"code at {CODE_LINES_PER_MINUTE} lines a minute. Running time is the page's recorded",
        "run, top to bottom, on a 2-core CPU, from the {doc}`execution report",
        "<execution-report>`.",
        "",
        "| Week | Topic | Pages | Reading (min) | Running on a CPU (s) | Exercises due |",
        "| ---: | --- | --- | ---: | ---: | --- |",
    ]
    total_reading, total_running = 0, 0.0
    for week, topic, stems, due in WEEKS:
        paths = [ROOT / "book" / f"{stem}.ipynb" for stem in stems]
        reading = sum(reading_minutes(p) for p in paths)
        running = sum(seconds[s] for s in stems)
        total_reading += reading
        total_running += running
        pages = ", ".join(f"{{doc}}`{_title(p)} <{p.stem}>`" for p in paths) or "all"
        if due:
            count, points = exercises(due)
            homework = f"`exercises/{due}.ipynb` ({count} exercises, {points} points)"
        else:
            homework = "none" if stems else "a project of the students' choice"
        lines.append(f"| {week} | {topic} | {pages} | {reading if stems else '-'} | "
                     f"{f'{running:.0f}' if stems else '-'} | {homework} |")  # fmt: skip
    lines += [
        "",
        f"In all, {total_reading} minutes of reading ({total_reading / 60:.1f} hours) and",
        f"{total_running / 60:.1f} minutes of running on a CPU. One rhythm that fits: two",
        "hours of lecture on the week's pages and one hour of lab in which the students run",
        "them and start the exercises.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    PAGE.write_text(render())
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
