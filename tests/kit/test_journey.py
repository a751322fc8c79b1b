"""The learner's way from the starter to 100: one screen, one function to work on.

The README's loop has a learner write ``send``, then ``reconcile``, then ``rollback``,
grading after each. At every stage the report must read on one terminal screen — its
first story in view, in the first 40 lines at 100 columns, and with all three functions
still stubs the whole report in 60 — and every failing scenario must point at a function
and a line: the function that is not written yet or, once all three are written but one
has a bug, the function with the bug, never another one. The "start here", the story
told and ``python grader.py hint`` all name the same function.
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from grading_support import run_grader, write_stub
from mistakes import CLASS_TIMEOUT, MISTAKES, SOLUTION
from rich.console import Console

from chatkit.grading.cli import main
from chatkit.grading.hints import HintProgress
from chatkit.grading.report import render
from chatkit.grading.results import GradeReport, Outcome
from chatkit.grading.runner import grade
from chatkit.grading.summary import next_fix

WIDTH = 100
FIRST_STORY_BY = 40
"""The first story starts within this many lines of the top."""
ONE_SCREEN = 60
"""A terminal's height: with three stubs, the whole report fits in it."""
STORY = re.compile(r"^╭─ [✗!⧗·] ")
"""The first line of a story's panel: a mark, then its title."""


def stubbed(source: str, *names: str) -> str:
    """``source`` with the bodies of the functions ``names`` replaced by the starter's stub."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    for node in sorted(tree.body, key=lambda n: n.lineno, reverse=True):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
            first = node.body[0]
            start = (first.end_lineno if isinstance(first, ast.Expr) else first.lineno - 1) or 0
            end = node.end_lineno or start
            stub = f'    raise NotImplementedError("{node.name} is not written yet")\n'
            lines[start:end] = [stub]
    return "".join(lines)


STAGES: dict[str, tuple[str, ...]] = {
    "nothing written yet": ("send", "reconcile", "rollback"),
    "send written": ("reconcile", "rollback"),
    "send and reconcile written": ("rollback",),
}
"""Each stage of the loop, and the functions that are still stubs."""

FIRST_TO_WRITE = {"nothing written yet": "send", "send written": "reconcile"}
"""Where the README's order says to go next, while more than one function is a stub."""


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeReport]:
    """Each stage graded once: the tests below only read the reports."""
    reports = {}
    for number, (stage, stubs) in enumerate(STAGES.items()):
        flow = tmp_path_factory.mktemp(f"stage{number}") / "flow.py"
        flow.write_text(stubbed(SOLUTION.read_text(), *stubs))
        reports[stage] = grade(str(flow))
    return reports


def screen(report: GradeReport, width: int = WIDTH) -> list[str]:
    """The default report as a learner's terminal shows it, line by line."""
    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    render(report, console)
    return console.export_text().splitlines()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_points_at_what_is_not_written(
    stage: str, staged: dict[str, GradeReport]
) -> None:
    stubs = STAGES[stage]
    report = staged[stage]
    failing = [result for result in report.results if result.outcome is not Outcome.PASSED]
    assert failing, f"{stage}: nothing failed"
    for result in failing:
        assert result.function in stubs, (
            f"{stage}: {result.family} › {result.name} points at {result.function} "
            f"({result.outcome.value}: {result.message[:80]})"
        )
    if len(stubs) == 3:
        assert report.score == 0


@pytest.mark.timeout(120)
@pytest.mark.parametrize("stage", STAGES)
def test_every_failure_names_a_function_and_a_line(
    stage: str, staged: dict[str, GradeReport]
) -> None:
    for result in staged[stage].results:
        if result.outcome is Outcome.PASSED:
            continue
        where = result.location
        assert result.function and where is not None and where.line > 0, (
            f"{stage}: {result.family} › {result.name} names no line "
            f"({result.outcome.value}: {result.message[:80]})"
        )
        assert where.function == result.function, "the line is in the function it names"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("stage", STAGES)
def test_the_first_story_is_on_the_first_screen(stage: str, staged: dict[str, GradeReport]) -> None:
    lines = screen(staged[stage])
    starts = [number for number, line in enumerate(lines, start=1) if STORY.match(line)]
    assert starts, f"{stage}: no story is told"
    assert starts[0] <= FIRST_STORY_BY, f"{stage}: the first story starts at line {starts[0]}"
    assert len(starts) == 1, f"{stage}: one story by default, not {len(starts)}"


@pytest.mark.timeout(120)
def test_with_three_stubs_the_whole_report_fits_one_screen(
    staged: dict[str, GradeReport],
) -> None:
    lines = screen(staged["nothing written yet"])
    assert len(lines) <= ONE_SCREEN, "\n".join(lines)
    assert all(len(line) <= WIDTH for line in lines)


@pytest.mark.timeout(120)
def test_a_fresh_run_through_the_command_line_fits_one_screen(tmp_path: Path) -> None:
    """``python grader.py`` on three stubs, as a learner's 100-column terminal shows it."""
    done = run_grader("--target", str(write_stub(tmp_path / "stub")))
    lines = done.stdout.splitlines()
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    assert len(lines) <= ONE_SCREEN, done.stdout
    first = next(number for number, line in enumerate(lines, start=1) if STORY.match(line))
    assert first <= FIRST_STORY_BY
    assert lines[-1].startswith("Next: write send"), "the last line, in view, says what to do"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("stage", STAGES)
def test_start_here_the_story_and_hint_name_one_function(
    stage: str, staged: dict[str, GradeReport]
) -> None:
    report = staged[stage]
    fix = next_fix(report)
    assert fix is not None and fix.function in STAGES[stage]
    if stage in FIRST_TO_WRITE:
        assert fix.function == FIRST_TO_WRITE[stage], "the README's order: send, then reconcile"
    text = "\n".join(screen(report))
    named = set(re.findall(r"\bwrite (send|reconcile|rollback)\b", text))
    assert named == {fix.function}, f"{stage}: the report says to write {sorted(named)}"
    assert f"Read: hints.md › {fix.function}" in text, "the story told is that function's"
    main(["--target", report.path, "--quiet"])
    remembered = HintProgress.beside(Path(report.path)).last_topic
    assert remembered == fix.function, "a bare `hint` helps with the same function"


@pytest.mark.timeout(CLASS_TIMEOUT)  # the first to ask grades the whole class of mistakes
@pytest.mark.parametrize("mistake", MISTAKES)
def test_with_a_bug_every_failure_names_a_function_and_a_line(
    mistake: str, graded_mistake: Callable[[str], GradeReport]
) -> None:
    """Once all three are written: a rule broken, a crash, a scan — each names where to look.

    (A scenario stopped at its time limit on a busy machine names no line: nothing of the
    learner's was running to point at, so timed-out results are not asked for one.)
    """
    report = graded_mistake(mistake)
    pointed = [r for r in report.results if r.outcome in (Outcome.FAILED, Outcome.CRASHED)] or [
        r for r in report.results if r.outcome is Outcome.TIMED_OUT and r.rule is not None
    ]  # a send that never finishes, by the rule (not the clock): it names a line too
    assert pointed, f"{mistake}: nothing failed"
    for result in pointed:
        where = result.location
        assert result.function in ("send", "reconcile", "rollback"), result.name
        assert where is not None and where.line > 0 and where.code, (
            f"{mistake}: {result.family} › {result.name} names no line ({result.message[:80]})"
        )


@pytest.mark.timeout(CLASS_TIMEOUT)
def test_a_bug_in_one_function_points_only_at_it(
    graded_mistake: Callable[[str], GradeReport],
) -> None:
    """All three written, rollback undoes what the echo confirmed: only rollback is named."""
    report = graded_mistake("rollback_fails_sent")  # graded once, with the other mistakes
    named = {r.function for r in report.results if r.outcome is not Outcome.PASSED}
    assert named == {"rollback"}
    fix = next_fix(report)
    assert fix is not None and fix.function == "rollback"
    assert any("fix rollback" in line for line in screen(report)), "the last line names it"


CUT = re.compile(r"^<!-- classroom: cut -->\n.*?^<!-- classroom: end -->\n", re.M | re.S)
"""What ``chatkit classroom`` leaves out of the learner's copy of the README."""
KEPT_LINKS = {
    "starter-code/flow.py",
    "hints.md",
    "docs/diagram.svg",
    "docs/demo.svg",
    "docs/live-server.md",
    "docs/terminal-client.md",
    "docs/many-servers.md",
}
"""What a learner's copy holds, of what the README links to."""


def test_the_learners_copy_of_the_readme_speaks_of_nothing_it_lacks() -> None:
    readme = (SOLUTION.parents[1] / "README.md").read_text(encoding="utf-8")
    markers = re.findall(r"^<!-- classroom: (\w+) -->$", readme, re.M)
    assert markers and markers == ["cut", "end"] * (len(markers) // 2), "pairs, in order"
    copy = CUT.sub("", readme)
    for gone in ("solution", "--compare", "tests/kit", "maintainers", "teachers"):
        assert gone not in copy, f"the learner's copy still speaks of {gone}"
    links = set(re.findall(r"\]\((?!https?:)([^)#]+)\)", copy))  # the kit's own files
    assert links <= KEPT_LINKS, f"links to what the copy lacks: {links - KEPT_LINKS}"
    assert len(readme.splitlines()) <= 220, "the README is the learner's page: about 200 lines"
