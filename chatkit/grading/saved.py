"""A whole `GradeReport` as JSON, and back: every field, nothing summarised.

The class grader keeps each learner's full report on disk, so the teacher (or a test, or
a later run of a report writer) can read a grade again without grading again.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chatkit.grading.results import GradeReport, LoadError, Location, TestResult


def report_to_json(report: GradeReport) -> dict[str, Any]:
    return {
        "target": report.target,
        "path": report.path,
        "load_error": asdict(report.load_error) if report.load_error else None,
        "results": [result.to_json() for result in report.results],
    }


def report_from_json(data: dict[str, Any]) -> GradeReport:
    error = data.get("load_error")
    load_error = None
    if error is not None:
        location = error.get("location")
        load_error = LoadError(**{**error, "location": Location(**location) if location else None})
    return GradeReport(
        target=data["target"],
        path=data["path"],
        results=[TestResult.from_json(result) for result in data["results"]],
        load_error=load_error,
    )


def save_report(report: GradeReport, path: Path) -> None:
    path.write_text(json.dumps(report_to_json(report), ensure_ascii=False) + "\n", encoding="utf-8")


def load_report(path: Path) -> GradeReport:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report_from_json(data)
