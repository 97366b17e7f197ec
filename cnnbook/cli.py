"""The `cnnbook` command. Today it has one job: `cnnbook grade`, for instructors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnnbook.grading.engine.sandbox import Limits


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError("write the shard as I/N, e.g. 0/3") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError("the shard index must satisfy 0 <= I < N")
    return i, n


def add_grade_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", type=Path, help="folder of handed-in .ipynb files")
    parser.add_argument("--chapter", required=True, help="chapter number, e.g. 01")
    parser.add_argument("--out", type=Path, required=True, help="folder for grades and feedback")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="notebooks graded in parallel")
    parser.add_argument("--seed", type=int, help="seed of the hidden inputs (default: kept in OUT)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per exercise")
    parser.add_argument("--memory-mb", type=int, default=2048, help="memory per submission")
    parser.add_argument(
        "--shard",
        type=_shard,
        default=(0, 1),
        help="grade only part I of N, to spread a batch over machines",
    )
    parser.add_argument("--allow-unisolated", action="store_true",
                        help="grade even where submissions cannot run in namespaces "
                             "(no bubblewrap): only for submissions you trust")  # fmt: skip


def run_grade(args: argparse.Namespace) -> int:
    from cnnbook.grading.engine.grader import IsolationError, grade_folder

    if not args.submissions.is_dir():
        print(f"{args.submissions}: not a folder", file=sys.stderr)
        return 2
    limits = Limits(timeout=args.timeout, memory_bytes=args.memory_mb * 2**20)
    try:
        rows = grade_folder(args.submissions, args.chapter, args.out, jobs=args.jobs,
                            seed=args.seed, limits=limits, shard=args.shard,
                            require_isolation=not args.allow_unisolated)  # fmt: skip
    except IsolationError as error:
        print(f"cnnbook grade: {error}", file=sys.stderr)
        return 2
    graded = sum(1 for r in rows if r["status"] == "graded")
    print(f"{graded} of {len(rows)} notebooks graded; see {args.out / 'grades.csv'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cnnbook", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade a folder of exercise notebooks")
    add_grade_arguments(grade)
    args = parser.parse_args(argv)
    return run_grade(args)


if __name__ == "__main__":
    sys.exit(main())
