"""``--compare``: your code and its results beside the reference solution's.

Where every scenario ends the same way for both, a table of matching ticks says
nothing: what differs is the code, so each of the three functions is shown as a unified
diff from the reference's (side by side on a terminal of 160 columns or more), without
the docstrings, which only repeat the starter's.
Where results differ, what helps is the moment the screens part: your screen at the
step your scenario stopped beside the reference's at that same step, with whatever
the results carry about that step, and the check that failed.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from difflib import SequenceMatcher, unified_diff
from itertools import zip_longest
from pathlib import Path

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from chatkit.engine.story import Step
from chatkit.grading.report import MARKS, humanize
from chatkit.grading.results import GradeReport, Outcome, TestResult
from chatkit.grading.summary import scenarios
from chatkit.target import FUNCTIONS, display_path

SIDE_BY_SIDE_WIDTH = 160
"""Below this many columns a function's two versions are one unified diff, not two columns."""


def grade_both(target: str, grade: Callable[[str], GradeReport]) -> tuple[GradeReport, GradeReport]:
    """Grade the target and the solution at the same time (each in its own child)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        yours = pool.submit(grade, target)
        reference = pool.submit(grade, "solution")
        return yours.result(), reference.result()


def render_comparison(
    yours: GradeReport, reference: GradeReport, console: Console, *, every_failure: bool = False
) -> None:
    """Where the results differ, the first such scenario of each family (``every_failure``:
    each of them); where none differ, the code."""
    theirs = {result.nodeid: result for result in reference.results}
    differ = [
        (mine, theirs[mine.nodeid])
        for mine in yours.results
        if mine.nodeid in theirs and _passed(mine) != _passed(theirs[mine.nodeid])
    ]
    console.print(_heading(yours, reference, len(differ)))
    if not differ:
        console.print(code_side_by_side(Path(yours.path), Path(reference.path), console.width))
        return
    shown: list[tuple[TestResult, TestResult]] = []
    families: set[str] = set()
    for mine, other in differ:
        if every_failure or mine.family not in families:
            shown.append((mine, other))
            families.add(mine.family)
    for mine, other in shown:
        console.print(difference(mine, other))
    if len(shown) < len(differ):
        console.print(
            Text(
                f"{scenarios(len(differ) - len(shown))} more differ; "
                "--every-failure shows each of them.",
                style="dim",
            )
        )


def _passed(result: TestResult) -> bool:
    return result.outcome is Outcome.PASSED


def _heading(yours: GradeReport, reference: GradeReport, differ: int) -> Text:
    text = Text.assemble(
        ("Compared with the solution", "bold"),
        f" ({display_path(reference.path)}, {reference.score}/100): ",
    )
    same = len(yours.results) - differ
    if not differ:
        text.append(f"all {scenarios(same)} end the same way. ")
        text.append("What differs is the code: your functions beside the solution's.")
    else:
        text.append(
            f"{same} of {scenarios(len(yours.results))} end the same way, {differ} do not. "
        )
        text.append("Here is where the screens part.")
    return text


def difference(mine: TestResult, theirs: TestResult) -> Panel:
    """Where one scenario goes differently: the screens at the step where one side stopped."""
    failing = theirs if _passed(mine) else mine
    number = failing.story[-1].number if failing.story else None
    parts: list[RenderableType] = [_verdict(failing, "yours" if failing is mine else "solution")]
    mine_step, their_step = _step(mine, number), _step(theirs, number)
    step = mine_step or their_step
    if step is not None:
        parts.append(Text(f"after step {step.number}: {step.text}", style="bold"))
    parts.append(_screens(mine_step, their_step, failing, mine_failed=failing is mine))
    yours_mark, yours_style = MARKS[mine.outcome]
    their_mark, their_style = MARKS[theirs.outcome]
    return Panel(
        Group(*parts),
        title=Text.assemble(
            (yours_mark, yours_style),
            " yours · ",
            (their_mark, their_style),
            f" solution — {mine.family} › {humanize(mine.name)}",
        ),
        title_align="left",
        border_style="dim",
    )


def _verdict(failing: TestResult, whose: str) -> Text:
    what = failing.rule or failing.error_type or failing.outcome.value
    return Text.assemble(
        (f"{whose}: {what}", "bold red"), f" — {failing.message}" if failing.message else ""
    )


def _step(result: TestResult, number: int | None) -> Step | None:
    """The step with this number, or the last the story got to."""
    if not result.story:
        return None
    found = [step for step in result.story if step.number == number]
    return found[0] if found else result.story[-1]


def _screens(
    mine: Step | None, theirs: Step | None, failing: TestResult, *, mine_failed: bool
) -> Group:
    """Your screen beside the solution's, line by line; ``≠`` marks where they part."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("", width=1, style="yellow")
    table.add_column("your screen", overflow="fold")
    table.add_column("the solution's screen", overflow="fold")
    users = list(dict.fromkeys([*_timelines(mine), *_timelines(theirs)]))
    for user in users:
        if len(users) > 1:
            table.add_row("", Text(f"{user} sees", style="dim"), Text(f"{user} sees", style="dim"))
        _add_lines(table, _timelines(mine).get(user, []), _timelines(theirs).get(user, []))
    parts: list[RenderableType] = [table]
    if mine is None or theirs is None:
        missing = "your code" if mine is None else "the solution"
        parts.append(Text(f"({missing} stopped before the first step)", style="dim"))
    elif "≠" not in table.columns[0].cells:
        parts.append(Text("The rows are the same: what differs is said above.", style="dim"))
    step = mine if mine_failed else theirs
    if failing.actual is not None and failing.actual not in _timelines(step).values():
        check = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        check.add_column("", width=1, style="yellow")
        check.add_column("the check saw, in yours", overflow="fold")
        check.add_column("in the solution's", overflow="fold")
        met = failing.expected or ["(passes this check)"]
        _add_lines(check, *((failing.actual, met) if mine_failed else (met, failing.actual)))
        parts.append(check)
    return Group(*parts)


def _timelines(step: Step | None) -> dict[str, list[str]]:
    return dict(step.timelines) if step is not None else {}


def _add_lines(table: Table, mine: list[str], theirs: list[str]) -> None:
    for tag, a, b, c, d in SequenceMatcher(None, mine, theirs, autojunk=False).get_opcodes():
        for left, right in zip_longest(mine[a:b], theirs[c:d]):
            same = tag == "equal"
            table.add_row(
                "" if same else "≠",
                Text(left or "", style="dim" if same else "bold red"),
                Text(right or "", style="dim" if same else "bold green"),
            )


def code_side_by_side(yours: Path, reference: Path, width: int) -> Group:
    """``send``, ``reconcile`` and ``rollback`` from both files, docstrings left out.

    Side by side on a wide terminal; a unified diff otherwise, since two columns of
    code under 160 wrap every line. The files are parsed, never imported: the
    learner's code only ever runs in a child process.
    """
    mine, theirs = function_sources(yours), function_sources(reference)
    parts: list[RenderableType] = []
    for name in FUNCTIONS:
        if name in mine and name in theirs and mine[name][1] == theirs[name][1]:
            parts.append(Text(f"your {name} is the solution's, line for line", style="green"))
            continue
        if width < SIDE_BY_SIDE_WIDTH and name in mine and name in theirs:
            parts.append(_diff_panel(name, mine[name][1], theirs[name][1]))
            continue
        left = _code_panel(f"your {name}", yours, mine.get(name))
        right = _code_panel(f"the solution's {name}", reference, theirs.get(name))
        if width >= SIDE_BY_SIDE_WIDTH:
            row = Table.grid(padding=(0, 1), expand=True)
            row.add_column(ratio=1)
            row.add_column(ratio=1)
            row.add_row(left, right)
            parts.append(row)
        else:
            parts += [left, right]
    return Group(*parts)


def _diff_panel(name: str, mine: str, theirs: str) -> Panel:
    """One function as a unified diff, whole: ``-`` the solution's lines, ``+`` yours."""
    ours, yours = theirs.splitlines(), mine.splitlines()
    lines = unified_diff(
        ours,
        yours,
        f"the solution's {name}",
        f"your {name}",
        n=max(len(ours), len(yours)),
        lineterm="",
    )
    text = Text()
    for line in lines:
        style = {"-": "red", "+": "green", "@": "cyan"}.get(line[:1], "")
        if line.startswith(("---", "+++")):
            style = "bold"
        text.append(line + "\n", style=style)
    text.rstrip()
    return Panel(text, title=f"{name}: - the solution's, + yours", title_align="left")


def _code_panel(title: str, path: Path, found: tuple[int, str] | None) -> Panel:
    if found is None:
        body: RenderableType = Text(
            f"not written as a def in {path.name} (it may come from another module)", style="dim"
        )
    else:
        _, source = found
        body = Syntax(source, "python", word_wrap=True, theme="ansi_dark")
    return Panel(body, title=f"{title} · {display_path(str(path))}", title_align="left")


def function_sources(path: Path) -> dict[str, tuple[int, str]]:
    """``{name: (first line, source)}`` for the three functions defined in ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError):
        return {}
    lines = text.splitlines()
    return {node.name: _source(node, lines) for node in _functions(tree)}


def _functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in FUNCTIONS:
            yield node


def _source(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> tuple[int, str]:
    """The function's first line and its source, without its docstring."""
    start = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
    kept = list(range(start, (node.end_lineno or start) + 1))
    first = node.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
        and len(node.body) > 1
    ):
        docstring = range(first.lineno, (first.end_lineno or first.lineno) + 1)
        kept = [number for number in kept if number not in docstring]
    return start, "\n".join(lines[number - 1] for number in kept)
