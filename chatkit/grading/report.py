"""Render a `GradeReport` for a person: one screen that says what to do next.

The score, a line per family, then the story of the one failure to fix next — what
happened, step by step, the timeline expected against the one shown, the line to look
at and which section of ``hints.md`` to read — and a line per family for the rest.
What to tell is decided in `chatkit.grading.summary`; this module only draws it. Code
that raised, hung or could not be imported gets a panel with the file, the line and the
message; never a raw traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

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
from chatkit.grading.summary import (
    NextFix,
    alike_groups,
    failing,
    family_lines,
    folded,
    hint_sections,
    humanize,
    next_fix,
    other_failures,
    reason,
    scenarios,
    shortened,
)
from chatkit.target import display_path

__all__ = [
    "MARKS",
    "alike_title",
    "failure_panel",
    "humanize",
    "load_error_title",
    "next_step",
    "pick_failures",
    "render",
    "result_note",
    "summary_line",
]

BAR_WIDTH = 40
NOTE_SHARE = 0.45
"""At most this share of a family table's width goes to the notes column."""

_ONE_LINE: dict[str, Any] = {"no_wrap": True, "overflow": "ellipsis"}
"""A cell that keeps to one line, ending in "…" when its column is narrower than it."""

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
    partial: Sequence[str] = (),
) -> None:
    """Print the report.

    By default it fits a terminal: the score, a line per family, the story of the one
    failure to fix next, and a line per family for the rest. ``every_failure`` tells
    every failure's story under a table per family; ``partial`` (a ``--family`` or
    ``-k`` run) says what was graded, family by family, instead of a score, and lists
    each scenario; ``diagrams`` draws each story's lanes under it.
    """
    console.print(_header(report, partial))
    if report.load_error is not None:
        console.print(_load_error_panel(report))
        return
    fix = next_fix(report)
    if every_failure or partial:
        for table in _family_tables(report.families, console.width):
            console.print(table)
    else:
        console.print(_compact_table(report))
    if every_failure:
        if fix is not None and fix.not_written:  # a stub has no story of its own to tell
            console.print(_next_fix_panel(fix, report, diagrams=diagrams))
        for results, result in _every_story(report):
            console.print(
                failure_panel(result, alike=results, every_failure=True, diagrams=diagrams)
            )
    elif fix is not None:
        console.print(_next_fix_panel(fix, report, diagrams=diagrams))
        told = fix.alike or [fix.result]
        others = other_failures(report, told)
        if others:
            console.print(_also_failing(others))
    console.print(_footer(report, fix))


def plain_console() -> Console:
    """The grader's console: nothing it prints is read as rich markup or emoji codes, so a
    learner's message in square brackets (``[link=…]``) or colons (``:white_check_mark:``)
    is shown as written; the kit's own styles are given as `Text` styles, never as markup."""
    return Console(highlight=False, markup=False, emoji=False)


def summary_line(report: GradeReport, *, partial: Sequence[str] = ()) -> str:
    """One line: for ``--quiet`` and for logs. A partial run gives its `partial_lines`, which
    say what it graded, family by family, rather than a score that is not the grade."""
    error = report.load_error
    if error is not None:
        first = " ".join(error.message.split("\n", 1)[0].split())  # one line, whatever it holds
        if error.refused and error.location is not None and error.location.code:
            where = error.location
            first = f"{where.file}, line {where.line}: {where.code}"
        return f"{report.target}: {load_error_title(error).lower()}: {first}"
    if partial and report.results:
        return f"{report.target}: " + "; ".join(partial)
    return f"{report.target}: {report.score}/100 ({report.passed} of {scenarios(len(report.results))} pass)"


def _header(report: GradeReport, partial: Sequence[str]) -> Panel:
    """The score and its bar; for a partial run, what was graded instead of a score."""
    parts: list[RenderableType] = []
    if partial:
        parts += [Text(line, style="bold") for line in partial]
        parts.append(
            Text("A part of the grade: run without --family and -k for your score.", style="dim")
        )
    else:
        score = report.score
        colour = "green" if score == 100 else "yellow" if score >= 50 else "red"
        filled = round(BAR_WIDTH * score / 100)
        bar = Text.assemble(("━" * filled, colour), ("━" * (BAR_WIDTH - filled), "grey23"))
        line = Table.grid(padding=(0, 2))
        line.add_row(Text(f"{score:>3} / 100", style=f"bold {colour}"), bar)
        parts.append(line)
        if report.results:
            parts.append(
                Text(f"{report.passed} of {scenarios(len(report.results))} pass", style="dim")
            )
    return Panel(
        Group(*parts),
        title=Text.assemble(
            ("Chat Message Flow", "bold"), " · grading ", (display_path(report.path), "cyan")
        ),
        title_align="left",
        box=box.ROUNDED,
    )


def _compact_table(report: GradeReport) -> Table:
    """One line per family: its mark, passed of total, and its first failing scenario.

    Every cell keeps to its line (a long name ends in "…"), so the table is as many
    lines as there are families at any width, and the marks never fold away.
    """
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=False)
    table.add_column("", no_wrap=True, min_width=1)
    table.add_column("family", no_wrap=True, overflow="ellipsis")
    table.add_column("pass", justify="right", no_wrap=True, min_width=5)
    table.add_column("first failing scenario", overflow="ellipsis")  # may narrow, never wrap
    for line in family_lines(report):
        family = line.family
        mark, style = MARKS[line.outcome]
        first = line.first_failing
        table.add_row(
            Text(mark, style=style),
            family.family.name,
            f"{family.passed}/{family.total}",
            Text(humanize(first.name) if first else "all pass", **_ONE_LINE),
        )
    return table


def _family_tables(families: list[FamilyResult], width: int) -> list[Table]:
    """A table per family, all as wide as each other, with the names in one column.

    Tables of their own natural widths look ragged one under another; the same column
    widths in every table make the report read as a single list. The notes take at most
    `NOTE_SHARE` of the width and the mark column never folds, so a ✓ or ✗ stays on
    every row however narrow the terminal.
    """
    results = [result for family in families for result in family.results]
    room = max(20, width - 8)  # the mark, the padding and the two dividers between columns
    note_width = min(max([1, *(len(result_note(r)) for r in results)]), int(room * NOTE_SHARE))
    name_width = min(max([1, *(len(humanize(r.name)) for r in results)]), room - note_width)
    return [_family_table(family, name_width, note_width) for family in families]


def _family_table(family: FamilyResult, name_width: int, note_width: int) -> Table:
    timed_out = family.count(Outcome.TIMED_OUT)
    extra = f" · {timed_out} timed out" if timed_out else ""
    table = Table(
        title=Text.assemble(
            (family.family.name, "bold"),
            f" — {family.passed}/{family.total} pass{extra} · weight {family.family.weight}",
        ),
        caption=family.family.about,
        title_justify="left",
        caption_justify="left",
        box=box.SIMPLE,
        show_header=False,
        pad_edge=False,
        expand=False,
    )
    table.add_column(width=1, min_width=1, no_wrap=True)
    table.add_column(width=name_width, overflow="fold")
    table.add_column(width=note_width, style="dim", overflow="fold")
    for result in family.results:
        mark, style = MARKS[result.outcome]
        table.add_row(Text(mark, style=style), humanize(result.name), result_note(result))
    return table


def result_note(result: TestResult) -> str:
    """A table row's last column: what a pass measured, or in short why it failed."""
    return result.note if result.outcome is Outcome.PASSED else reason(result)


def pick_failures(report: GradeReport) -> tuple[list[list[TestResult]], list[TestResult]]:
    """Every failure to tell (stubs aside): the same error met in several scenarios, grouped
    to be told once; and each other failure, family by family."""
    fails = [r for r in failing(report) if r.outcome is not Outcome.NOT_WRITTEN]
    alike = alike_groups(fails)
    grouped = {result.nodeid for results in alike for result in results}
    return alike, [r for r in fails if r.nodeid not in grouped]


def _every_story(report: GradeReport) -> Iterator[tuple[list[TestResult], TestResult]]:
    """For ``--every-failure``: each shared error once, then every other failure."""
    alike, told = pick_failures(report)
    for results in alike:
        yield results, results[0]
    for result in told:
        yield [], result


def _next_fix_panel(fix: NextFix, report: GradeReport, *, diagrams: bool) -> Panel:
    """The story to read first. For a stub, it starts by saying where to start."""
    if not fix.not_written:
        return failure_panel(fix.result, alike=fix.alike, diagrams=diagrams, fold=True)
    function = fix.function or "?"
    where = fix.result.location.file if fix.result.location else display_path(report.path)
    lead = Text()
    lead.append("Not written yet. ", style="bold")
    lead.append(f"{scenarios(fix.stopped)} stop at ")
    lead.append(function, style="bold cyan")
    lead.append(", which still raises NotImplementedError. Open ")
    lead.append(where, style="bold")
    lead.append(f" and write {function}: its docstring says what it must do. The first scenario ")
    lead.append("it stops, ")
    lead.append(f"{fix.result.family} › {humanize(fix.result.name)}", style="bold")
    lead.append(":")
    return failure_panel(
        fix.result,
        lead=lead,
        diagrams=diagrams,
        title=f"Start here: write {function}",
    )


def failure_panel(
    result: TestResult,
    *,
    alike: Sequence[TestResult] = (),
    every_failure: bool = False,
    diagrams: bool = True,
    lead: Text | None = None,
    title: str | None = None,
    fold: bool = False,
) -> Panel:
    """The story of one failing scenario; of the first of ``alike``, when many met one error.

    With ``diagrams`` the story is drawn under its text as lanes: who sent what to whom.
    ``lead`` and ``title`` replace the panel's first line and title (the "start here");
    ``fold`` tells a long story by its start and end, to keep the report on one screen.
    """
    parts: list[RenderableType] = []
    if lead is not None:
        parts.append(lead)
    if alike:
        parts.append(_alike(alike, every_failure))
    if result.about:
        parts.append(Text(result.about, style="italic"))
    if result.story:
        parts.append(_story(result, fold))
        drawn = diagram(result.story) if diagrams else None
        if drawn is not None:
            parts.append(LaneDiagram(drawn))
    if result.outcome in (Outcome.CRASHED, Outcome.NOT_WRITTEN) and result.location is not None:
        parts.append(_location(result.location, result.error_type, result.message))
    else:
        verdict = Text()
        if result.rule:
            verdict.append(f"Broke {result.rule}: ", style="bold red")
        elif result.outcome is Outcome.TIMED_OUT:
            verdict.append("Timed out: ", style="bold yellow")
        else:
            verdict.append(f"{result.error_type or 'Failed'}: ", style="bold red")
        verdict.append(shortened(result.message))
        parts.append(verdict)
        if result.note:
            parts.append(Text(f"Measured: {result.note}", style="dim"))
        if result.location is not None:
            parts.append(_location(result.location, None, None))
    if _shows_more(result):
        parts.append(_expected_actual(result.expected, result.actual))
    parts.append(_read_next(result))
    mark, style = MARKS[result.outcome]
    name = alike_title(alike) if alike else f"{result.family} › {humanize(result.name)}"
    return Panel(
        Group(*_spaced(parts)),
        title=Text.assemble((mark, style), f" {title or name}"),
        title_align="left",
        border_style="blue" if lead is not None else style,
    )


def _shows_more(result: TestResult) -> bool:
    """Whether the expected and actual timelines say more than the story's last screen."""
    if result.expected is None and result.actual is None:
        return False
    last = result.story[-1].timelines.get("you") if result.story else None
    return result.expected is not None or result.actual != last


def alike_title(results: Sequence[TestResult]) -> str:
    first = results[0]
    what = "hang" if first.outcome is Outcome.TIMED_OUT else "error"
    where = f" in {first.location.function}" if first.location else ""
    error = f": {first.error_type}{where}" if first.error_type else where
    return f"the same {what} in {scenarios(len(results))}{error}"


def _alike(results: Sequence[TestResult], every_failure: bool) -> Text:
    """Which scenarios met the error: each by name with ``every_failure``, else per family."""
    what = "hang" if results[0].outcome is Outcome.TIMED_OUT else "error"
    text = Text(f"{scenarios(len(results))} stop at the same {what}", style="bold")
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
    text.append(f"\nFix it once. What happened in {first.family} › ", style="dim")
    text.append(f"{humanize(first.name)}:", style="dim")
    return text


def _story(result: TestResult, fold: bool) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", style="dim")
    table.add_column(overflow="fold")
    several = len({user for step in result.story for user in step.timelines}) > 1
    for step in folded(result.story) if fold else result.story:
        if isinstance(step, int):
            left_out = (
                f"… {step} more {'step' if step == 1 else 'steps'} (--every-failure tells them)"
            )
            table.add_row("", Text(left_out, style="dim"))
            continue
        table.add_row(f"{step.number}.", Text(shortened(step.text), style="bold"))
        for user, timeline in step.timelines.items():
            shown = " · ".join(shortened(row) for row in timeline) if timeline else "(empty)"
            label = ("you see " if user == "you" else f"{user} sees ") if several else "screen: "
            table.add_row("", Text(label + shown, style="dim"))
        if step.printed:
            printed = shortened(step.printed.rstrip(), limit=200)
            table.add_row("", Text("your code printed: " + printed, style="yellow"))
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
        text.append(shortened(message or ""))
    return text


def _expected_actual(expected: list[str] | None, actual: list[str] | None) -> Table:
    """Expected beside actual, a long body cut; just the actual when no expectation."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    columns = [] if expected is None else [expected]
    if expected is not None:
        table.add_column("expected", style="green", overflow="fold")
    table.add_column("your code shows", style="red", overflow="fold")
    columns.append(actual or ["(nothing)"])
    for index in range(max(len(column) for column in columns)):
        table.add_row(
            *(shortened(column[index]) if index < len(column) else "" for column in columns)
        )
    return table


def _read_next(result: TestResult) -> Text:
    text = Text("Read: ", style="dim")
    text.append(" · ".join(hint_sections(result)), style="cyan")
    return text


def _also_failing(others: list[tuple[str, list[tuple[str, int]]]]) -> Panel:
    """A line per family for the failures not told: identical reasons once, with a count."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True, min_width=max(len(family) for family, _ in others))
    table.add_column(overflow="ellipsis")  # may narrow; each line keeps to itself
    for family, reasons in others:
        said = " · ".join(f"{n} × {why}" if n > 1 else why for why, n in reasons)
        table.add_row(Text(family, style="bold"), Text(said, **_ONE_LINE))
    return Panel(
        table,
        title="Also failing (--every-failure tells each story)",
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
        title=Text(load_error_title(error), style="red"),
        title_align="left",
        border_style="red",
    )


def load_error_title(error: LoadError) -> str:
    """A refused grade is not a crash: the code loaded, but may not be graded as it is."""
    if error.missing:
        return "Nothing to grade there"
    return "Grade refused" if error.refused else "Your code could not be loaded"


def next_step(report: GradeReport, fix: NextFix | None, where: str = " (the story above)") -> str:
    """The last line: what to do now, naming the same function as the story and ``hint``.

    ``where`` points at the story to read; a page that tells every story leaves it out.
    """
    if report.exit_code == 0:
        return (
            "Every scenario passes. Compare your code with solution/flow.py — "
            "or break it on purpose and watch which family notices."
        )
    if fix is None:
        return "Nothing failed in what was graded."
    function = fix.function
    if function is None:
        return f"Next: fix what failed{where}, then grade again."
    verb = "write" if fix.not_written else "fix"
    return f"Next: {verb} {function}{where}. A nudge: python grader.py hint"


def _footer(report: GradeReport, fix: NextFix | None) -> Text:
    style = "green" if report.exit_code == 0 else "bold"
    return Text(next_step(report, fix), style=style)


def _spaced(parts: Iterable[RenderableType]) -> list[RenderableType]:
    spaced: list[RenderableType] = []
    for part in parts:
        if spaced:
            spaced.append(Text(""))
        spaced.append(part)
    return spaced
