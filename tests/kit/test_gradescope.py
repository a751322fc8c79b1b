"""Gradescope: the grader's ``--gradescope results.json`` and ``chatkit gradescope OUT.zip``.

Each file is made by the real command and checked against the fields Gradescope's
autograder specification documents; the zip's ``run_autograder`` is run on a learner's
submission, in a folder laid out as Gradescope lays out ``/autograder``.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from mistakes import MISTAKES, flow_source

from chatkit.kit_home import kit_root

pytestmark = pytest.mark.timeout(180)

HIDDEN = kit_root() / "docs" / "teacher-scenarios" / "hidden"
VISIBLE = kit_root() / "docs" / "teacher-scenarios" / "visible"
SCENARIOS = (
    "--tests",
    "tests/scenarios/test_normal_flow.py",
    "--tests",
    "tests/scenarios/test_duplicates.py",
)
"""Two of the kit's families: enough to see every part of the format, and quick."""
ROLLBACK = kit_root() / "tests" / "scenarios" / "test_failure_rollback.py"
TEACHERS = ("--tests", VISIBLE, "--tests", ROLLBACK, "--hidden", HIDDEN)
"""The autograder's scenarios: a family of the teacher's, one of the kit's, the hidden."""

RESULT_FIELDS = {
    "score": (int, float),
    "execution_time": (int, float),
    "output": (str,),
    "output_format": (str,),
    "test_output_format": (str,),
    "test_name_format": (str,),
    "visibility": (str,),
    "stdout_visibility": (str,),
    "extra_data": (dict,),
    "tests": (list,),
    "leaderboard": (list,),
}
"""The top-level fields of Gradescope's results.json, and their JSON types."""
TEST_FIELDS = {
    "score": (int, float),
    "max_score": (int, float),
    "status": (str,),
    "name": (str,),
    "name_format": (str,),
    "number": (str,),
    "output": (str,),
    "output_format": (str,),
    "tags": (list,),
    "visibility": (str,),
    "extra_data": (dict,),
}
"""The fields of one test in Gradescope's results.json."""
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
STATUS = {"passed", "failed"}


def check_gradescope(document: dict[str, Any]) -> None:
    """Only documented fields, each of its documented type and values."""
    assert set(document) <= set(RESULT_FIELDS), set(document) - set(RESULT_FIELDS)
    assert "score" in document or all("score" in test for test in document["tests"])
    for name, value in document.items():
        assert isinstance(value, RESULT_FIELDS[name]), (name, value)
    for name in ("visibility", "stdout_visibility"):
        assert document.get(name, "visible") in VISIBILITY
    for test in document.get("tests", []):
        assert set(test) <= set(TEST_FIELDS), set(test) - set(TEST_FIELDS)
        for name, value in test.items():
            assert isinstance(value, TEST_FIELDS[name]), (name, value)
        assert test.get("visibility", "visible") in VISIBILITY
        assert test.get("status", "passed") in STATUS
        assert 0 <= test["score"] <= test["max_score"]


def graded(target: Path | str, out: Path, *options: str | Path) -> dict[str, Any]:
    """``python grader.py --target TARGET --gradescope OUT``: the document written."""
    subprocess.run(
        [sys.executable, "grader.py", "--target", target, "--quiet", "--gradescope", out, *options],
        cwd=kit_root(),
        capture_output=True,
        check=False,
    )
    document: dict[str, Any] = json.loads(out.read_text())
    return document


@pytest.fixture(scope="module")
def no_dedup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("no_dedup")
    (folder / "flow.py").write_text(flow_source(MISTAKES["no_dedup"]))
    return graded(folder, folder / "results.json", *SCENARIOS, "--hidden", HIDDEN)


def test_the_results_have_only_gradescopes_fields(no_dedup: dict[str, Any]) -> None:
    check_gradescope(no_dedup)
    assert no_dedup["tests"], "one test per scenario"


def test_points_follow_the_family_weights_and_the_score_is_the_kits(
    no_dedup: dict[str, Any],
) -> None:
    tests = no_dedup["tests"]
    assert sum(test["max_score"] for test in tests) == pytest.approx(100, abs=0.01)
    earned = sum(test["score"] for test in tests)
    assert no_dedup["score"] == int(earned + 1e-6), "the top-level score is the kit's, rounded down"
    normal = [test for test in tests if test["name"].startswith("normal flow ›")]
    weights = {test["max_score"] for test in normal}
    assert len(weights) == 1, "a family's points are split evenly among its scenarios"
    retries = [test for test in tests if test["name"].startswith("retries ›")]
    assert retries[0]["max_score"] > weights.pop(), "a family of one scenario gives it all"
    assert all(test["status"] == "failed" and test["score"] == 0 for test in retries)


def test_hidden_scenarios_are_hidden_with_their_story_and_named_by_family(
    no_dedup: dict[str, Any],
) -> None:
    hidden = [test for test in no_dedup["tests"] if test["visibility"] == "hidden"]
    assert [test["name"] for test in hidden] == [
        "duplicates › the echo arrives three times around the ack",
        "duplicates › two identical messages each echoed twice",
        "retries › a refused message is retried and confirmed",
    ]
    assert "what happened:" in hidden[0]["output"], "staff read the whole story"
    assert {test["visibility"] for test in no_dedup["tests"]} - {"hidden"} == {"visible"}
    lines = no_dedup["output"].splitlines()
    assert lines[1:] == [
        "hidden scenario failed in family duplicates",
        "hidden scenario failed in family duplicates",
        "hidden scenario failed in family retries",
    ]
    assert no_dedup["stdout_visibility"] == "hidden"


def test_a_refused_flow_scores_zero_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text("import os\n" + (kit_root() / "solution/flow.py").read_text())
    document = graded(tmp_path, tmp_path / "results.json")
    check_gradescope(document)
    assert document["score"] == 0 and document["tests"] == []
    assert document["output"].startswith("The grade was refused (")
    assert "import `os`" in document["output"]


def build(out: Path, *options: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "import sys; from chatkit.cli import main; sys.exit(main())"]
    return subprocess.run(
        [*command, "gradescope", out, *map(str, options)],
        cwd=kit_root(),
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def autograder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "autograder.zip"
    done = build(out, *TEACHERS)
    assert done.returncode == 0, done.stderr
    return out


def test_the_zip_holds_the_two_scripts_at_its_root_and_the_kit_but_no_answers(
    autograder: Path,
) -> None:
    with zipfile.ZipFile(autograder) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        run = archive.read("run_autograder").decode()
    assert names[:2] == ["setup.sh", "run_autograder"]
    assert all(modes[name] & stat.S_IXUSR for name in ("setup.sh", "run_autograder"))
    for name in ("grader.py", "pyproject.toml", "chatkit/grading/runner.py"):
        assert name in names
    assert "teacher/hidden/1/test_hidden_duplicates.py" in names
    assert "teacher/tests/1/test_greetings.py" in names
    assert "teacher/tests/2/test_failure_rollback.py" in names, "a file keeps its name"
    assert not [n for n in names if n.startswith(("solution/", "tests/kit/")) or ".pyc" in n]
    assert "--hidden teacher/hidden/1" in run and "--tests teacher/tests/1" in run
    assert "/autograder/results/results.json" in run


def test_the_same_kit_makes_the_same_zip(autograder: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.zip"
    build(again, *TEACHERS)
    assert again.read_bytes() == autograder.read_bytes()


def test_run_autograder_grades_the_submission_into_results_json(
    autograder: Path, tmp_path: Path
) -> None:
    """Unpacked as Gradescope unpacks it, with the submission where Gradescope puts it."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder) as archive:
        archive.extractall(root / "source")
    submission = root / "submission"
    submission.mkdir()
    (submission / "flow.py").write_text(flow_source(MISTAKES["rollback_removes"]))
    script = (root / "source" / "run_autograder").read_text()
    script = script.replace("/autograder/venv/bin/python", sys.executable)
    script = script.replace("/autograder", str(root))
    (root / "results").mkdir()
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads((root / "results" / "results.json").read_text())
    check_gradescope(document)
    names = [test["name"] for test in document["tests"]]
    assert "greetings › hello is confirmed" in names
    assert "retries › a refused message is retried and confirmed" in names
    families = {t["name"].split(" › ")[0] for t in document["tests"]}
    assert families == {"greetings", "failure and rollback", "duplicates", "retries"}
    failed = {t["name"].split(" › ")[0] for t in document["tests"] if t["status"] == "failed"}
    assert "failure and rollback" in failed and 0 < document["score"] < 100
