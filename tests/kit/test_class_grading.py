"""A class graded in one command: ``chatkit grade-class``, with hidden scenarios.

One small class is graded once, through the real command, with the example hidden
scenarios of ``docs/teacher-scenarios``: the reference, the starter in a learner's copy
of the kit, a known-wrong flow, a refused flow, one that ends the process as it is
imported, and an empty folder. The tests read what the command wrote. Two of the kit's
families are enough to see every part of it (and keep the run short).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from mistakes import MISTAKES, flow_source

from chatkit.grading import class_grading
from chatkit.grading.class_files import spreadsheet_text
from chatkit.grading.class_grading import Status, grade_class
from chatkit.grading.results import GradeReport
from chatkit.grading.saved import load_report, report_to_json
from chatkit.grading.submissions import Submission, class_submissions, flow_in
from chatkit.kit_home import kit_root

pytestmark = pytest.mark.timeout(240)

HIDDEN = kit_root() / "docs" / "teacher-scenarios" / "hidden"
HIDDEN_NAMES = (
    "the echo arrives three times around the ack",
    "two identical messages each echoed twice",
    "a refused message is retried and confirmed",
)
"""The hidden scenarios' names, as reports print them: never in a learner's files."""
SCENARIOS = (
    "--tests",
    "tests/scenarios/test_normal_flow.py",
    "--tests",
    "tests/scenarios/test_duplicates.py",
)
SOLUTION = (kit_root() / "solution" / "flow.py").read_text()
STARTER = (kit_root() / "starter-code" / "flow.py").read_text()


@dataclass(frozen=True)
class GradedClass:
    submissions: Path
    out: Path
    status: int
    printed: str


def chatkit(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The ``chatkit`` command, as a teacher runs it."""
    command = [sys.executable, "-c", "import sys; from chatkit.cli import main; sys.exit(main())"]
    return subprocess.run(
        [*command, *map(str, args)], capture_output=True, text=True, cwd=kit_root(), check=False
    )


def write(path: Path, source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> GradedClass:
    root = tmp_path_factory.mktemp("class")
    subs = root / "submissions"
    write(subs / "ada" / "flow.py", SOLUTION)
    write(subs / "bo" / "starter-code" / "flow.py", STARTER)  # the whole kit copy
    write(subs / "bo" / "solution" / "flow.py", SOLUTION)  # not bo's: never graded
    write(subs / "cy" / "flow.py", flow_source(MISTAKES["no_dedup"]))
    write(subs / "dee" / "flow.py", "import os\n" + SOLUTION)
    write(subs / "eve" / "flow.py", "raise SystemExit(1)\n" + SOLUTION)
    (subs / "fay").mkdir()
    out = root / "out"
    done = chatkit("grade-class", subs, "--out", out, *SCENARIOS, "--hidden", HIDDEN, "--jobs", "2")
    return GradedClass(subs, out, done.returncode, done.stdout + done.stderr)


def gradebook(graded: GradedClass) -> dict[str, dict[str, str]]:
    with (graded.out / "class.csv").open(newline="") as file:
        return {row["learner"]: row for row in csv.DictReader(file)}


def test_every_learner_gets_a_row_with_the_points_of_each_family(graded: GradedClass) -> None:
    rows = gradebook(graded)
    assert list(rows) == ["ada", "bo", "cy", "dee", "eve", "fay"], graded.printed
    assert [rows[name]["score"] for name in ("ada", "bo")] == ["100", "0"]
    assert 0 < int(rows["cy"]["score"]) < 100
    header = list(rows["ada"])
    families = header[header.index("score") + 1 : header.index("passed")]
    assert families == ["normal flow", "duplicates", "retries"]  # retries: hidden only
    assert sum(float(rows["ada"][family]) for family in families) == pytest.approx(100, abs=0.05)
    assert sum(float(rows["cy"][family]) for family in families) >= int(rows["cy"]["score"])
    assert rows["dee"]["normal flow"] == "", "a refused grade has no points to show"


def test_what_could_not_be_graded_is_named_and_stops_nothing(graded: GradedClass) -> None:
    rows = gradebook(graded)
    statuses = {name: row["status"] for name, row in rows.items()}
    assert statuses == {
        "ada": "graded",
        "bo": "graded",
        "cy": "graded",
        "dee": "refused",
        "eve": "not loaded",
        "fay": "not loaded",
    }
    assert "import `os`" in rows["dee"]["problem"]
    assert graded.status == 1, "some submissions could not be graded"
    summary = (graded.out / "summary.txt").read_text()
    assert "6 submissions: 3 graded, 3 could not be graded" in summary
    for line in ("dee  refused:", "eve  not loaded:", "fay  not loaded:"):
        assert line in summary, summary
    assert summary.strip() in graded.printed.replace("\r", ""), "the summary is printed too"


def test_the_summary_counts_who_failed_each_scenario(graded: GradedClass) -> None:
    summary = json.loads((graded.out / "summary.json").read_text())
    assert summary["learners"] == 6 and summary["graded"] == 3
    assert summary["distribution"]["100"] == 1 and summary["distribution"]["0–9"] >= 1
    assert sum(summary["distribution"].values()) == 3
    counts = [scenario["failed"] for scenario in summary["scenarios"]]
    assert counts == sorted(counts, reverse=True), "the most failed first"
    by_name = {scenario["name"]: scenario for scenario in summary["scenarios"]}
    twice = by_name["the echo arrives twice"]
    assert sorted(twice["learners"]) == ["bo", "cy"] and twice["failed"] == 2
    hidden = by_name[HIDDEN_NAMES[0]]
    assert hidden["hidden"] is True and hidden["family"] == "duplicates"
    assert summary["families"]["duplicates"] == 2


def test_the_learner_reads_only_that_a_hidden_scenario_failed(graded: GradedClass) -> None:
    mine = json.loads((graded.out / "learners" / "cy" / "results.json").read_text())
    teachers = json.loads((graded.out / "teacher" / "cy" / "results.json").read_text())
    assert mine["score"] == teachers["score"], "hidden scenarios count the same for both"
    hidden = [test for test in mine["tests"] if "hidden scenario" in test["name"]]
    assert [test["name"] for test in hidden] == [
        "duplicates › hidden scenario 1",
        "duplicates › hidden scenario 2",
        "retries › hidden scenario 1",
    ]
    assert all(test["test_code"] is None and test["output"] is None for test in hidden)
    assert "hidden scenario failed in family duplicates" in hidden[0]["message"]
    for name in HIDDEN_NAMES:
        assert name in json.dumps(teachers, ensure_ascii=False)
        for file in (graded.out / "learners" / "cy").iterdir():
            assert name not in file.read_text(), f"{file.name} shows the hidden {name!r}"


def test_a_class_grade_is_the_single_grading_of_the_same_folder(
    graded: GradedClass, tmp_path: Path
) -> None:
    """What the grader writes for one learner, hidden scenarios and all, is what the class
    grader wrote for them: the learner's results.json, byte for byte."""
    single = tmp_path / "results.json"
    target = graded.submissions / "cy"
    done = subprocess.run(
        [sys.executable, "grader.py", "--target", target, *SCENARIOS, "--hidden", HIDDEN,
         "--json", single],
        cwd=kit_root(),
        capture_output=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert single.read_text() == (graded.out / "learners" / "cy" / "results.json").read_text()
    saved = load_report(graded.out / "teacher" / "cy" / "grade.json")
    assert saved.score == json.loads(single.read_text())["score"]
    assert report_to_json(saved)["results"][0]["story"], "the saved grade keeps every story"


def test_a_grader_failure_on_one_submission_is_only_that_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def grade(target: str, **_: object) -> GradeReport:
        if "broken" in target:
            raise OSError("no space left on device")
        return GradeReport(target, target)

    monkeypatch.setattr(class_grading, "grade", grade)
    names = ["ann", "broken", "cat"]
    grades = grade_class([Submission(n, tmp_path / n, tmp_path / n) for n in names], jobs=2)
    assert [(g.learner, g.status) for g in grades] == [
        ("ann", Status.GRADED),
        ("broken", Status.GRADER_ERROR),
        ("cat", Status.GRADED),
    ]
    error = grades[1].report.load_error
    assert error is not None and "OSError: no space left on device" in error.message


def test_the_learners_flow_is_found_wherever_a_submission_keeps_it(tmp_path: Path) -> None:
    write(tmp_path / "top" / "flow.py", "")
    write(tmp_path / "copy" / "starter-code" / "flow.py", "")
    write(tmp_path / "copy" / "solution" / "flow.py", "")
    write(tmp_path / "nested" / "work" / "flow.py", "")
    write(tmp_path / "nested" / "tests" / "flow.py", "")
    write(tmp_path / "two" / "a" / "flow.py", "")
    write(tmp_path / "two" / "b" / "flow.py", "")
    (tmp_path / ".hidden-folder").mkdir()
    assert flow_in(tmp_path / "top") == tmp_path / "top" / "flow.py"
    assert flow_in(tmp_path / "copy") == tmp_path / "copy" / "starter-code" / "flow.py"
    assert flow_in(tmp_path / "nested") == tmp_path / "nested" / "work" / "flow.py"
    assert flow_in(tmp_path / "two") is None, "two candidates: the grader must not guess"
    found = {s.learner: s.target for s in class_submissions(tmp_path)}
    assert list(found) == ["copy", "nested", "top", "two"]
    assert found["two"] == tmp_path / "two"


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx"])
def test_text_a_spreadsheet_would_run_is_written_as_text(text: str) -> None:
    assert spreadsheet_text(text) == "'" + text
    assert spreadsheet_text("ada") == "ada" and spreadsheet_text("a=b") == "a=b"
