"""Execute every chapter on this machine and record what it took and what it reached.

`make gpu-report` runs this on a machine with CUDA: each chapter executes there with its
GPU-size settings, and the report keeps, per notebook, the wall time, the device line
the setup cell printed and every score (accuracy, mean IoU, mAP@0.5, MSE) the chapter glued
into its prose. Results go to reports/<device>.json (one file per kind of device, so a
CPU and a GPU run sit side by side); book/execution-report.md, the page the book shows,
is redrawn from all of them.

    python tools/execution_report.py            # needs CUDA
    python tools/execution_report.py --allow-cpu  # the CPU run of the same table
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
PAGE = ROOT / "book" / "execution-report.md"
SEED_MATRIX = REPORTS / "seeds.json"  # written by benchmarks/seed_matrix.py --record
DEVICES = ("cpu", "cuda")
GLUE_PREFIX = "application/papermill.record/"
SCORES = ("accuracy", "miou", "map50")  # glued names that hold a score worth reporting


def is_score(name: str) -> bool:
    """Accuracies, IoUs and mAPs by the words in their names; errors by an `_mse` suffix,
    so that a glued gradient of an MSE (`mse_grad`) is not taken for a score."""
    return name.endswith("_mse") or any(word in name for word in SCORES)


def execute(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    seconds = time.perf_counter() - start
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    lines = [line for o in outputs for line in o.get("text", "").splitlines()]
    device = next((line for line in lines if line.startswith("device:")), "")
    accuracies = {
        o.metadata["scrapbook"]["name"]: float(o.data[GLUE_PREFIX + "text/plain"])
        for o in outputs
        if "scrapbook" in o.get("metadata", {})
        and is_score(o.metadata["scrapbook"]["name"])
        and GLUE_PREFIX + "text/plain" in o.get("data", {})
    }
    return {"notebook": path.name, "seconds": round(seconds, 1), "device": device,
            "accuracies": accuracies}  # fmt: skip


def _score(name: str, value: float) -> str:
    """Accuracies and IoUs read best as percentages; an error (MSE) is not a fraction."""
    return f"{name} {value:.4f}" if "mse" in name else f"{name} {value:.2%}"


def _number(text: str) -> float | None:
    try:
        return float(text.strip("'\""))
    except ValueError:
        return None


def spreads(runs: list[dict]) -> list[tuple[str, str]]:
    """Each quoted value's lowest and highest value over `runs` (the runs of one notebook),
    or the words it took; a value that is the same in every run is left out."""
    names = sorted({name for r in runs for name in r["glued"]})
    shown = []
    for name in names:
        texts = [r["glued"][name] for r in runs if name in r["glued"]]
        if len(set(texts)) == 1:
            continue
        numbers = [n for t in texts if (n := _number(t)) is not None]
        if len(numbers) == len(texts):
            shown.append((name, f"{min(numbers):.4g} .. {max(numbers):.4g}"))
        else:
            shown.append((name, " \\| ".join(sorted(set(texts)))))
    return shown


def render_seed_matrix(matrix: dict) -> list[str]:
    runs = matrix["runs"]
    failed = [r for r in runs if r["error"]]
    seeds = ", ".join(map(str, matrix["seeds"]))
    threads = " and ".join(map(str, matrix["threads"]))
    lines = [
        "## Claims across seeds and threads",
        "",
        "`make seeds` (`benchmarks/seed_matrix.py`) reruns every chapter with its seeds shifted by",
        f"`CNNBOOK_SEED` = {seeds} (0 is the book's own draw) and with {threads} threads. A",
        "chapter's assertions are the claims its prose makes, so a run that passes is a run in",
        "which every claim held. For each number the prose quotes (wall-clock figures aside,",
        "which measure the machine's load), the lowest and highest value over the runs: how",
        "much a quoted number moves with the draw. Numbers that were the same in every run",
        "are not listed.",
        "",
        f"Recorded on {matrix['date']} ({matrix['machine']}, torch {matrix['torch']}, Python",
        f"{matrix['python']}): {len(runs)} runs, "
        + (f"{len(failed)} failed." if failed else "all passed."),
        "",
    ]
    for r in failed:
        lines += [f"- failed: {r['notebook']}, seed {r['seed']}, {r['threads']} threads: "
                  f"{r['error']}"]  # fmt: skip
    if failed:
        lines.append("")
    for notebook in sorted({r["notebook"] for r in runs}):
        own = [r for r in runs if r["notebook"] == notebook]
        rows = spreads(own)
        lines += [f"### {notebook}", "", f"{len(own)} runs, {sum(not r['error'] for r in own)} "
                  "passed." + ("" if rows else " Every quoted number was the same in every run."),
                  ""]  # fmt: skip
        if rows:
            lines += ["| quoted as | lowest .. highest |", "| --- | --- |"]
            lines += [f"| `{name}` | {shown} |" for name, shown in rows]
            lines.append("")
    return lines


def device_reports() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(REPORTS.glob("*.json")) if p.stem in DEVICES]


def seed_matrix() -> dict | None:
    return json.loads(SEED_MATRIX.read_text()) if SEED_MATRIX.exists() else None


def redraw() -> None:
    PAGE.write_text(render(device_reports(), seed_matrix()))


def record_seed_matrix(matrix: dict) -> None:
    """Keep `matrix`; when it reran only some notebooks with the recorded seeds and
    threads, its runs replace theirs and the other notebooks' runs stay."""
    REPORTS.mkdir(exist_ok=True)
    previous = seed_matrix()
    if previous and (previous["seeds"], previous["threads"]) == (
        matrix["seeds"],
        matrix["threads"],
    ):
        rerun = {r["notebook"] for r in matrix["runs"]}
        kept = [r for r in previous["runs"] if r["notebook"] not in rerun]
        matrix = {**matrix, "runs": kept + matrix["runs"]}
    SEED_MATRIX.write_text(json.dumps(matrix, indent=1) + "\n")
    redraw()
    print(f"wrote {SEED_MATRIX} and {PAGE}")


def render(reports: list[dict], matrix: dict | None = None) -> str:
    lines = [
        "# Execution report",
        "",
        "What each chapter took to execute top to bottom, on which device, and the scores",
        "it reached (accuracies, mean IoUs, detection mAP@0.5, mean squared errors), as",
        "measured by `tools/execution_report.py`.",
        "On a GPU the chapters take their GPU-size settings (more data and epochs;",
        "`cnnbook.sized`).",
        "",
        "## This build",
        "",
        "Generated while this site was built: every notebook the build executed (or took",
        "from its execution cache), how long it ran and whether it passed. A site built by the",
        "test suite takes the suite's own executions, which run two chapters at a time with one",
        "thread each, so its times are longer than a chapter's alone.",
        "",
        "```{build-environment}",
        "```",
        "",
        "```{execution-table}",
        "```",
        "",
        "## Recorded runs",
        "",
        "Each chapter run alone with `tools/execution_report.py`, with the scores it reached.",
        "",
    ]
    if not any(r["kind"] == "cuda" for r in reports):
        lines += [
            "No GPU run is recorded yet: on a machine with CUDA, `make gpu-report` adds one.",
            "",
        ]
    for report in sorted(reports, key=lambda r: r["kind"]):
        lines += [
            f"### {report['kind'].upper()}: {report['machine']}",
            "",
            f"Measured on {report['date']} with torch {report['torch']}, Python "
            f"{report['python']}, budget `{report['budget']}`.",
            "",
            "| notebook | seconds | scores reached |",
            "| --- | ---: | --- |",
        ]
        for row in report["notebooks"]:
            reached = ", ".join(_score(k, v) for k, v in row["accuracies"].items()) or "none"
            lines.append(f"| {row['notebook']} | {row['seconds']:.1f} | {reached} |")
        lines.append("")
    if matrix:
        lines += render_seed_matrix(matrix)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allow-cpu", action="store_true", help="record a CPU run")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter")
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    if not cuda and not args.allow_cpu:
        print("no CUDA device here: run on a GPU machine, or pass --allow-cpu", file=sys.stderr)
        return 2
    os.environ.setdefault("MPLBACKEND", "Agg")
    paths = args.notebooks or sorted((ROOT / "book").glob("[0-9][0-9]-*.ipynb"))
    rows = []
    for path in paths:
        rows.append(execute(path))
        print(f"{rows[-1]['seconds']:7.1f} s  {path.name}  {rows[-1]['accuracies']}", flush=True)
    kind = "cuda" if cuda else "cpu"
    cpu = f"{os.cpu_count()}-core {platform.machine()} CPU"
    report = {
        "kind": kind,
        "machine": torch.cuda.get_device_name() if cuda else cpu,
        "date": date.today().isoformat(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "budget": os.environ.get("CNNBOOK_BUDGET", "gpu" if cuda else "cpu"),
        "notebooks": rows,
    }  # fmt: skip
    REPORTS.mkdir(exist_ok=True)
    path = REPORTS / f"{kind}.json"
    if args.notebooks and path.exists():  # a partial rerun replaces only its notebooks' rows
        rerun = {row["notebook"] for row in rows}
        kept = [r for r in json.loads(path.read_text())["notebooks"] if r["notebook"] not in rerun]
        report["notebooks"] = sorted(kept + rows, key=lambda r: r["notebook"])
    path.write_text(json.dumps(report, indent=1) + "\n")
    redraw()
    print(f"wrote {path} and {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
