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
import html
import importlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cnnbook.grading.checks import Case, Exercise, clone_args
from cnnbook.grading.engine import isolation
from cnnbook.grading.engine.extract import (
    MAX_NOTEBOOK_BYTES,
    NotebookError,
    extract,
    library_references,
    read_code_cells,
)
from cnnbook.grading.engine.review import review_reasons
from cnnbook.grading.engine.sandbox import Limits, Run, run_submission

GRADER_VERSION = 3  # 3: results carry the reasons to review the submission
MAX_REASONS = 5  # per exercise in the feedback; the count says how many more failed


class IsolationError(RuntimeError):
    """Namespaces were required but this machine can only isolate by process."""


@dataclass(frozen=True)
class Submission:
    """A file found in the submissions folder. `problem` says why it cannot be graded
    (a link, a file too large, ...); a gradable one has the SHA-256 of its bytes."""

    path: Path
    student: str
    sha256: str = ""
    problem: str = ""


def load_chapter(chapter: str) -> ModuleType:
    """The chapter's exercise module, `cnnbook.grading.chNN`."""
    try:
        return importlib.import_module(f"cnnbook.grading.chapters.ch{int(chapter):02d}")
    except (ValueError, ModuleNotFoundError):
        raise SystemExit(f"no exercises for chapter {chapter!r}") from None


def printable(text: str) -> str:
    """`text` as UTF-8 can write it: a file name's undecodable bytes (a zip made on
    Windows) become U+FFFD instead of stopping the gradebook."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def student_name(path: Path, root: Path, notebook: str) -> str:
    """Who handed the file in: the sub-folder under `root` if there is one, else the file
    name without Colab's "Copy of ", download counters " (2)" and the notebook's name."""
    relative = path.relative_to(root)
    if len(relative.parts) > 1:
        return printable(relative.parts[0])
    stem = re.sub(r"\s*\(\d+\)$", "", path.stem)
    cleaned = re.sub(r"(?i)copy of\s*", "", stem).replace(notebook, "")
    cleaned = cleaned.strip(" _-.")
    return printable(cleaned or stem)


def _entries(root: Path) -> Iterator[tuple[Path, str]]:
    """Every notebook under `root` and every link, with a problem for those that cannot
    be graded; links (to another student's file, to the solutions, to /proc) are never
    followed, and folders are walked without recursion."""
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            yield folder, f"a folder the grader cannot read ({error.strerror})"
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.name == ".ipynb_checkpoints":
                continue
            if entry.is_symlink():
                yield path, "a link, which the grader does not follow: hand in the file itself"
            elif entry.is_dir(follow_symlinks=False):
                pending.append(path)
            elif entry.name.endswith(".ipynb"):
                regular = entry.is_file(follow_symlinks=False)
                yield path, "" if regular else "not a regular file"


def _digest(path: Path) -> tuple[str, str]:
    """(SHA-256, problem): the file's hash read in blocks, after its size is checked."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        return "", f"a file the grader cannot open ({error.strerror})"
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_NOTEBOOK_BYTES:
            return "", f"the file is {size / 2**20:.0f} MiB, more than a notebook can be"
        digest = hashlib.sha256()
        while block := f.read(2**20):
            digest.update(block)
    return digest.hexdigest(), ""


def discover(root: Path, notebook: str) -> list[Submission]:
    """Every notebook and link under `root`, each with its student. A student with
    several files has all of them graded; the gradebook flags the conflict."""
    found = []
    for path, problem in _entries(root):
        sha256, problem = _digest(path) if not problem else ("", problem)
        found.append(Submission(path, student_name(path, root, notebook), sha256, problem))
    return found


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
            try:
                reason = exercise.compare(output.get("value"), case)
            except Exception as error:  # a value of a type no solution returns
                reason = f"returned something the grader cannot compare ({type(error).__name__})"
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
        "file": printable(path.name),
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
    result["review"] = review_reasons(extracted)
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
    require_isolation: bool = True,
) -> list[dict[str, Any]]:
    """Grade every notebook in `submissions` and write the gradebook and feedback to `out`.

    `level` is the isolation to grade with (`isolation.detect()` when None); unless
    `require_isolation` is False, anything less than namespaces raises `IsolationError`.
    """
    chapter = load_chapter(chapter_id)
    level = level or isolation.detect()
    if require_isolation and level != isolation.NAMESPACES:
        raise IsolationError(
            f"isolation required, but this machine offers {level}: install bubblewrap "
            "(Debian and Ubuntu: apt install bubblewrap) and allow unprivileged user "
            "namespaces, or pass --allow-unisolated to grade submissions you trust "
            "with process limits only"
        )
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
        if not s.problem and int(s.sha256, 16) % count == index and not is_current(s)
    ]  # fmt: skip
    log(f"isolation: {isolation.describe(level)}")
    log(f"{len(subs)} notebooks, {len(todo)} to grade (seed {seed}, {jobs} in parallel)")

    def work(sub: Submission) -> None:
        try:
            result = grade_file(sub.path, chapter, seed, cases, limits, level)
        except Exception as error:  # never one file's fault that the batch stops
            result = {"version": GRADER_VERSION, "chapter": chapter.__name__.rsplit(".", 1)[-1],
                      "seed": seed, "isolation": level, "file": printable(sub.path.name),
                      "max": sum(ex.points for ex in chapter.EXERCISES), "total": 0.0,
                      "status": "grader error", "exercises": {}, "review": [],
                      "notes": [f"the grader failed on this file ({type(error).__name__}: "
                                f"{str(error)[:200]}); tell your instructor"]}  # fmt: skip
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
    """`grades.csv` (one row per file) and one feedback file per graded file (named in
    the row) from the result files. A student with several files gets a row for each and
    a `review` note naming them all."""
    names = [ex.name for ex in chapter.EXERCISES]
    maximum = sum(ex.points for ex in chapter.EXERCISES)
    files: dict[str, list[str]] = {}
    for sub in subs:
        files.setdefault(sub.student, []).append(printable(sub.path.name))
    rows = []
    taken: set[str] = set()
    (out / "feedback").mkdir(exist_ok=True)
    for sub in sorted(subs, key=lambda s: (s.student, s.path.name)):
        row: dict[str, Any] = {"student": sub.student, "file": printable(sub.path.name),
                               "max": maximum, "total": "", "review": ""}  # fmt: skip
        review = []
        if len(files[sub.student]) > 1:
            review.append(f"{len(files[sub.student])} files for this student: "
                          + ", ".join(sorted(files[sub.student])))  # fmt: skip
        result = _read_result(result_path(sub)) if not sub.problem else None
        if sub.problem or result is None:
            row["status"] = sub.problem or "not graded yet"
            rows.append({**row, "review": "; ".join(review)})
            continue
        for name in names:
            row[name] = result["exercises"].get(name, {}).get("points", 0.0)
        review += result.get("review", [])
        row.update(total=result["total"], status=result["status"], review="; ".join(review),
                   isolation=result.get("isolation", ""),
                   feedback=_feedback_name(sub, taken))  # fmt: skip
        rows.append(row)
        (out / "feedback" / row["feedback"]).write_text(feedback(sub, result, review))
    with open(out / "grades.csv", "w", newline="") as f:
        columns = ["student", *names, "total", "max", "status", "review", "isolation", "file",
                   "feedback"]  # fmt: skip
        writer = csv.DictWriter(f, columns, restval="")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return rows


def _read_result(path: Path) -> dict[str, Any] | None:
    """A result file, if it has the shape the gradebook reads (results can be copied in
    from other machines)."""
    try:
        result = json.loads(path.read_text())
        assert isinstance(result["exercises"], dict) and isinstance(result["status"], str)
        assert all(isinstance(e["points"], int | float) for e in result["exercises"].values())
        assert isinstance(result["total"], int | float) and isinstance(result["notes"], list)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        return None
    return result


def _cell(value: Any) -> Any:
    """A value as a spreadsheet cell: text that a spreadsheet would read as a formula
    (starting with =, +, -, @, a tab or a return) is quoted, per OWASP's advice."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _feedback_name(sub: Submission, taken: set[str]) -> str:
    """A feedback file name no other row has: students "lee kim" and "lee_kim" must
    not read each other's feedback, nor two files of one student share one."""
    name = f"{_safe(sub.student)}.md"
    if name in taken:
        key = f"{sub.student}/{printable(sub.path.name)}".encode()
        name = f"{_safe(sub.student)}-{hashlib.sha256(key).hexdigest()[:8]}.md"
    taken.add(name)
    return name


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name, flags=re.ASCII).strip("._") or "student"


def _text(value: Any, limit: int = 500) -> str:
    """Text that came from a submission, made inert for Markdown: one line (so it cannot
    start a heading or a score line of its own), HTML escaped, bounded."""
    flat = re.sub(r"[\r\n\v\f\x85\u2028\u2029]+", " ", str(value))[:limit]
    return html.escape(flat, quote=False)


def feedback(sub: Submission, result: dict[str, Any], review: list[str]) -> str:
    """The Markdown a student receives: per exercise, points and why points were lost."""
    lines = [
        f"# Feedback: {_text(sub.student)}",
        "",
        f"File: {_text(printable(sub.path.name))}  ",
        f"Score: **{result['total']:g} / {result['max']:g}** ({_text(result['status'])})",
        "",
    ]
    if result["status"] != "graded":
        lines += ["Your notebook could not be graded:", ""]
        lines += [f"- {_text(note)}" for note in result["notes"]] + [""]
    for name, ex in result["exercises"].items():
        mark = "✓" if ex["points"] == ex["max"] else "✗"
        lines.append(f"## {mark} `{name}`: {ex['points']:g} / {ex['max']:g}")
        lines.append("")
        summary = _text(ex["summary"])
        lines.append(summary[:1].upper() + summary[1:] + ".")
        for reason in ex["reasons"][:MAX_REASONS]:
            lines.append(f"- {_text(reason)}")
        if len(ex["reasons"]) > MAX_REASONS:
            lines.append(f"- ... and {len(ex['reasons']) - MAX_REASONS} more")
        lines.append("")
    if result["notes"] and result["status"] == "graded":
        lines += ["## Notes", ""] + [f"- {_text(note)}" for note in result["notes"]] + [""]
    if review:
        lines += [
            "## Flagged for your instructor",
            "",
            "Your instructor will read this notebook; nothing was deducted for it:",
            "",
        ]
        lines += [f"- {_text(reason)}" for reason in review] + [""]  # fmt: skip
    lines.append(
        "The grader runs only your imports, function and class definitions and constants, "
        "on inputs that differ from the notebook's self-checks "
        f"(isolation: {_text(result.get('isolation', 'unknown'))})."
    )
    return "\n".join(lines) + "\n"
