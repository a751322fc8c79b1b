"""What a teacher needs to know of a class's grades, as plain data; drawn by `class_files`.

Three questions: how the scores spread, which scenarios (and so which ideas) the class
has not yet understood, and which submissions need a look by hand because they could
not be graded, or crashed or hung in some scenarios.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from chatkit.grading.class_grading import LearnerGrade, Status
from chatkit.grading.families import family_order
from chatkit.grading.report import humanize
from chatkit.grading.results import GradeReport, Outcome

BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("100", 100, 100),
    *((f"{low}–{low + 9}", low, low + 9) for low in range(90, -1, -10)),
)
"""The score distribution's rows, best first: a perfect score apart, then each ten."""


def family_points(report: GradeReport) -> dict[str, float]:
    """Each family's share of the score (out of 100 over all families), as earned.

    The score is these summed and rounded down; a family's weight over the weights of
    the families graded is what it can give at most.
    """
    families = report.families
    total = sum(family.family.weight for family in families)
    if report.load_error is not None or not total:
        return {family.family.name: 0.0 for family in families}
    return {
        family.family.name: 100 * family.family.weight * family.passed / family.total / total
        for family in families
    }


@dataclass(frozen=True, slots=True)
class ScenarioTally:
    """One scenario, and the learners who failed it."""

    family: str
    name: str
    hidden: bool
    learners: list[str]

    @property
    def title(self) -> str:
        return f"{self.family} › {self.name}" + (" (hidden)" if self.hidden else "")


@dataclass(frozen=True, slots=True)
class Trouble:
    """A submission that needs a look by hand, and why."""

    learner: str
    what: str


@dataclass(slots=True)
class ClassSummary:
    learners: int
    graded: int
    scores: list[int]
    """The graded learners' scores."""
    distribution: list[tuple[str, int]]
    """How many graded learners scored in each of `BUCKETS`."""
    scenarios: list[ScenarioTally] = field(default_factory=list)
    """Every scenario some graded learner failed: the most failed first."""
    families: list[tuple[str, int]] = field(default_factory=list)
    """Each family, and how many graded learners failed at least one of its scenarios."""
    trouble: list[Trouble] = field(default_factory=list)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.scores) if self.scores else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.scores) if self.scores else None


def summarize(grades: Sequence[LearnerGrade]) -> ClassSummary:
    graded = [grade for grade in grades if grade.status is Status.GRADED]
    scores = [grade.report.score for grade in graded]
    summary = ClassSummary(
        learners=len(grades),
        graded=len(graded),
        scores=scores,
        distribution=[
            (label, sum(low <= score <= high for score in scores)) for label, low, high in BUCKETS
        ],
    )
    tallies: dict[str, ScenarioTally] = {}
    families: dict[str, set[str]] = {}
    for grade in graded:
        for result in grade.report.results:
            families.setdefault(result.family, set())
            if result.outcome is Outcome.PASSED:
                continue
            families[result.family].add(grade.learner)
            tally = tallies.setdefault(
                result.nodeid,
                ScenarioTally(result.family, humanize(result.name), result.hidden, []),
            )
            tally.learners.append(grade.learner)
    summary.scenarios = sorted(
        tallies.values(), key=lambda t: (-len(t.learners), family_order(t.family), t.family)
    )
    summary.families = [
        (name, len(families[name])) for name in sorted(families, key=lambda n: (family_order(n), n))
    ]
    summary.trouble = [trouble for grade in grades for trouble in _trouble(grade)]
    return summary


def _trouble(grade: LearnerGrade) -> list[Trouble]:
    error = grade.report.load_error
    if error is not None:
        where = error.location
        if where is not None:
            return [Trouble(grade.learner, f"{grade.status}: {where.file}, line {where.line}")]
        first = error.message.strip().splitlines()[0] if error.message.strip() else ""
        return [Trouble(grade.learner, f"{grade.status}: {first}")]
    found = []
    for outcome in (Outcome.CRASHED, Outcome.TIMED_OUT):
        if count := grade.count(outcome):
            found.append(Trouble(grade.learner, f"{count} scenario(s) {outcome.value}"))
    return found
