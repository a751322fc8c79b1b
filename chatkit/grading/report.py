"""Render a `GradeReport` for a person: one screen that says what to do next.

Score first, then a table per family, then the story of each failure — what
happened, step by step, the timeline expected against the one shown, and which
section of ``hints.md`` to read. Code that raised, hung or could not be imported
gets a panel with the file, the line and the message; never a raw traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from chatkit.grading.diagram import diagram
from chatkit.grading.diagram_text import LaneDiagram
from chatkit.grading.results import (
    FamilyResult,
    GradeReport,
    LoadError,
    Location,
    Outcome,
    TestResult,
)
from chatkit.target import display_path

FUNCTION_ORDER = ("send", "reconcile", "rollback")
BAR_WIDTH = 40

MARKS = {
    Outcome.PASSED: ("✓", "green"),
    Outcome.FAILED: ("✗", "red"),
    Outcome.TIMED_OUT: ("⧗", "yellow"),
    Outcome.NOT_WRITTEN: ("·", "dim"),
    Outcome.CRASHED: ("!", "magenta"),
}


def render(
    report: GradeReport,
    console: Console,
    *,
    every_failure: bool = False,
    diagrams: bool = True,
) -> None:
    """Print the whole report. ``every_failure`` tells every failure's story, not one per
    family; ``diagrams`` draws each story's lanes under it."""
    console.print(_header(report))
    if report.load_error is not None:
        console.print(_load_error_panel(report))
        return
    for table in _family_tables(report.families):
        console.print(table)
    not_written = [r for r in report.results if r.outcome is Outcome.NOT_WRITTEN]
    if not_written:
        console.print(_not_written_panel(report, not_written))
    alike, told, untold = pick_failures(report, every_failure)
    for results in alike:
        console.print(
            failure_panel(results[0], alike=results, every_failure=every_failure, diagrams=diagrams)
        )
    for result in told:
        console.print(failure_panel(result, diagrams=diagrams))
    if untold:
        console.print(_also_failing(untold))
    if alike or told or untold or report.exit_code == 0:
        console.print(_footer(report))


def summary_line(report: GradeReport) -> str:
    """One line: for ``--quiet`` and for logs."""
    error = report.load_error
    if error is not None:
        first = error.message.splitlines()[0] if error.message else ""
        if error.refused and error.location is not None:
            where = error.location
            first = f"{where.file}, line {where.line}: {where.code}"
        return f"{report.target}: {load_error_title(error).lower()}: {first}"
    return f"{report.target}: {report.score}/100 ({report.passed} of {len(report.results)} scenarios pass)"


def _header(report: GradeReport) -> Panel:
    score = report.score
    colour = "green" if score == 100 else "yellow" if score >= 50 else "red"
    filled = round(BAR_WIDTH * score / 100)
    bar = Text.assemble(("━" * filled, colour), ("━" * (BAR_WIDTH - filled), "grey23"))
    line = Table.grid(padding=(0, 2))
    line.add_row(Text(f"{score:>3} / 100", style=f"bold {colour}"), bar)
    parts: list[RenderableType] = [line]
    if report.results:
        parts.append(Text(f"{report.passed} of {len(report.results)} scenarios pass", style="dim"))
    return Panel(
        Group(*parts),
        title=f"[bold]Chat Message Flow[/] · grading [cyan]{display_path(report.path)}[/]",
        title_align="left",
        box=box.ROUNDED,
    )


def _family_tables(families: list[FamilyResult]) -> list[Table]:
    """A table per family, all as wide as each other, with the names in one column.

    Tables of their own natural widths look ragged one under another; the same column
    widths in every table make the report read as a single list.
    """
    results = [result for family in families for result in family.results]
    name_width = max([1, *(len(humanize(result.name)) for result in results)])
    note_width = max([1, *(len(result_note(result)) for result in results)])
    return [_family_table(family, name_width, note_width) for family in families]


def _family_table(family: FamilyResult, name_width: int, note_width: int) -> Table:
    timed_out = family.count(Outcome.TIMED_OUT)
    extra = f" · {timed_out} timed out" if timed_out else ""
    table = Table(
        title=f"[bold]{family.family.name}[/] — {family.passed}/{family.total} pass{extra}"
        f" · weight {family.family.weight}",
        caption=family.family.about,
        title_justify="left",
        caption_justify="left",
        box=box.SIMPLE,
        show_header=False,
        pad_edge=False,
        expand=False,
    )
    table.add_column(width=1)
    table.add_column(width=name_width, overflow="fold")
    table.add_column(width=note_width, style="dim", overflow="fold")
    for result in family.results:
        mark, style = MARKS[result.outcome]
        table.add_row(Text(mark, style=style), humanize(result.name), result_note(result))
    return table


def result_note(result: TestResult) -> str:
    """A table row's last column: what a pass measured, or in short why it failed."""
    return result.note if result.outcome is Outcome.PASSED else _short_reason(result)


def _short_reason(result: TestResult) -> str:
    if result.outcome is Outcome.NOT_WRITTEN:
        return f"not written yet ({result.function})"
    if result.rule:
        return result.rule
    return result.outcome.value


def humanize(test_name: str) -> str:
    """``test_echo_before_ack[3]`` → ``echo before ack [3]``."""
    name = test_name.removeprefix("test_")
    base, bracket, rest = name.partition("[")
    return base.replace("_", " ") + (f" [{rest}" if bracket else "")


def _not_written_panel(report: GradeReport, results: list[TestResult]) -> Panel:
    functions = sorted(
        {r.function or "?" for r in results},
        key=lambda f: FUNCTION_ORDER.index(f) if f in FUNCTION_ORDER else len(FUNCTION_ORDER),
    )
    first = functions[0]
    where = results[0].location.file if results[0].location else report.path
    text = Text()
    text.append(
        f"{len(results)} scenarios stop at a function that still raises NotImplementedError: "
    )
    text.append(", ".join(functions), style="bold")
    text.append(".\n\nStart here: ", style="bold")
    text.append(f"open {where} and write ")
    text.append(first, style="bold cyan")
    text.append(". Its docstring says what it must do; ")
    text.append(f"hints.md › {first}", style="cyan")
    text.append(" has a nudge if you are stuck. Then run ")
    text.append("python grader.py", style="bold")
    text.append(" again.")
    return Panel(text, title="Not written yet", title_align="left", border_style="blue")


def pick_failures(
    report: GradeReport, every_failure: bool
) -> tuple[list[list[TestResult]], list[TestResult], list[TestResult]]:
    """The same error met in several scenarios, grouped; the other failures to tell in full
    (the first of each family); and the rest."""
    failing = [
        r
        for family in report.families
        for r in family.results
        if r.outcome not in (Outcome.PASSED, Outcome.NOT_WRITTEN)
    ]
    groups: dict[tuple[object, ...], list[TestResult]] = {}
    for result in failing:
        groups.setdefault(_same_error_key(result) or (result.nodeid,), []).append(result)
    alike = [results for results in groups.values() if len(results) > 1]
    grouped = {result.nodeid for results in alike for result in results}
    told: list[TestResult] = []
    untold: list[TestResult] = []
    for family in report.families:
        alone = [r for r in failing if r.family == family.family.name and r.nodeid not in grouped]
        told += alone if every_failure else alone[:1]
        untold += [] if every_failure else alone[1:]
    return alike, told, untold


def _same_error_key(result: TestResult) -> tuple[object, ...] | None:
    """What makes failures one error told once: the same exception at the same line.

    Only crashes and hangs: a broken rule's story belongs to its scenario, but a
    NameError in ``send`` is the same news in every scenario that sends.
    """
    if result.outcome not in (Outcome.CRASHED, Outcome.TIMED_OUT) or result.rule is not None:
        return None
    where = result.location
    return (
        result.outcome,
        result.error_type,
        result.message,
        where.file if where else None,
        where.line if where else None,
    )


def failure_panel(
    result: TestResult,
    *,
    alike: Sequence[TestResult] = (),
    every_failure: bool = False,
    diagrams: bool = True,
) -> Panel:
    """The story of one failing scenario; of the first of ``alike``, when many met one error.

    With ``diagrams`` the story is drawn under its text as lanes: who sent what to whom.
    """
    parts: list[RenderableType] = []
    if alike:
        parts.append(_alike(alike, every_failure))
    if result.about:
        parts.append(Text(result.about, style="italic"))
    if result.story:
        parts.append(_story(result))
        drawn = diagram(result.story) if diagrams else None
        if drawn is not None:
            parts.append(LaneDiagram(drawn))
    if result.outcome is Outcome.CRASHED and result.location is not None:
        parts.append(_location(result.location, result.error_type, result.message))
    else:
        verdict = Text()
        if result.rule:
            verdict.append(f"Broke {result.rule}: ", style="bold red")
        elif result.outcome is Outcome.TIMED_OUT:
            verdict.append("Timed out: ", style="bold yellow")
        else:
            verdict.append(f"{result.error_type or 'Failed'}: ", style="bold red")
        verdict.append(result.message)
        parts.append(verdict)
        if result.note:
            parts.append(Text(f"Measured: {result.note}", style="dim"))
        if result.location is not None:
            parts.append(_location(result.location, None, None))
    if result.expected is not None or result.actual is not None:
        parts.append(_expected_actual(result.expected, result.actual))
    parts.append(_read_next(result))
    mark, style = MARKS[result.outcome]
    name = alike_title(alike) if alike else humanize(result.name)
    return Panel(
        Group(*_spaced(parts)),
        title=f"[{style}]{mark}[/] {'' if alike else result.family + ' › '}{name}",
        title_align="left",
        border_style=style,
    )


def alike_title(results: Sequence[TestResult]) -> str:
    first = results[0]
    what = "hang" if first.outcome is Outcome.TIMED_OUT else "error"
    where = f" in {first.location.function}" if first.location else ""
    error = f": {first.error_type}{where}" if first.error_type else where
    return f"the same {what} in {len(results)} scenarios{error}"


def _alike(results: Sequence[TestResult], every_failure: bool) -> Text:
    """Which scenarios met the error: each by name with ``every_failure``, else per family."""
    what = "hang" if results[0].outcome is Outcome.TIMED_OUT else "error"
    text = Text(f"{len(results)} scenarios stop at the same {what}", style="bold")
    if every_failure:
        text.append(":")
        for result in results:
            text.append(f"\n  {result.family} › {humanize(result.name)}")
    else:
        counts: dict[str, int] = {}
        for result in results:
            counts[result.family] = counts.get(result.family, 0) + 1
        text.append(": " + " · ".join(f"{family} ({n})" for family, n in counts.items()) + ".")
    first = results[0]
    text.append(f"\nFix it once. What happened in the first, {first.family} › ", style="dim")
    text.append(f"{humanize(first.name)}:", style="dim")
    return text


def _story(result: TestResult) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", style="dim")
    table.add_column(overflow="fold")
    several = len({user for step in result.story for user in step.timelines}) > 1
    for step in result.story:
        table.add_row(f"{step.number}.", Text(step.text, style="bold"))
        for user, timeline in step.timelines.items():
            shown = " · ".join(timeline) if timeline else "(empty)"
            label = ("you see " if user == "you" else f"{user} sees ") if several else "screen: "
            table.add_row("", Text(label + shown, style="dim"))
        if step.printed:
            table.add_row("", Text("your code printed: " + step.printed.rstrip(), style="yellow"))
        if step.broke:
            table.add_row("", Text(f"✗ {step.broke} broke here", style="bold red"))
    return table


def _location(location: Location, error_type: str | None, message: str | None) -> Text:
    text = Text()
    text.append(f"{location.file}, line {location.line}, in {location.function}", style="bold")
    if location.code:
        text.append(f"\n    {location.code}", style="cyan")
    if error_type:
        text.append(f"\n{error_type}: ", style="bold red")
        text.append(message or "")
    return text


def _expected_actual(expected: list[str] | None, actual: list[str] | None) -> Table:
    """Expected beside actual, every line in full; just the actual when no expectation."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    columns = [] if expected is None else [expected]
    if expected is not None:
        table.add_column("expected", style="green", overflow="fold")
    table.add_column("your code shows", style="red", overflow="fold")
    columns.append(actual or ["(nothing)"])
    for index in range(max(len(column) for column in columns)):
        table.add_row(*(column[index] if index < len(column) else "" for column in columns))
    return table


def _read_next(result: TestResult) -> Text:
    text = Text("Read: ", style="dim")
    sections = [f"hints.md › {result.family}"]
    if result.function:
        sections.insert(0, f"hints.md › {result.function}")
    text.append(" · ".join(sections), style="cyan")
    return text


def _also_failing(results: list[TestResult]) -> Panel:
    table = Table.grid(padding=(0, 1))
    table.add_column()
    table.add_column(overflow="fold")
    for result in results:
        mark, style = MARKS[result.outcome]
        table.add_row(
            Text(mark, style=style),
            Text.assemble(
                (f"{result.family} › {humanize(result.name)}", "bold"),
                f" — {_short_reason(result)}: {result.message}",
            ),
        )
    return Panel(
        table,
        title="Also failing (run with --every-failure for their stories)",
        title_align="left",
        border_style="dim",
    )


def _load_error_panel(report: GradeReport) -> Panel:
    error = report.load_error
    assert error is not None
    parts: list[RenderableType] = []
    if error.location is not None:
        parts.append(_location(error.location, error.error_type, error.message))
    else:
        parts.append(Text(f"{error.error_type + ': ' if error.error_type else ''}{error.message}"))
    parts.append(
        Text(
            "No scenario ran. Fix this first, then run the grader again.",
            style="dim",
        )
    )
    return Panel(
        Group(*_spaced(parts)),
        title=f"[red]{load_error_title(error)}[/]",
        title_align="left",
        border_style="red",
    )


def load_error_title(error: LoadError) -> str:
    """A refused grade is not a crash: the code loaded, but may not be graded as it is."""
    if error.missing:
        return "Nothing to grade there"
    return "Grade refused" if error.refused else "Your code could not be loaded"


def _footer(report: GradeReport) -> Text:
    if report.exit_code == 0:
        return Text(
            "Every scenario passes. Compare your code with solution/flow.py — "
            "or break it on purpose and watch which family notices.",
            style="green",
        )
    return Text("Fix the first failure above, then run the grader again.", style="bold")


def _spaced(parts: Iterable[RenderableType]) -> list[RenderableType]:
    spaced: list[RenderableType] = []
    for part in parts:
        if spaced:
            spaced.append(Text(""))
        spaced.append(part)
    return spaced
