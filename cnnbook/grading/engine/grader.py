"""Grade a folder of handed-in notebooks: one result file each, then a gradebook.

Each submission is graded on its own and its result saved as
``OUT/results/<sha256 of the file>.json``. A re-run skips files whose result exists for
the same chapter and seed, and results made by other processes or machines (copied
into ``OUT/results``) are merged: the gradebook is always rebuilt from all result files.
The seed of the hidden inputs is chosen once per output folder and kept in
``OUT/seed.txt``, so every submission of a batch sees the same inputs.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import json
import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cnnbook.grading.checks import Case, Exercise, clone_args
from cnnbook.grading.engine import isolation
from cnnbook.grading.engine.extract import (
    NotebookError,
    extract,
    library_references,
    read_code_cells,
)
from cnnbook.grading.engine.sandbox import Limits, Run, run_submission

GRADER_VERSION = 2  # 2: results carry the isolation level and the operator watch's verdict
MAX_REASONS = 5  # per exercise in the feedback; the count says how many more failed


class IsolationError(RuntimeError):
    """Namespaces were required but this machine can only isolate by process."""


@dataclass(frozen=True)
class Submission:
    path: Path
    student: str
    sha256: str
    superseded_by: str | None = None


def load_chapter(chapter: str) -> ModuleType:
    """The chapter's exercise module, `cnnbook.grading.chNN`."""
    try:
        return importlib.import_module(f"cnnbook.grading.chapters.ch{int(chapter):02d}")
    except (ValueError, ModuleNotFoundError):
        raise SystemExit(f"no exercises for chapter {chapter!r}") from None


def student_name(path: Path, root: Path, notebook: str) -> str:
    """Who handed the file in: the sub-folder under `root` if there is one, else the file
    name without Colab's "Copy of ", download counters " (2)" and the notebook's name."""
    relative = path.relative_to(root)
    if len(relative.parts) > 1:
        return relative.parts[0]
    stem = re.sub(r"\s*\(\d+\)$", "", path.stem)
    cleaned = re.sub(r"(?i)copy of\s*", "", stem).replace(notebook, "")
    cleaned = cleaned.strip(" _-.")
    return cleaned or stem


def discover(root: Path, notebook: str) -> list[Submission]:
    """All `.ipynb` files under `root`; for a student with several, the newest counts."""
    found = []
    for path in sorted(root.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts or not path.is_file():
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        found.append(Submission(path, student_name(path, root, notebook), digest))
    newest: dict[str, Submission] = {}
    for sub in found:
        best = newest.get(sub.student)
        if best is None or (sub.path.stat().st_mtime, sub.path.name) > (
            best.path.stat().st_mtime,
            best.path.name,
        ):
            newest[sub.student] = sub
    return [
        sub
        if newest[sub.student] is sub
        else Submission(sub.path, sub.student, sub.sha256, newest[sub.student].path.name)
        for sub in found
    ]


def _score(exercise: Exercise, cases: list[Case], run: Run) -> dict[str, Any]:
    """Points for one exercise: its share of cases whose output matches the reference."""
    result = {"points": 0.0, "max": exercise.points, "passed": 0, "total": len(cases)}
    messages = {
        "missing": f"`{exercise.name}` is not defined in the notebook",
        "not_callable": f"`{exercise.name}` is not a function ({run.detail})",
        "not_implemented": "not implemented: it still raises NotImplementedError",
        "forbidden": f"dispatches {run.detail}, which this exercise asks you to implement yourself",
        "tampered": f"tampers with the grader's operator watch ({run.detail}); a solution "
        "never needs to",
    }
    if run.status in messages:
        return {**result, "summary": messages[run.status], "reasons": []}
    if run.status != "ran":
        return {**result, "summary": run.detail, "reasons": []}
    reasons = []
    for case, output in zip(cases, run.outputs, strict=False):
        if "error" in output:
            reason = output["error"]
        elif isinstance(output.get("value"), dict) and "__unsupported__" in output["value"]:
            reason = f"returned a {output['value']['__unsupported__']}, which is not an answer"
        else:
            reason = exercise.compare(output.get("value"), case)
        if reason is None:
            result["passed"] += 1
        else:
            reasons.append(f"{case.description}: {reason}")
    result["points"] = round(exercise.points * result["passed"] / len(cases), 2)
    summary = (
        "all hidden cases passed" if not reasons else f"{len(reasons)} of {len(cases)} cases failed"
    )
    return {**result, "summary": summary, "reasons": reasons}


def grade_file(
    path: Path,
    chapter: ModuleType,
    seed: int,
    cases: dict[str, list[Case]],
    limits: Limits,
    level: str | None = None,
) -> dict[str, Any]:
    """Grade one notebook; never raises for anything the file contains. `level` is the
    isolation to run it with (`isolation.detect()` when None)."""
    exercises: tuple[Exercise, ...] = chapter.EXERCISES
    level = level or isolation.detect()
    result: dict[str, Any] = {
        "version": GRADER_VERSION,
        "chapter": chapter.__name__.rsplit(".", 1)[-1],
        "seed": seed,
        "isolation": level,
        "file": path.name,
        "max": sum(ex.points for ex in exercises),
        "total": 0.0,
        "notes": [],
        "exercises": {},
    }
    try:
        cells = read_code_cells(path)
    except NotebookError as error:
        return {**result, "status": "unreadable", "notes": [str(error)]}
    if not any(cell.strip() for cell in cells):
        return {**result, "status": "empty", "notes": ["the notebook has no code"]}
    extracted = extract(cells)
    result["notes"] = extracted.notes
    to_run = []
    for exercise in exercises:
        used = library_references(extracted, exercise.name) & exercise.forbidden
        if exercise.name in extracted.definitions and used:
            result["exercises"][exercise.name] = {
                "points": 0.0, "max": exercise.points, "passed": 0,
                "total": len(cases[exercise.name]), "reasons": [],
                "summary": f"uses {', '.join(sorted(used))}, which this exercise asks you to "
                "implement yourself",
            }  # fmt: skip
        else:
            inputs = [
                {
                    "args": clone_args(c.args),
                    "kwargs": clone_args(c.kwargs),
                    "inputs": clone_args(c.inputs),
                    "iterate": c.iterate,
                    "method": c.method,
                    "returns_module": c.returns_module,
                    "with_grads": c.with_grads,
                    "label": c.description,
                }
                for c in cases[exercise.name]
            ]
            to_run.append((exercise.name, inputs, exercise.forbidden_ops))
    runs = run_submission(extracted.source, to_run, limits, level) if to_run else {}
    for exercise in exercises:
        if exercise.name in runs:
            result["exercises"][exercise.name] = _score(
                exercise, cases[exercise.name], runs[exercise.name]
            )
    result["exercises"] = {ex.name: result["exercises"][ex.name] for ex in exercises}
    result["total"] = round(sum(e["points"] for e in result["exercises"].values()), 2)
    return {**result, "status": "graded"}


def _write_json(path: Path, data: dict) -> None:
    partial = path.with_suffix(f".{secrets.token_hex(4)}.part")
    partial.write_text(json.dumps(data, indent=1))
    partial.replace(path)  # atomic, so parallel graders never read half a file


def read_seed(out: Path, seed: int | None) -> int:
    """The batch's seed: given, else the one saved in `out`, else a new random one."""
    path = out / "seed.txt"
    if seed is None and path.is_file():
        return int(path.read_text().strip())
    seed = secrets.randbelow(2**31) if seed is None else seed
    path.write_text(f"{seed}\n")
    return seed


def grade_folder(
    submissions: Path,
    chapter_id: str,
    out: Path,
    jobs: int = 1,
    seed: int | None = None,
    limits: Limits | None = None,
    shard: tuple[int, int] = (0, 1),
    log: Callable[[str], None] = print,
    level: str | None = None,
    require_isolation: bool = False,
) -> list[dict[str, Any]]:
    """Grade every notebook in `submissions` and write the gradebook and feedback to `out`.

    `level` is the isolation to grade with (`isolation.detect()` when None); with
    `require_isolation`, anything less than namespaces raises `IsolationError`.
    """
    chapter = load_chapter(chapter_id)
    level = level or isolation.detect()
    if require_isolation and level != isolation.NAMESPACES:
        raise IsolationError(f"isolation required, but this machine offers {level}: "
                             "install bubblewrap and allow user namespaces")  # fmt: skip
    limits = limits or Limits()
    (out / "results").mkdir(parents=True, exist_ok=True)
    seed = read_seed(out, seed)
    subs = discover(submissions, chapter.NOTEBOOK)
    index, count = shard
    cases = {ex.name: list(ex.cases(seed)) for ex in chapter.EXERCISES}

    def result_path(sub: Submission) -> Path:
        return out / "results" / f"{sub.sha256}.json"

    def is_current(sub: Submission) -> bool:
        try:
            old = json.loads(result_path(sub).read_text())
        except (OSError, ValueError):
            return False
        return (
            old.get("version") == GRADER_VERSION
            and old.get("seed") == seed
            and old.get("isolation") == level
            and (old.get("chapter") == chapter.__name__.rsplit(".", 1)[-1])
        )

    todo = [
        s for s in subs
        if s.superseded_by is None and int(s.sha256, 16) % count == index and not is_current(s)
    ]  # fmt: skip
    log(f"isolation: {isolation.describe(level)}")
    log(f"{len(subs)} notebooks, {len(todo)} to grade (seed {seed}, {jobs} in parallel)")

    def work(sub: Submission) -> None:
        result = grade_file(sub.path, chapter, seed, cases, limits, level)
        _write_json(result_path(sub), result)
        log(f"  {sub.student}: {result['total']:g}/{result['max']:g} ({result['status']})")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(work, todo))
    return write_gradebook(subs, chapter, out, result_path)


def write_gradebook(
    subs: list[Submission],
    chapter: ModuleType,
    out: Path,
    result_path: Callable[[Submission], Path],
) -> list[dict[str, Any]]:
    """`grades.csv` (one row per file) and `feedback/<student>.md` from the result files."""
    names = [ex.name for ex in chapter.EXERCISES]
    maximum = sum(ex.points for ex in chapter.EXERCISES)
    rows = []
    (out / "feedback").mkdir(exist_ok=True)
    for sub in sorted(subs, key=lambda s: (s.student, s.path.name)):
        row: dict[str, Any] = {"student": sub.student, "file": sub.path.name, "max": maximum}
        if sub.superseded_by:
            row.update(status=f"superseded by {sub.superseded_by}", total="")
            rows.append(row)
            continue
        try:
            result = json.loads(result_path(sub).read_text())
        except (OSError, ValueError):
            row.update(status="not graded yet", total="")
            rows.append(row)
            continue
        for name in names:
            row[name] = result["exercises"].get(name, {}).get("points", 0.0)
        row.update(
            total=result["total"], status=result["status"], isolation=result.get("isolation", "")
        )
        rows.append(row)
        (out / "feedback" / f"{_safe(sub.student)}.md").write_text(feedback(sub, result))
    with open(out / "grades.csv", "w", newline="") as f:
        writer = csv.DictWriter(
            f, ["student", *names, "total", "max", "status", "isolation", "file"], restval=""
        )
        writer.writeheader()
        writer.writerows(rows)
    return rows


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "student"


def feedback(sub: Submission, result: dict[str, Any]) -> str:
    """The Markdown a student receives: per exercise, points and why points were lost."""
    lines = [
        f"# Feedback: {sub.student}",
        "",
        f"File: `{sub.path.name}`  ",
        f"Score: **{result['total']:g} / {result['max']:g}** ({result['status']})",
        "",
    ]
    if result["status"] != "graded":
        lines += ["Your notebook could not be graded:", ""]
        lines += [f"- {note}" for note in result["notes"]] + [""]
    for name, ex in result["exercises"].items():
        mark = "✓" if ex["points"] == ex["max"] else "✗"
        lines.append(f"## {mark} `{name}`: {ex['points']:g} / {ex['max']:g}")
        lines.append("")
        lines.append(ex["summary"][0].upper() + ex["summary"][1:] + ".")
        for reason in ex["reasons"][:MAX_REASONS]:
            lines.append(f"- {reason}")
        if len(ex["reasons"]) > MAX_REASONS:
            lines.append(f"- ... and {len(ex['reasons']) - MAX_REASONS} more")
        lines.append("")
    if result["notes"] and result["status"] == "graded":
        lines += ["## Notes", ""] + [f"- {note}" for note in result["notes"]] + [""]
    lines.append(
        "The grader runs only your imports, function and class definitions and constants, "
        "on inputs that differ from the notebook's self-checks "
        f"(isolation: {result.get('isolation', 'unknown')})."
    )
    return "\n".join(lines) + "\n"
