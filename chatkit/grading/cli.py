"""``python grader.py``: grade a target and print the report; ``python grader.py hint``.

Exit status: 0 every scenario passed, 1 some failed, 2 the target could not be loaded.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from chatkit.grading.compare import grade_both, render_comparison
from chatkit.grading.exports import write_exercism, write_junit
from chatkit.grading.hints import HintProgress, hints_file, parse_hints
from chatkit.grading.report import render, summary_line
from chatkit.grading.results import GradeReport, Outcome, TestResult
from chatkit.grading.runner import GraderError, grade
from chatkit.grading.watch import watch_and_grade
from chatkit.target import TargetError, resolve_target


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grader.py",
        description="Grade your send / reconcile / rollback against the scenarios.",
        epilog="python grader.py hint [TOPIC] shows the next hint for a function or family.",
    )
    add_grade_arguments(parser)
    commands = parser.add_subparsers(dest="command", metavar="hint")
    hint = commands.add_parser("hint", help="show the next hint for a function or family")
    hint.add_argument("topic", nargs="?", help="send, reconcile, rollback or a family name")
    hint.add_argument("--reset", action="store_true", help="start this topic's hints over")
    hint.add_argument("--target", default=argparse.SUPPRESS, help="whose hint progress to use")
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
        "--tests",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="grade these scenario files or folders instead of the kit's (repeatable)",
    )
    parser.add_argument(
        "--every-failure",
        action="store_true",
        help="tell the story of every failure, not just the first of each family",
    )
    parser.add_argument("--quiet", action="store_true", help="print one summary line")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write exercism v3 results")
    parser.add_argument("--junit", type=Path, metavar="PATH", help="write JUnit XML results")
    parser.add_argument(
        "--watch", action="store_true", help="grade again whenever a file of the target changes"
    )
    parser.add_argument(
        "--compare", action="store_true", help="run the reference solution side by side"
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    if getattr(args, "command", None) == "hint":
        return show_hint(args, console)
    try:
        if args.compare:
            return _compare(args, console)
        if args.watch:
            return _watch(args, console)
        report = _grade_with_progress(args, console)
    except GraderError as error:
        console.print(f"[red]The grader could not run the scenarios:[/] {error}")
        return 2
    _show(report, args, console)
    return report.exit_code


def _grade(
    args: argparse.Namespace,
    target: str,
    on_collected: Callable[[int], None] | None = None,
    on_result: Callable[[TestResult], None] | None = None,
) -> GradeReport:
    return grade(
        target,
        families=args.family,
        keyword=args.keyword,
        tests=args.tests,
        on_collected=on_collected,
        on_result=on_result,
    )


def _grade_with_progress(args: argparse.Namespace, console: Console) -> GradeReport:
    if args.quiet or not console.is_terminal:
        return _grade(args, args.target)
    columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("grading", total=None)
        return _grade(
            args,
            args.target,
            on_collected=lambda total: progress.update(task, total=total),
            on_result=lambda _: progress.advance(task),
        )


def _show(report: GradeReport, args: argparse.Namespace, console: Console) -> None:
    if args.json:
        write_exercism(report, args.json)
    if args.junit:
        write_junit(report, args.junit)
    if args.quiet:
        console.print(summary_line(report))
    else:
        render(report, console, every_failure=args.every_failure)
    _remember_topic(report)


def _compare(args: argparse.Namespace, console: Console) -> int:
    yours, reference = grade_both(args.target, partial(_grade, args))
    _show(yours, args, console)
    render_comparison(yours, reference, console)
    return yours.exit_code


def _watch(args: argparse.Namespace, console: Console) -> int:
    folder = _target_file(args.target).parent
    scores = watch_and_grade(
        folder,
        lambda: _grade(args, args.target),
        lambda report: _show(report, args, console),
        console,
    )
    return 0 if scores and scores[-1] == 100 else 1


def _target_file(target: str) -> Path:
    """The target's flow.py, or the name as given when it does not resolve (yet)."""
    try:
        return resolve_target(target)
    except TargetError:
        return Path(target)


def _remember_topic(report: GradeReport) -> None:
    """Note the first failure's topic, so a bare ``hint`` knows where to help."""
    failing = [r for r in report.results if r.outcome is not Outcome.PASSED]
    if report.load_error is not None or not failing:
        return
    progress = HintProgress.beside(Path(report.path))
    progress.last_topic = failing[0].function or failing[0].family
    progress.save()


def show_hint(args: argparse.Namespace, console: Console) -> int:
    topics = parse_hints(hints_file().read_text(encoding="utf-8"))
    progress = HintProgress.beside(_target_file(args.target))
    wanted = (args.topic or progress.last_topic or "").lower()
    matches = [name for name in topics if name == wanted] or [
        name for name in topics if wanted and name.startswith(wanted)
    ]
    if not matches:
        console.print(
            ("No hints about that. " if wanted else "")
            + "Topics: "
            + ", ".join(topics)
            + "\nRun [bold]python grader.py hint TOPIC[/]."
        )
        return 2 if wanted else 0
    topic = matches[0]
    if args.reset:
        progress.shown.pop(topic, None)
    found = progress.next_hint(topic, topics[topic])
    progress.save()
    if found is None:
        console.print(
            f"You have seen all {len(topics[topic])} hints for [bold]{topic}[/]. "
            f"[dim]python grader.py hint {topic} --reset[/] starts over."
        )
        return 0
    level, text = found
    from rich.markdown import Markdown  # only the hint screen needs it

    console.print(
        Panel(
            Markdown(text),
            title=f"{topic} · hint {level} of {len(topics[topic])}",
            title_align="left",
            border_style="cyan",
        )
    )
    return 0
