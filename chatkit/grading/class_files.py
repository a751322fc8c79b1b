"""A graded class, written out: the gradebook CSV, the summary, and each learner's reports.

``OUT/`` after ``chatkit grade-class``::

    class.csv               one row per learner: score, each family's points, status, time
    summary.txt             the class summary, as printed (`render_summary`)
    summary.json            the same, for a script
    learners/NAME/          what to hand back: hidden scenarios only as "failed in family X"
        results.json        exercism v3 results
        report.html         the report as one web page
    teacher/NAME/           everything, hidden scenarios included
        results.json, report.html
        grade.json          the full report, to read again without grading (`saved`)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chatkit.grading.class_grading import LearnerGrade
from chatkit.grading.class_summary import ClassSummary, family_points, summarize
from chatkit.grading.exports import write_exercism
from chatkit.grading.families import family_order
from chatkit.grading.html_report import write_html
from chatkit.grading.results import Outcome
from chatkit.grading.saved import save_report
from chatkit.grading.visibility import learner_view

BAR_WIDTH = 30
SHOWN_SCENARIOS = 15
"""How many of the most-failed scenarios the printed summary lists (summary.json has all)."""


def write_class(grades: Sequence[LearnerGrade], out: Path) -> ClassSummary:
    """Write every file of ``OUT/`` and return the summary they hold."""
    out.mkdir(parents=True, exist_ok=True)
    for grade in grades:
        write_learner(grade, out)
    write_csv(grades, out / "class.csv")
    summary = summarize(grades)
    (out / "summary.txt").write_text(render_summary(summary) + "\n", encoding="utf-8")
    (out / "summary.json").write_text(
        json.dumps(summary_json(summary), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return summary


def write_learner(grade: LearnerGrade, out: Path) -> None:
    """The learner's own reports, and the teacher's full ones."""
    teacher, learner = out / "teacher" / grade.learner, out / "learners" / grade.learner
    for folder, report in ((teacher, grade.report), (learner, learner_view(grade.report))):
        folder.mkdir(parents=True, exist_ok=True)
        write_exercism(report, folder / "results.json")
        write_html(report, folder / "report.html")
    save_report(grade.report, teacher / "grade.json")


def class_families(grades: Sequence[LearnerGrade]) -> list[str]:
    """Every family any learner was graded on, in the report's order."""
    names = {result.family for grade in grades for result in grade.report.results}
    return sorted(names, key=lambda name: (family_order(name), name))


def write_csv(grades: Sequence[LearnerGrade], path: Path) -> None:
    """The gradebook: one row per learner, each family's points to two decimals."""
    families = class_families(grades)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "learner",
                "score",
                *families,
                "passed",
                "scenarios",
                "status",
                "crashed",
                "timed out",
                "seconds",
                "problem",
            ]
        )
        for grade in grades:
            points = family_points(grade.report)
            error = grade.report.load_error
            writer.writerow(
                [
                    spreadsheet_text(grade.learner),
                    grade.report.score,
                    *(f"{points[f]:.2f}" if f in points else "" for f in families),
                    grade.report.passed,
                    len(grade.report.results),
                    grade.status.value,
                    grade.count(Outcome.CRASHED),
                    grade.count(Outcome.TIMED_OUT),
                    f"{grade.seconds:.1f}",
                    spreadsheet_text(" ".join(error.message.split())) if error else "",
                ]
            )


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""How a cell a spreadsheet would run as a formula starts (``=HYPERLINK(…)``)."""


def spreadsheet_text(text: str) -> str:
    """``text`` as a spreadsheet shows it, never runs it: a folder's name or a flow's error
    that starts like a formula gets a leading ``'``, which spreadsheets read as "text"."""
    return f"'{text}" if text.startswith(FORMULA_START) else text


def summary_json(summary: ClassSummary) -> dict[str, Any]:
    return {
        "learners": summary.learners,
        "graded": summary.graded,
        "mean": summary.mean,
        "median": summary.median,
        "distribution": dict(summary.distribution),
        "families": dict(summary.families),
        "scenarios": [
            {**asdict(tally), "failed": len(tally.learners)} for tally in summary.scenarios
        ],
        "trouble": [asdict(trouble) for trouble in summary.trouble],
    }


def render_summary(summary: ClassSummary) -> str:
    """The summary as plain text: distribution, the ideas not yet understood, the trouble."""
    ungraded = summary.learners - summary.graded
    lines = [
        f"{summary.learners} submissions: {summary.graded} graded"
        + (f", {ungraded} could not be graded (below)" if ungraded else "")
    ]
    if summary.scores:
        lines.append(
            f"score: mean {summary.mean:.1f}, median {summary.median:g}, "
            f"lowest {min(summary.scores)}, highest {max(summary.scores)}"
        )
        most = max(count for _, count in summary.distribution) or 1
        lines += ["", "score distribution"]
        for label, count in summary.distribution:
            bar = "█" * round(BAR_WIDTH * count / most)
            lines.append(f"  {label:>6}  {bar} {count}" if count else f"  {label:>6}  ·")
    if summary.families:
        lines += ["", f"families: how many of the {summary.graded} graded failed a scenario in it"]
        width = max(len(name) for name, _ in summary.families)
        lines += [f"  {name:<{width}}  {failed:>3}" for name, failed in summary.families]
    if summary.scenarios:
        lines += ["", "scenarios the class fails most (learners who failed each)"]
        for tally in summary.scenarios[:SHOWN_SCENARIOS]:
            lines.append(f"  {len(tally.learners):>3}  {tally.title}")
        if len(summary.scenarios) > SHOWN_SCENARIOS:
            lines.append(f"  … {len(summary.scenarios) - SHOWN_SCENARIOS} more in summary.json")
    if summary.trouble:
        lines += ["", "needs a look"]
        width = max(len(trouble.learner) for trouble in summary.trouble)
        lines += [f"  {t.learner:<{width}}  {t.what}" for t in summary.trouble]
    return "\n".join(lines)
