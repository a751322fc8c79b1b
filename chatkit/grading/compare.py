"""``--compare``: the target and the reference solution, scenario by scenario."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from chatkit.grading.report import MARKS, humanize
from chatkit.grading.results import GradeReport, Outcome, TestResult


def grade_both(target: str, grade: Callable[[str], GradeReport]) -> tuple[GradeReport, GradeReport]:
    """Grade the target and the solution at the same time (each in its own child)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        yours = pool.submit(grade, target)
        reference = pool.submit(grade, "solution")
        return yours.result(), reference.result()


def render_comparison(
    yours: GradeReport, reference: GradeReport, console: Console, *, every_failure: bool = False
) -> None:
    table = Table(
        title=f"{yours.target} ({yours.score}/100) against the solution ({reference.score}/100)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("scenario", overflow="fold")
    table.add_column("yours", justify="center")
    table.add_column("solution", justify="center")
    table.add_column("final timeline where they differ", overflow="fold")
    theirs = {result.nodeid: result for result in reference.results}
    for result in yours.results:
        other = theirs.get(result.nodeid)
        differ = other is not None and (result.outcome is Outcome.PASSED) != (
            other.outcome is Outcome.PASSED
        )
        table.add_row(
            f"{result.family} › {humanize(result.name)}",
            _mark(result),
            _mark(other),
            _timelines(result, other) if differ and other is not None else Text(""),
        )
    console.print(table)


def _mark(result: TestResult | None) -> Text:
    if result is None:
        return Text("–", style="dim")
    mark, style = MARKS[result.outcome]
    return Text(mark, style=style)


def _timelines(yours: TestResult, reference: TestResult) -> Text:
    text = Text()
    text.append("yours:    ", style="red")
    text.append(_final(yours) + "\n")
    text.append("solution: ", style="green")
    text.append(_final(reference))
    return text


def _final(result: TestResult) -> str:
    if not result.story:
        return f"(no timeline: {result.message or result.outcome.value})"
    timelines = result.story[-1].timelines
    return " | ".join(
        f"{user}: {' · '.join(lines) or '(empty)'}" for user, lines in timelines.items()
    )
