"""What a report says, decided once for every renderer: the terminal, the HTML page and ``hint``.

The rules of the one-screen report live here, apart from how they are drawn: which
failure to tell first (`next_fix`), which function the learner should work on, how the
other failures fold into a line per family with identical reasons counted
(`other_failures`), and how a partial run (``--family``, ``-k``) states what it graded
without pretending to be the score (`partial_lines`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from chatkit.engine.story import Step
from chatkit.grading.families import family_order
from chatkit.grading.results import FamilyResult, GradeReport, Outcome, TestResult
from chatkit.target import FUNCTIONS

FUNCTION_ORDER = FUNCTIONS
"""The order the README's loop writes the functions in, for ties."""


def hint_sections(result: TestResult) -> list[str]:
    """Where to read for a failure: its function's section of ``hints.md``, then its family's."""
    return [f"hints.md › {topic}" for topic in (result.function, result.family) if topic]


LONG_VALUE = 40
"""A quoted value longer than this (a body, a list) is cut with "…" on the screen."""


_QUOTED = re.compile(r"(?<!\w)(['\"])(?=\S)([^'\"\n]+?)(?<=\S)\1(?!\w)")
"""A quoted value: a quote not glued to a word before it, its text, the same quote again."""
_LISTED = re.compile(r"\[([^\[\]\n]+)\]")


def humanize(test_name: str) -> str:
    """``test_echo_before_ack[3]`` → ``echo before ack [3]``."""
    name = test_name.removeprefix("test_")
    base, bracket, rest = name.partition("[")
    return base.replace("_", " ") + (f" [{rest}" if bracket else "")


def scenarios(count: int) -> str:
    """``1 scenario``, ``2 scenarios``."""
    return f"{count} scenario{'' if count == 1 else 's'}"


def shortened(text: str, limit: int = LONG_VALUE) -> str:
    """``text`` with every quoted value over ``limit`` characters cut with "…".

    A 2,000-character body says nothing a learner can read in its 41st character, and
    one of them pushes the rest of the report off the screen.
    """

    def cut(match: re.Match[str]) -> str:
        quote, value = match[1], match[2]
        return f"{quote}{value[: limit - 1]}…{quote}"

    text = _QUOTED.sub(lambda m: cut(m) if len(m[2]) > limit else m[0], text)
    return _LISTED.sub(lambda m: f"[{m[1][:limit]}…]" if len(m[1]) > 2 * limit else m[0], text)


FOLD_STORY_AT = 8
"""A story longer than this many steps is told by its start and its end on one screen."""


def folded(steps: Sequence[Step], first: int = 2, last: int = 3) -> list[Step | int]:
    """The steps to tell on one screen: the first few, the last few (the broken step is
    one of them) and, between, how many were left out.

    Twenty identical sends push the step that broke a rule off the screen; the count in
    their place keeps the numbering honest, and ``--every-failure`` tells them all.
    """
    if len(steps) <= FOLD_STORY_AT:
        return list(steps)
    kept = [i for i, step in enumerate(steps) if i < first or i >= len(steps) - last or step.broke]
    told: list[Step | int] = []
    for before, index in zip([-1, *kept], kept, strict=False):
        if index - before > 1:
            told.append(index - before - 1)
        told.append(steps[index])
    return told


def reason(result: TestResult) -> str:
    """Why a scenario failed, in words that are the same for every scenario it applies to."""
    if result.outcome is Outcome.NOT_WRITTEN:
        return f"{result.function or 'a function'} is not written yet"
    if result.rule:
        return result.rule
    where = f" in {result.function}" if result.function else ""
    if result.outcome is Outcome.TIMED_OUT:
        return f"timed out{where}"
    error = result.error_type or "failed"
    return shortened(f"{error}{where}: {result.message.splitlines()[0] if result.message else ''}")


def failing(report: GradeReport) -> list[TestResult]:
    """Every scenario that did not pass, in the report's order (families, then scenarios)."""
    return [
        r for family in report.families for r in family.results if r.outcome is not Outcome.PASSED
    ]


def same_error_key(result: TestResult) -> tuple[object, ...] | None:
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


def alike_groups(results: Sequence[TestResult]) -> list[list[TestResult]]:
    """The failures that met the same error, each group of more than one, largest first."""
    groups: dict[tuple[object, ...], list[TestResult]] = {}
    for result in results:
        key = same_error_key(result)
        if key is not None:
            groups.setdefault(key, []).append(result)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: -len(g))


@dataclass(frozen=True, slots=True)
class NextFix:
    """The one failure to fix next: its story is told, its function named everywhere."""

    function: str | None
    """The learner's function to work on; None when no failure names one."""
    result: TestResult
    """The scenario whose story is told."""
    alike: list[TestResult]
    """Every scenario that stopped at the same error as ``result`` (it included), or []."""
    stopped: int
    """How many failing scenarios name ``function``."""

    @property
    def not_written(self) -> bool:
        return self.result.outcome is Outcome.NOT_WRITTEN


def next_fix(report: GradeReport) -> NextFix | None:
    """The failure most worth fixing next, and the function it points at.

    The function is the one most failing scenarios point at (ties in the README's order:
    send, reconcile, rollback), so the "start here", the story and ``hint`` agree. Among
    its failures, an error many scenarios share comes first (fixing it fixes them all),
    then a real failure before a stub, then the simplest: the earliest family, the
    shortest story.
    """
    fails = failing(report)
    if not fails:
        return None
    counts = Counter(result.function for result in fails)
    function = min(counts, key=lambda name: (-counts[name], function_order(name)))
    mine = [result for result in fails if result.function == function]
    groups = alike_groups(mine)
    if groups:
        group = groups[0]
        return NextFix(function, min(group, key=_simplest), group, counts[function])
    chosen = min(mine, key=lambda r: (r.outcome is Outcome.NOT_WRITTEN, _simplest(r)))
    return NextFix(function, chosen, [], counts[function])


def _simplest(result: TestResult) -> tuple[int, int]:
    return family_order(result.family), len(result.story)


def function_order(function: str | None) -> int:
    """Send, reconcile, rollback, then anything else (no function last)."""
    return FUNCTION_ORDER.index(function) if function in FUNCTION_ORDER else len(FUNCTION_ORDER)


@dataclass(frozen=True, slots=True)
class FamilyLine:
    """A family on one line of the compact table."""

    family: FamilyResult
    first_failing: TestResult | None

    @property
    def outcome(self) -> Outcome:
        return Outcome.PASSED if self.first_failing is None else self.first_failing.outcome


def family_lines(report: GradeReport) -> list[FamilyLine]:
    """Each family with its first failing scenario, in the report's order."""
    return [
        FamilyLine(
            family, next((r for r in family.results if r.outcome is not Outcome.PASSED), None)
        )
        for family in report.families
    ]


def other_failures(
    report: GradeReport, told: Sequence[TestResult]
) -> list[tuple[str, list[tuple[str, int]]]]:
    """Per failing family, the reasons of the failures not ``told``, each with its count.

    Seventy scenarios stopped by one stub are one reason with a count, not seventy lines.
    """
    told_ids = {result.nodeid for result in told}
    lines: list[tuple[str, list[tuple[str, int]]]] = []
    for family in report.families:
        rest = [
            r
            for r in family.results
            if r.outcome is not Outcome.PASSED and r.nodeid not in told_ids
        ]
        if rest:
            lines.append((family.family.name, Counter(reason(r) for r in rest).most_common()))
    return lines


def partial_lines(report: GradeReport, keyword: str | None = None) -> list[str]:
    """A partial run's result, family by family, instead of a score out of 100.

    ``duplicates: 11 of 12 scenarios (this family is 12 of the 100 points)`` — a
    ``--family dup`` run that printed "92 / 100" read as the grade, which it is not.
    """
    part = "" if keyword is None else "selected "
    return [
        f"{family.family.name}: {family.passed} of {family.total} {part}"
        f"{'scenario' if family.total == 1 else 'scenarios'}"
        f" (this family is {family.family.weight} of the 100 points)"
        for family in report.families
    ]
