"""Write the student notebooks in `exercises/` from the master notebooks in `solutions/`.

The solutions are the single source of truth: every line between ``### BEGIN SOLUTION``
and ``### END SOLUTION`` becomes one ``raise NotImplementedError`` at the same indent, and
the nbval markers (meaningless to students) are dropped. Run
``python -m cnnbook.grading.generate`` after editing a solution; ``--check`` exits
non-zero when a committed exercise notebook is out of date, which the tests use.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("your code here")'


def stub_source(source: str, where: str = "cell") -> str:
    """`source` with each solution block replaced by a stub raising NotImplementedError."""
    out: list[str] = []
    inside = False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"{where}: nested {BEGIN}")
            if _directly_in_class(out, line):
                raise ValueError(
                    f"{where}: {BEGIN} directly in a class body would raise when the "
                    "class is defined; put the markers inside its methods"
                )
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + STUB)
        elif stripped == END:
            if not inside:
                raise ValueError(f"{where}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} is never closed")
    return "\n".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _directly_in_class(previous: list[str], line: str) -> bool:
    """Whether `line` sits in a class body rather than in a function."""
    for earlier in reversed(previous):
        if earlier.strip() and _indent(earlier) < _indent(line):
            return earlier.lstrip().startswith("class ")
    return False


def make_exercise(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student notebook for one solutions notebook."""
    exercise = copy.deepcopy(solution)
    for index, cell in enumerate(exercise.cells):
        if cell.cell_type == "code":
            cell.source = stub_source(cell.source, f"{name}, cell {index}")
    return exercise


def render(solution_path: Path) -> str:
    """The exact text the exercise notebook for `solution_path` must contain."""
    solution = nbformat.read(solution_path, as_version=4)
    return nbformat.writes(make_exercise(solution, solution_path.name)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root")
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    args = parser.parse_args(argv)
    stale = []
    for solution_path in sorted((args.root / "solutions").glob("*.ipynb")):
        target = args.root / "exercises" / solution_path.name
        text = render(solution_path)
        if target.exists() and target.read_text() == text:
            continue
        stale.append(target)
        if not args.check:
            target.parent.mkdir(exist_ok=True)
            target.write_text(text)
    verb = "out of date" if args.check else "written"
    for path in stale:
        print(f"{path}: {verb}")
    if args.check and stale:
        print("Run `python -m cnnbook.grading.generate` to regenerate the exercises.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
