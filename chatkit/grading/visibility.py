"""What a learner may see of a grade that includes a teacher's hidden scenarios.

A hidden scenario counts in the score exactly as a visible one does, so the learner's
score is the teacher's score. What the learner is told of it is only its family and
whether it passed: "hidden scenario failed in family X" — no name, no story, no code,
no screens, nothing their code printed (an answer key could be rebuilt from any of them).
Gradescope names the same idea ``visibility``; `chatkit.grading.gradescope` says it there.
"""

from __future__ import annotations

from dataclasses import replace

from chatkit.grading.results import GradeReport, Outcome, TestResult

HIDDEN_NAME = "hidden scenario"


def hidden_message(family: str) -> str:
    """All a learner reads about a hidden scenario that failed."""
    return f"hidden scenario failed in family {family}"


def learner_view(report: GradeReport) -> GradeReport:
    """The report with every hidden scenario reduced to its family and outcome."""
    if not any(result.hidden for result in report.results):
        return report
    numbers: dict[str, int] = {}
    results = []
    for result in report.results:
        if result.hidden:
            numbers[result.family] = numbers.get(result.family, 0) + 1
            result = masked(result, numbers[result.family])
        results.append(result)
    return replace(report, results=results)


def masked(result: TestResult, number: int) -> TestResult:
    """A hidden result as the learner sees it: numbered within its family, nothing else."""
    failed = result.outcome is not Outcome.PASSED
    return TestResult(
        nodeid=f"hidden::{result.family}::{number}",
        name=f"{HIDDEN_NAME} {number}",
        family=result.family,
        outcome=Outcome.FAILED if failed else Outcome.PASSED,
        about="A scenario your teacher keeps hidden.",
        message=hidden_message(result.family) if failed else "",
        hidden=True,
    )
