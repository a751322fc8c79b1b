"""``python grader.py``: grade a target and print the report.

Exit status: 0 every scenario passed, 1 some failed, 2 the target could not be loaded.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from chatkit.grading.report import render, summary_line
from chatkit.grading.results import GradeReport
from chatkit.grading.runner import GraderError, grade


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grader.py",
        description="Grade your send / reconcile / rollback against the scenarios.",
    )
    add_grade_arguments(parser)
    return parser


def add_grade_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        default="starter",
        help="what to grade: starter (default), solution, or a folder or file with flow.py",
    )
    parser.add_argument(
        "--family",
        action="append",
        default=[],
        metavar="NAME",
        help="grade only this scenario family (repeatable), e.g. --family duplicates",
    )
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="only scenarios matching EXPR")
    parser.add_argument(
        "--every-failure",
        action="store_true",
        help="tell the story of every failure, not just the first of each family",
    )
    parser.add_argument("--quiet", action="store_true", help="print one summary line")


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    try:
        report = _grade_with_progress(args, console)
    except GraderError as error:
        console.print(f"[red]The grader could not run the scenarios:[/] {error}")
        return 2
    if args.quiet:
        console.print(summary_line(report))
    else:
        render(report, console, every_failure=args.every_failure)
    return report.exit_code


def _grade_with_progress(args: argparse.Namespace, console: Console) -> GradeReport:
    if args.quiet or not console.is_terminal:
        return grade(args.target, families=args.family, keyword=args.keyword)
    columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("grading", total=None)
        return grade(
            args.target,
            families=args.family,
            keyword=args.keyword,
            on_collected=lambda total: progress.update(task, total=total),
            on_result=lambda _: progress.advance(task),
        )
