"""Gradescope's autograder results format (``results.json``).

Gradescope reads, at the top, ``score``, ``execution_time``, ``output``, ``visibility``,
``stdout_visibility`` and ``tests``; each test has ``score``, ``max_score``, ``name``,
``number``, ``status``, ``output`` and a ``visibility`` among ``hidden``,
``after_due_date``, ``after_published`` and ``visible``.

Points follow the kit's score: a family is worth its weight's share of 100, split evenly
among its scenarios, and the top-level ``score`` is the kit's own (the points summed and
rounded down), so Gradescope shows what ``python grader.py`` printed. A teacher's hidden
scenario is a ``hidden`` test (Gradescope shows it, with its whole story, to staff only)
and the learner reads "hidden scenario failed in family X" in the top-level output.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from chatkit.grading.exports import failure_text, task_id
from chatkit.grading.report import humanize
from chatkit.grading.results import GradeReport, Outcome, TestResult
from chatkit.grading.visibility import hidden_message

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
"""Gradescope's visibility settings, from least shown to most."""
POINT_DECIMALS = 4


def scenario_points(report: GradeReport) -> dict[str, float]:
    """Each scenario's worth, by node id: its family's share of 100, split evenly."""
    families = report.families
    total = sum(family.family.weight for family in families)
    return {
        result.nodeid: 100 * family.family.weight / total / family.total
        for family in families
        for result in family.results
    }


def gradescope(report: GradeReport, *, visibility: str = "visible") -> dict[str, Any]:
    """The results document for ``report``; ``visibility`` is the whole result's."""
    document: dict[str, Any] = {
        "score": report.score,
        "execution_time": math.ceil(sum(result.duration for result in report.results)),
        "output": _output(report),
        "visibility": visibility,
        "stdout_visibility": "hidden",  # the grader's own log, for staff
        "tests": [],
    }
    if report.load_error is not None:
        return document
    worth = scenario_points(report)
    numbers: dict[str, int] = {}
    for result in report.results:
        numbers[result.family] = numbers.get(result.family, 0) + 1
        passed = result.outcome is Outcome.PASSED
        points = round(worth[result.nodeid], POINT_DECIMALS)
        document["tests"].append(
            {
                "name": f"{result.family} › {humanize(result.name)}",
                "number": f"{task_id(result.family)}.{numbers[result.family]}",
                "score": points if passed else 0.0,
                "max_score": points,
                "status": "passed" if passed else "failed",
                "output": _test_output(result),
                "visibility": "hidden" if result.hidden else "visible",
            }
        )
    return document


def _output(report: GradeReport) -> str:
    """What the learner reads first: the score, and what hidden scenarios they failed."""
    error = report.load_error
    if error is not None:
        where = f" ({error.location.file}, line {error.location.line})" if error.location else ""
        verdict = "The grade was refused" if error.refused else "Your code could not be loaded"
        return f"{verdict}{where}:\n{error.message}"
    lines = [f"{report.score}/100 ({report.passed} of {len(report.results)} scenarios pass)"]
    lines += [
        hidden_message(result.family)
        for result in report.results
        if result.hidden and result.outcome is not Outcome.PASSED
    ]
    return "\n".join(lines)


def _test_output(result: TestResult) -> str:
    if result.outcome is Outcome.PASSED:
        return result.about
    return "\n\n".join(part for part in (result.about, failure_text(result)) if part)


def write_gradescope(report: GradeReport, path: Path, *, visibility: str = "visible") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = gradescope(report, visibility=visibility)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
