"""Machine-readable results: the exercism test-runner format (v3) and JUnit XML.

Both carry everything a person needs to understand a failure — the story, the
expected and the actual timeline — in full: nothing is cut short.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from chatkit.engine.story import told
from chatkit.grading.families import FAMILIES
from chatkit.grading.report import humanize
from chatkit.grading.results import GradeReport, Outcome, TestResult
from chatkit.grading.summary import hint_sections

EXERCISM_STATUS = {
    Outcome.PASSED: "pass",
    Outcome.FAILED: "fail",
    Outcome.TIMED_OUT: "fail",
    Outcome.NOT_WRITTEN: "fail",
    Outcome.CRASHED: "error",
}


def failure_text(result: TestResult) -> str:
    """A failure as plain text: verdict, story, expected and actual, where to read."""
    if result.outcome is Outcome.PASSED:
        return ""
    what = result.rule or (result.error_type if result.outcome is Outcome.CRASHED else None)
    lines = [f"{result.outcome.value}: {what + ': ' if what else ''}{result.message}"]
    if result.location is not None:
        where = result.location
        lines.append(f"at {where.file}, line {where.line}, in {where.function}: {where.code}")
    if result.story:
        lines.append("what happened:")
        lines += [f"  {line}" for line in told(result.story)]
    if result.expected is not None:
        lines.append("expected: " + " · ".join(result.expected))
    if result.actual is not None:
        lines.append("actual:   " + " · ".join(result.actual))
    lines.append("read: " + ", ".join(hint_sections(result)))
    return "\n".join(lines)


OUTPUT_CHARS = 500
"""The exercism interface shows at most this much of a test's output."""


def output(result: TestResult) -> str | None:
    """What the learner's code printed in the scenario, cut to exercism's limit (saying so)."""
    if not result.output:
        return None
    dropped = result.output_dropped + max(0, len(result.output) - OUTPUT_CHARS)
    if not dropped:
        return result.output
    cut = f"\n[output cut: {dropped:,} more characters]"
    return result.output[: OUTPUT_CHARS - len(cut)] + cut


def task_id(family: str) -> int:
    """Exercism's task id: the family's place in the design's list (1-based)."""
    names = [f.name for f in FAMILIES]
    return names.index(family) + 1 if family in names else len(names) + 1


def exercism(report: GradeReport) -> dict[str, Any]:
    """The exercism test-runner v3 document, with the kit's score added."""
    if report.load_error is not None:
        error = report.load_error
        where = f" ({error.location.file}, line {error.location.line})" if error.location else ""
        return {
            "version": 3,
            "status": "error",
            "message": f"{error.error_type + ': ' if error.error_type else ''}{error.message}{where}",
            "score": 0,
            "refused": error.refused,
            "tests": [],
        }
    return {
        "version": 3,
        "status": "pass" if report.exit_code == 0 else "fail",
        "score": report.score,
        "tests": [
            {
                "name": f"{result.family} › {humanize(result.name)}",
                "status": EXERCISM_STATUS[result.outcome],
                "message": failure_text(result) or None,
                "output": output(result),
                "test_code": result.source,
                "task_id": task_id(result.family),
            }
            for result in report.results
        ],
    }


def write_exercism(report: GradeReport, path: Path) -> None:
    path.write_text(json.dumps(exercism(report), indent=2, ensure_ascii=False) + "\n")


def write_junit(report: GradeReport, path: Path) -> None:
    """One ``testsuite`` per family; failures and errors carry the full explanation."""
    suites = ET.Element("testsuites", name="chat message flow", tests=str(len(report.results)))
    suites.set("score", str(report.score))
    if report.load_error is not None:
        name, check = (
            ("refused", "grade refused") if report.load_error.refused else ("load", "target loads")
        )
        suite = ET.SubElement(suites, "testsuite", name=name, tests="1", errors="1")
        case = ET.SubElement(suite, "testcase", classname=name, name=check)
        error = ET.SubElement(case, "error", message=report.load_error.message)
        error.text = report.load_error.message
    for family in report.families:
        failures = family.total - family.passed - family.count(Outcome.CRASHED)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=family.family.name,
            tests=str(family.total),
            failures=str(failures),
            errors=str(family.count(Outcome.CRASHED)),
            time=f"{sum(r.duration for r in family.results):.3f}",
        )
        for result in family.results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=family.family.name,
                name=humanize(result.name),
                time=f"{result.duration:.3f}",
            )
            if result.outcome is not Outcome.PASSED:
                tag = "error" if result.outcome is Outcome.CRASHED else "failure"
                element = ET.SubElement(
                    case, tag, message=result.message, type=result.outcome.value
                )
                element.text = failure_text(result)
    ET.indent(suites)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
