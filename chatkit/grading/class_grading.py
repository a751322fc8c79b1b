"""Grade a whole class: every learner's submission, several at once, each on its own.

Each submission is graded by `chatkit.grading.runner.grade`, exactly as ``python grader.py
--target FOLDER`` grades it: its own probe, its own child process holding the judge and
the phones, its own time limits and its own check that the kit's files did not change.
Gradings run side by side, one per core; all a grading does in this process is wait on
its child, so a thread per grading is enough. A submission that crashes, hangs, is
refused or even breaks the grader itself ends as a grade that says so, and never stops
or changes another's.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from chatkit.grading.results import GradeReport, LoadError, Outcome
from chatkit.grading.runner import grade
from chatkit.grading.submissions import Submission


class Status(enum.StrEnum):
    """How a submission's grading ended, as the class's reports name it."""

    GRADED = "graded"
    REFUSED = "refused"
    NOT_LOADED = "not loaded"
    GRADER_ERROR = "grader error"


@dataclass(frozen=True, slots=True)
class LearnerGrade:
    """One learner's grade: the full report (hidden scenarios included) and its time."""

    submission: Submission
    report: GradeReport
    seconds: float
    grader_error: bool = False
    """The grader itself failed on this submission (the report's load error says how)."""

    @property
    def learner(self) -> str:
        return self.submission.learner

    @property
    def status(self) -> Status:
        error = self.report.load_error
        if self.grader_error:
            return Status.GRADER_ERROR
        if error is None:
            return Status.GRADED
        return Status.REFUSED if error.refused else Status.NOT_LOADED

    def count(self, outcome: Outcome) -> int:
        return sum(result.outcome is outcome for result in self.report.results)


def default_jobs() -> int:
    """One grading per core."""
    return os.cpu_count() or 1


def grade_class(
    submissions: Sequence[Submission],
    *,
    tests: Sequence[Path] = (),
    hidden: Sequence[Path] = (),
    jobs: int | None = None,
    on_graded: Callable[[LearnerGrade], None] | None = None,
) -> list[LearnerGrade]:
    """Grade every submission, ``jobs`` at a time; the grades in the submissions' order.

    ``on_graded`` hears of each grade as soon as it is ready (in the order they finish).
    """
    pool = ThreadPoolExecutor(max_workers=jobs or default_jobs(), thread_name_prefix="grade")
    try:
        futures: list[Future[LearnerGrade]] = [
            pool.submit(grade_submission, submission, tests, hidden) for submission in submissions
        ]
        for future in as_completed(futures):
            if on_graded is not None:
                on_graded(future.result())
        return [future.result() for future in futures]
    finally:
        pool.shutdown(cancel_futures=True)  # Ctrl-C: no new gradings start


def grade_submission(
    submission: Submission, tests: Sequence[Path] = (), hidden: Sequence[Path] = ()
) -> LearnerGrade:
    """One learner's grade, whatever happens: a grader that fails becomes the grade's error."""
    target = str(submission.target)
    start = time.perf_counter()
    try:
        report = grade(target, tests=tests, hidden=hidden)
    except Exception as error:  # one submission must never stop the class
        message = f"the grader could not grade this submission: {type(error).__name__}: {error}"
        report = GradeReport(target, target, load_error=LoadError(message))
        return LearnerGrade(submission, report, time.perf_counter() - start, grader_error=True)
    return LearnerGrade(submission, report, time.perf_counter() - start)
