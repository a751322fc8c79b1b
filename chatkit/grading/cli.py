"""``python grader.py``: grade a target and print the report; ``python grader.py hint``.

Exit status: 0 every scenario passed, 1 some failed, 2 the target could not be loaded or
the command line selects no scenario (the message then lists the names there are).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from chatkit.grading.compare import grade_both, render_comparison
from chatkit.grading.exports import write_exercism, write_junit
from chatkit.grading.families import normalized, scenario_names
from chatkit.grading.hints import HintProgress, hints_file, parse_hints
from chatkit.grading.html_report import write_html
from chatkit.grading.report import humanize, plain_console, render, summary_line
from chatkit.grading.results import GradeReport, TestResult
from chatkit.grading.runner import GraderError, grade, scenarios_dir
from chatkit.grading.summary import next_fix, partial_lines
from chatkit.grading.teacher_cli import add_grader_arguments, add_tests_argument, after_grading
from chatkit.grading.watch import watch_and_grade
from chatkit.kit_home import NotInKit, TargetError
from chatkit.target import resolve_target


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grader.py",
        usage="python grader.py [options]\n       python grader.py hint [TOPIC] [--reset]",
        description="Grade your send / reconcile / rollback against the scenarios. With no "
        "options it grades starter-code/ and prints one screen: the score, a line per family "
        "and the story of the one failure to fix next.",
        epilog="python grader.py hint [TOPIC] shows the next hint for a function or family; "
        "with no topic, for the function the report names.",
    )
    add_grade_arguments(parser)
    commands = parser.add_subparsers(dest="command", title="hints", metavar="hint [TOPIC]")
    add_hint_command(commands, target_default=argparse.SUPPRESS)  # the grader's --target
    return parser


def add_hint_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], *, target_default: str
) -> argparse.ArgumentParser:
    """``hint [TOPIC]``, for ``python grader.py`` and for the ``chatkit`` command alike."""
    hint = commands.add_parser("hint", help="show the next hint for a function or family")
    hint.add_argument("topic", nargs="?", help="send, reconcile, rollback or a family name")
    hint.add_argument("--reset", action="store_true", help="start this topic's hints over")
    hint.add_argument("--target", default=target_default, help="whose hint progress to use")
    return hint


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
        help="grade only this scenario family (repeatable), e.g. --family duplicates; the "
        "report lists its scenarios and says its share of the 100 points",
    )
    parser.add_argument(
        "-k",
        dest="keyword",
        metavar="NAME",
        help='only scenarios whose name (as the report prints it) contains NAME, e.g. -k "echo'
        ' before ack"; and, or, not and brackets combine names',
    )
    add_tests_argument(parser)
    parser.add_argument(
        "--every-failure",
        action="store_true",
        help="tell the story of every failure under a table per family, not just the one to fix next",
    )
    parser.add_argument("--quiet", action="store_true", help="print one summary line")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write exercism v3 results")
    parser.add_argument("--junit", type=Path, metavar="PATH", help="write JUnit XML results")
    parser.add_argument(
        "--html",
        type=Path,
        metavar="PATH",
        help="write the report as one self-contained web page, each failure drawn as a diagram",
    )
    parser.add_argument(
        "--no-diagram",
        dest="diagrams",
        action="store_false",
        help="tell each failure's story without drawing its lanes",
    )
    parser.add_argument(
        "--watch", action="store_true", help="grade again whenever a file of the target changes"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="compare with the reference solution: where the screens part, at 100 the code",
    )
    add_grader_arguments(parser)


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    console = plain_console()
    try:
        return _run(args, console)
    except NotInKit as error:
        console.print(Text.assemble(("No kit here:", "red"), f" {error}"))
        return 2


def _run(args: argparse.Namespace, console: Console) -> int:
    if getattr(args, "command", None) == "hint":
        return show_hint(args, console)
    try:
        selection = Selection.from_args(args)
    except SelectionError as error:
        console.print(error.panel)
        return 2
    try:
        if args.compare:
            return _compare(args, selection, console)
        if args.watch:
            return _watch(args, selection, console)
        report = _grade_with_progress(args, selection, console)
    except GraderError as error:
        console.print(
            Text.assemble(("The grader could not run the scenarios:", "red"), f" {error}")
        )
        return 2
    report = after_grading(report, args)
    _show(report, args, selection, console)
    return report.exit_code


class SelectionError(Exception):
    """``--family`` or ``-k`` names nothing the kit has; ``panel`` says what it does have."""

    def __init__(self, panel: Panel) -> None:
        super().__init__(str(panel.renderable))
        self.panel = panel


@dataclass(frozen=True)
class Selection:
    """Which scenarios to grade, with the names the learner typed kept for messages."""

    tests: list[Path]
    families: list[str] = field(default_factory=list)
    keyword: str | None = None
    """``-k`` as pytest reads it."""
    typed_keyword: str | None = None
    scenarios: dict[str, list[str]] = field(default_factory=dict)
    """What the scenario files hold, by family (test names, read without importing)."""
    hidden: list[Path] = field(default_factory=list)
    """A teacher's hidden scenario files or folders (``--hidden``)."""

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Selection:
        tests = list(args.tests)
        scenarios = scenario_names([*(tests or [scenarios_dir()]), *args.hidden])
        families = [_known_family(name, scenarios) for name in args.family]
        keyword = None if args.keyword is None else pytest_keyword(args.keyword)
        return cls(tests, families, keyword, args.keyword, scenarios, hidden=list(args.hidden))

    def grade(
        self,
        target: str,
        on_collected: Callable[[int], None] | None = None,
        on_result: Callable[[TestResult], None] | None = None,
        *,
        side_by_side: bool = True,
    ) -> GradeReport:
        """Grade ``target``; ``side_by_side=False`` when another grading runs at the same time
        (each then keeps to one child: see `chatkit.grading.runner.grade`)."""
        return grade(
            target,
            families=self.families,
            keyword=self.keyword,
            tests=self.tests,
            hidden=self.hidden,
            on_collected=on_collected,
            on_result=on_result,
            side_by_side=side_by_side,
        )

    @property
    def partial(self) -> bool:
        """Only some of the scenarios are graded, so the score out of 100 is not the grade."""
        return bool(self.families or self.keyword)

    def printed_names(self) -> dict[str, list[str]]:
        """The selected families' scenario names, as the report prints them."""
        return {
            family: [humanize(name) for name in names]
            for family, names in self.scenarios.items()
            if not self.families or family in self.families
        }


_TOKENS = re.compile(r"[()]|[^\s()]+")
_PYTEST_WORD = re.compile(r"[\w:+\-.\[\]\\/]+")
"""What pytest's ``-k`` accepts as a name (its expression lexer's identifier)."""


def pytest_keyword(typed: str) -> str:
    """``-k`` as the report prints names, turned into the expression pytest's ``-k`` reads.

    The report prints ``test_echo_before_ack[3]`` as ``echo before ack [3]`` and titles
    a story ``server-first arrival › echo before ack …``; pytest wants one word,
    ``echo_before_ack[3]``. Words side by side become one name; ``and``, ``or``,
    ``not`` and brackets keep pytest's meaning wherever they can have it, so
    ``-k "not twice"`` and ``-k "echo and not twice"`` work too.
    """
    tokens = _TOKENS.findall(typed.rpartition("›")[2].replace('"', " ").replace("'", " "))
    words: list[str] = []
    expect_name, depth = True, 0
    for token in tokens:
        if expect_name and token in ("(", "not"):
            depth += token == "("
            words.append(token)
        elif not expect_name and token in ("and", "or", ")"):
            depth -= token == ")"
            expect_name = token != ")"
            words.append(token)
            if depth < 0:
                raise _keyword_error(typed, "a bracket closes that was never opened")
        elif token in ("(", ")"):
            raise _keyword_error(typed, f"a bracket {token} is out of place")
        elif not _PYTEST_WORD.fullmatch(token):
            raise _keyword_error(typed, f'"{token}" cannot be part of a scenario name')
        elif expect_name:
            words.append(token)
            expect_name = False
        elif words[-1] == ")":
            raise _keyword_error(typed, f'put and or or between ) and "{token}"')
        else:
            words[-1] += token if token.startswith("[") else f"_{token}"
    if not words:
        raise _keyword_error(typed, "it names no scenario")
    if expect_name:
        raise _keyword_error(typed, f'it ends with "{words[-1]}", which needs a name after it')
    if depth:
        raise _keyword_error(typed, "a bracket is opened and never closed")
    return " ".join(words)


def _keyword_error(typed: str, why: str) -> SelectionError:
    text = Text.assemble(
        "The grader cannot read ", (f'-k "{typed}"', "bold"), f": {why}.\n\n", _KEYWORD_HELP
    )
    return SelectionError(_selection_panel("-k needs a scenario name", text))


_KEYWORD_HELP = Text.assemble(
    "-k takes a scenario's name as the report prints it, or a part of it: ",
    ('-k "echo before ack"', "bold"),
    ". and, or, not and brackets combine names: ",
    ('-k "echo and not twice"', "bold"),
    ".",
)


def _known_family(typed: str, scenarios: dict[str, list[str]]) -> str:
    """The family ``typed`` names, however it is spelled; else say which families exist.

    Case, ``-`` and ``_`` do not matter, and the start of a name is enough when only one
    family starts that way (``--family dup``).
    """
    exact = [family for family in scenarios if normalized(family) == normalized(typed)]
    starting = [family for family in scenarios if normalized(family).startswith(normalized(typed))]
    if exact or len(starting) == 1:
        return (exact or starting)[0]
    text = Text.assemble("There is no scenario family called ", (f'"{typed}"', "bold"), ".")
    guesses = _closest(typed, scenarios)
    if guesses:
        text.append(f' Did you mean "{guesses[0]}"?')
    text.append("\n\nThe families: ")
    text.append(" · ".join(scenarios), style="cyan")
    text.append("\nFor example: ")
    text.append(
        f'python grader.py --family "{guesses[0] if guesses else next(iter(scenarios))}"',
        style="bold",
    )
    raise SelectionError(_selection_panel("No such family", text))


def _closest(typed: str, names: Iterable[str], count: int = 3) -> list[str]:
    """The names with a run of words most like ``typed``: a typo in part of a name finds it."""
    query = " ".join(normalized(typed).split())

    def likeness(name: str) -> float:
        parts = normalized(name).split()
        width = min(len(query.split()), len(parts))
        runs = (" ".join(parts[i : i + width]) for i in range(len(parts) - width + 1))
        return max(SequenceMatcher(None, query, run).ratio() for run in runs)

    ranked = sorted(((likeness(name), name) for name in names), key=lambda pair: -pair[0])
    return [name for score, name in ranked[:count] if score >= 0.6]


def _nothing_to_grade(report: GradeReport, selection: Selection) -> Panel | None:
    """Why no scenario ran, when the target loaded yet nothing was selected."""
    if report.results or report.load_error is not None:
        return None
    names = selection.printed_names()
    text = Text()
    if selection.typed_keyword is None:
        text.append("No scenario was found in ")
        text.append(", ".join(map(str, selection.tests)) or "the kit's scenarios", style="bold")
        text.append(". A scenario is a test function in a test_*.py file.")
        return _selection_panel("Nothing to grade", text)
    where = f" in {' or '.join(selection.families)}" if selection.families else ""
    text.append_text(
        Text.assemble(
            "No scenario", where, " matches ", (f'-k "{selection.typed_keyword}"', "bold"), "."
        )
    )
    guesses = _closest(selection.typed_keyword, [n for group in names.values() for n in group])
    if guesses:
        text.append(" Did you mean one of these?")
    for guess in guesses:
        text.append(f'\n    python grader.py -k "{guess}"', style="bold cyan")
    text.append("\n\n")
    text.append_text(_KEYWORD_HELP)
    return _selection_panel("No scenario matches", Group(text, Text(""), _name_table(names)))


def _name_table(names: dict[str, list[str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for family, scenarios in names.items():
        table.add_row(family, Text(" · ", style="dim").join(Text(name) for name in scenarios))
    return table


def _selection_panel(title: str, body: RenderableType) -> Panel:
    return Panel(body, title=Text(title, style="yellow"), title_align="left", border_style="yellow")


def _grade_with_progress(
    args: argparse.Namespace, selection: Selection, console: Console
) -> GradeReport:
    if args.quiet or not console.is_terminal:
        return selection.grade(args.target)
    columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("grading", total=None)
        return selection.grade(
            args.target,
            on_collected=lambda total: progress.update(task, total=total),
            on_result=lambda _: progress.advance(task),
        )


def _show(
    report: GradeReport, args: argparse.Namespace, selection: Selection, console: Console
) -> None:
    if args.json:
        write_exercism(report, args.json)
    if args.junit:
        write_junit(report, args.junit)
    if args.html:
        write_html(report, args.html)
    nothing = _nothing_to_grade(report, selection)
    partial = partial_lines(report, selection.keyword) if selection.partial else []
    if nothing is not None:
        console.print(nothing)
    elif args.quiet:
        console.print(summary_line(report, partial=partial), soft_wrap=True)  # one line in a log
    else:
        render(
            report,
            console,
            every_failure=args.every_failure,
            diagrams=args.diagrams,
            partial=partial,
        )
    _remember_topic(report)


def _compare(args: argparse.Namespace, selection: Selection, console: Console) -> int:
    yours, reference = grade_both(
        args.target, lambda target: selection.grade(target, side_by_side=False)
    )
    _show(yours, args, selection, console)
    if reference.load_error is not None:
        console.print(
            Panel(
                f"--compare puts your code beside the reference solution, but that cannot be "
                f"loaded: {reference.load_error.message}",
                title="Nothing to compare with",
                title_align="left",
                border_style="yellow",
            )
        )
        return 2
    if yours.results:
        render_comparison(yours, reference, console, every_failure=args.every_failure)
    return yours.exit_code


def _watch(args: argparse.Namespace, selection: Selection, console: Console) -> int:
    folder = _target_file(args.target).parent
    scores = watch_and_grade(
        folder,
        lambda: selection.grade(args.target),
        lambda report: _show(report, args, selection, console),
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
    """Note the topic of the failure the report tells first, so a bare ``hint`` helps with
    the same function the report's "start here" names."""
    fix = next_fix(report)
    if report.load_error is not None or fix is None:
        return
    progress = HintProgress.beside(Path(report.path))
    progress.last_topic = fix.function or fix.result.family
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
            Text.assemble(
                ("No hints about that. " if wanted else "") + "Topics: " + ", ".join(topics),
                "\nRun ",
                ("python grader.py hint TOPIC", "bold"),
                ".",
            )
        )
        return 2 if wanted else 0
    topic = matches[0]
    if args.reset:
        progress.shown.pop(topic, None)
    found = progress.next_hint(topic, topics[topic])
    progress.save()
    if found is None:
        console.print(
            Text.assemble(
                f"You have seen all {len(topics[topic])} hints for ",
                (topic, "bold"),
                ". ",
                (f"python grader.py hint {topic} --reset", "dim"),
                " starts over.",
            )
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
