"""The grader itself: scores, broken learner code, and the classroom options.

Broken targets are made from the reference solution with one edit each, in a
temporary folder, so they stay in step with it. These tests never grade or read
``starter-code/``: that is the learner's working copy, and the kit's own tests must
stay green once it is solved. "Not written yet" is checked on a stub made the same
way: the solution with each function's body replaced by ``raise NotImplementedError``,
which is all the shipped starter's functions do.
"""

from __future__ import annotations

import io
import json
import re
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from grading_support import SOLUTION, crash, run_grader, scenario, write_stub
from rich.console import Console

from chatkit.engine.story import Step
from chatkit.grading import runner
from chatkit.grading.compare import render_comparison
from chatkit.grading.exports import exercism, failure_text
from chatkit.grading.families import scenario_names
from chatkit.grading.hints import STATE_FILE, parse_hints
from chatkit.grading.report import plain_console, render, summary_line
from chatkit.grading.results import GradeReport, LoadError, Location, Outcome, Planned, out_of_time
from chatkit.grading.results import TestResult as Result
from chatkit.grading.runner import grade, scenarios_dir
from chatkit.grading.summary import shortened
from chatkit.grading.watch import watch_and_grade
from chatkit.kit_home import kit_root

NORMAL = ["normal flow"]
SEND_STARTS = "    check_body(body)\n"
RECONCILE_LOOKUP = "    message = state.get(incoming.client_id)\n"
SEND_SHOWN = "    chat.in_flight.add(message.client_id)\n"

pytestmark = pytest.mark.timeout(120)


def make_target(folder: Path, old: str = "", new: str = "", *, append: str = "") -> Path:
    """A copy of the solution in ``folder``, with ``old`` replaced by ``new``."""
    source = SOLUTION.read_text()
    assert old in source, f"the solution no longer contains {old!r}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "flow.py").write_text(source.replace(old, new, 1) + append)
    return folder


@pytest.fixture
def stub(tmp_path: Path) -> Path:
    """A flow whose three functions are not written yet, like the shipped starter."""
    return write_stub(tmp_path / "stub")


def unwrapped(screen: str) -> str:
    """The grader's screen as one line of words: panel borders and line wraps fall where a
    path's length puts them, which a test must not depend on."""
    return " ".join(screen.replace("│", " ").split())


def outcomes(report: GradeReport) -> set[Outcome]:
    return {result.outcome for result in report.results}


def test_solution_scores_100_and_exits_0() -> None:
    report = grade("solution")
    assert report.load_error is None
    assert report.score == 100
    assert report.exit_code == 0
    assert len(report.results) >= 40


def test_all_timelines_says_how_many_it_checked() -> None:
    report = grade("solution", families=["all timelines"])
    notes = [result.note for result in report.results]
    assert notes and all(note.endswith("timelines checked") for note in notes)
    counted = sum(int(note.split()[0].replace(",", "")) for note in notes)
    assert counted >= 10_000


def test_progress_hears_of_every_scenario() -> None:
    totals: list[int] = []
    finished: list[str] = []
    report = grade(
        "solution",
        families=NORMAL,
        on_collected=totals.append,
        on_result=lambda r: finished.append(r.nodeid),
    )
    assert totals == [len(report.results)]
    assert finished == [result.nodeid for result in report.results]


def test_not_written_scores_0_and_points_at_send(stub: Path) -> None:
    report = grade(str(stub))
    assert report.score == 0
    assert report.passed == 0, "no scenario is free points"
    assert report.exit_code == 1
    not_written = [r for r in report.results if r.outcome is Outcome.NOT_WRITTEN]
    assert not_written, "an untouched starter reads as 'not written yet'"
    assert {r.function for r in not_written} <= {"send", "reconcile", "rollback"}


def test_not_written_screen_says_where_to_start(stub: Path) -> None:
    done = run_grader("--target", str(stub), "--family", "normal flow")
    assert done.returncode == 1
    assert "Not written yet" in done.stdout
    assert "Start here: write send" in done.stdout
    assert "Next: write send" in unwrapped(done.stdout), "the last line says the same"
    assert "Traceback" not in done.stdout + done.stderr
    assert "\x1b[" not in done.stdout, "no colour codes when NO_COLOR is set or not a terminal"


def test_syntax_error_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    target = make_target(tmp_path / "broken", SEND_STARTS, "    check_body(body\n")
    done = run_grader("--target", str(target))
    assert done.returncode == 2
    assert "could not be loaded" in done.stdout
    assert "flow.py, line" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_exit_at_import_is_a_load_error(tmp_path: Path) -> None:
    target = make_target(tmp_path / "exits", append="\nraise SystemExit(4)\n")
    report = grade(str(target))
    assert report.exit_code == 2
    assert report.load_error is not None and "sys.exit(4)" in report.load_error.message


def test_a_flow_that_does_not_load_is_told_as_that_alone(tmp_path: Path) -> None:
    """The scenarios start while the import is probed; when the flow does not load, none
    of what they found is told or kept: the report is the load error alone."""
    target = make_target(tmp_path / "raises", append="\nraise RuntimeError('at import')\n")
    told: list[object] = []
    report = grade(str(target), on_result=told.append, on_collected=told.append)
    assert report.load_error is not None and "at import" in report.load_error.message
    assert report.results == [] and told == []
    assert report.exit_code == 2


def test_missing_function_is_a_load_error(tmp_path: Path) -> None:
    target = make_target(tmp_path / "partial", "def rollback(", "def roll_back(")
    report = grade(str(target))
    assert report.exit_code == 2
    assert report.load_error is not None and "rollback" in report.load_error.message


def test_unknown_target_is_a_load_error() -> None:
    report = grade("no/such/folder")
    assert report.exit_code == 2


def test_crash_in_reconcile_names_the_line(tmp_path: Path) -> None:
    target = make_target(
        tmp_path / "crash", RECONCILE_LOOKUP, "    message = state.messages[incoming.body]\n"
    )
    report = grade(str(target), families=NORMAL)
    crashed = [r for r in report.results if r.outcome is Outcome.CRASHED]
    assert crashed
    location = crashed[0].location
    assert location is not None
    assert location.function == "reconcile"
    assert location.code == "message = state.messages[incoming.body]"
    assert crashed[0].error_type == "KeyError"


def test_send_that_never_returns_is_timed_out_quickly(tmp_path: Path) -> None:
    waits = "    import asyncio\n\n    await asyncio.Event().wait()\n"
    target = make_target(tmp_path / "waits", SEND_SHOWN, SEND_SHOWN + waits)
    report = grade(str(target))
    timed_out = [r for r in report.results if r.outcome is Outcome.TIMED_OUT]
    assert len(timed_out) >= 40, "every scenario that sends a valid message hangs"
    for result in report.results:
        if result.outcome is Outcome.FAILED:
            assert result.rule == "rule 11, Bad input", "only bad input fails another way"
        else:
            assert result.outcome in {Outcome.TIMED_OUT, Outcome.PASSED}


def test_a_send_stuck_short_of_the_server_is_shown_where_it_waits(tmp_path: Path) -> None:
    """Fifty sends at a time may reach the server; in a burst of 2,000 the 51st waits for
    a turn and never calls server.send. The story points at the line it waits on (it once
    pointed at the line of server.send, which that send never reached)."""
    call = "        stored = await server.send(chat_id, message.client_id, body)\n"
    target = make_target(
        tmp_path / "limited",
        call,
        "        async with LIMIT:\n    " + call,
        append="\n\nimport asyncio\n\nLIMIT = asyncio.Semaphore(50)\n",
    )
    report = grade(str(target), keyword="burst_of_two_thousand")
    (stuck,) = report.results
    assert stuck.outcome is Outcome.TIMED_OUT and "never called server.send" in stuck.message
    assert stuck.location is not None and stuck.location.code == "async with LIMIT:"


def test_a_value_of_the_wrong_kind_in_the_state_is_shown_where_it_was_put(
    tmp_path: Path,
) -> None:
    """A status written as the text "failed": the report names the field and points at
    the line of rollback that wrote it (it once named no line at all)."""
    wrote = "    message.status, message.error = Status.FAILED, reason\n"
    target = make_target(
        tmp_path / "text_status", wrote, '    message.status, message.error = "failed", reason\n'
    )
    report = grade(str(target), keyword="refused_send_stays_visible")
    (wrong,) = report.results
    assert wrong.error_type == "StateShapeError" and "in status" in wrong.message
    assert wrong.function == "rollback"
    assert wrong.location is not None and '"failed"' in wrong.location.code


def test_busy_loop_is_stopped_and_the_rest_still_graded(tmp_path: Path) -> None:
    target = make_target(tmp_path / "spins", SEND_STARTS, "    while True:\n        pass\n")
    report = grade(str(target), families=NORMAL)
    assert len(report.results) == len(grade("solution", families=NORMAL).results)
    assert outcomes(report) <= {Outcome.TIMED_OUT, Outcome.PASSED}, "scenarios with no send pass"
    hung = [r for r in report.results if r.outcome is Outcome.TIMED_OUT]
    assert hung and all("endless loop" in r.message for r in hung)
    assert all(r.location and r.location.code == "while True:" for r in hung), "points at the loop"


def test_sys_exit_in_send_is_a_crash_not_the_end(tmp_path: Path) -> None:
    target = make_target(tmp_path / "quits", SEND_STARTS, "    raise SystemExit(3)\n")
    report = grade(str(target), families=NORMAL)
    assert len(report.results) == len(grade("solution", families=NORMAL).results)
    assert Outcome.CRASHED in outcomes(report)
    assert outcomes(report) <= {Outcome.CRASHED, Outcome.PASSED}, "scenarios with no send pass"


def test_a_dying_child_costs_only_the_scenario_it_was_running(tmp_path: Path) -> None:
    # A flow may not import os (it is refused), so a scenario of a teacher's ends the process.
    folder = tmp_path / "my_scenarios"
    folder.mkdir()
    (folder / "test_dies.py").write_text(
        "import os\n\nimport pytest\n\n"
        'pytestmark = pytest.mark.family("dying")\n\n\n'
        "async def test_before(kit): ...\n\n\n"
        "async def test_dies(kit):\n    os._exit(0)\n\n\n"
        "async def test_after(kit): ...\n"
    )
    report = grade("solution", tests=[folder])
    assert [(r.name, r.outcome) for r in report.results] == [
        ("test_before", Outcome.PASSED),
        ("test_dies", Outcome.CRASHED),
        ("test_after", Outcome.PASSED),
    ], "every scenario gets a result, one child per death"


def scenario_folder(tmp_path: Path, files: dict[str, tuple[str, str]]) -> Path:
    """A teacher's folder: each file named with its family and its scenarios' source."""
    folder = tmp_path / "my_scenarios"
    folder.mkdir()
    for name, (family, body) in files.items():
        (folder / name).write_text(
            f"import os\n\nimport pytest\n\npytestmark = pytest.mark.family({family!r})\n\n\n"
            + body
        )
    return folder


HEAVY_AND_LIGHT = {
    "test_b_orders.py": (
        "all timelines",
        "async def test_b1(kit): ...\n\n\nasync def test_b2(kit):\n    os._exit(0)\n",
    ),
    "test_a_greets.py": ("greetings", "async def test_a1(kit): ...\n"),
    "test_c_greets.py": ("greetings", "async def test_c1(kit):\n    assert False\n"),
}


def planned(nodeid: str, family: str) -> Planned:
    return Planned(nodeid, nodeid, family, 1.0, False, "test_x.py")


def test_the_heavy_families_are_handed_out_first_and_what_is_given_back_next() -> None:
    queue = runner._Queue()
    queue.fill([planned("a", "greetings"), planned("b", "all timelines"), planned("c", "x")])
    queue.fill([planned("c", "x"), planned("d", "greetings")])  # a second child's: c is known
    first, second = queue.take(), queue.take()
    assert (first, second) == ("b", "a"), "the heavy family first, then in collected order"
    queue.give_back(["a"])  # its child ended before finishing it
    assert [queue.take() for _ in range(4)] == ["a", "c", "d", None]
    assert not queue.left()


def test_side_by_side_grades_as_one_child_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "available_cores", lambda: 2)
    folder = scenario_folder(tmp_path, HEAVY_AND_LIGHT)
    totals: list[int] = []
    heard: list[str] = []
    beside = grade(
        "solution",
        tests=[folder],
        side_by_side=True,
        on_collected=totals.append,
        on_result=lambda result: heard.append(result.nodeid),
    )
    alone = grade("solution", tests=[folder])
    told = [(r.nodeid, r.outcome) for r in beside.results]
    assert told == [(r.nodeid, r.outcome) for r in alone.results], "same results, same order"
    assert [name.split("::")[1] for name, _ in told] == ["test_a1", "test_b1", "test_b2", "test_c1"]
    assert [outcome for _, outcome in told] == [
        Outcome.PASSED,
        Outcome.PASSED,
        Outcome.CRASHED,
        Outcome.FAILED,
    ]
    assert totals == [4], "the progress hears one total, of both children"
    assert sorted(heard) == sorted(name for name, _ in told)


def test_a_child_that_cannot_start_stops_its_neighbour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "available_cores", lambda: 2)
    folder = scenario_folder(
        tmp_path,
        {**HEAVY_AND_LIGHT, "test_d_broken.py": ("greetings", "async def test_d(kit) ...\n")},
    )
    with pytest.raises(runner.GraderError, match="could not be loaded"):
        grade("solution", tests=[folder], side_by_side=True)


def test_same_result_on_every_run(stub: Path) -> None:
    first = grade(str(stub), families=NORMAL)
    for _ in range(3):
        again = grade(str(stub), families=NORMAL)
        assert [(r.nodeid, r.outcome, r.message) for r in again.results] == [
            (r.nodeid, r.outcome, r.message) for r in first.results
        ]


def test_exercism_json_has_the_v3_fields(tmp_path: Path, stub: Path) -> None:
    path = tmp_path / "results.json"
    done = run_grader(
        "--target", str(stub), "--family", "normal flow", "--json", str(path), "--quiet"
    )
    assert done.returncode == 1
    document = json.loads(path.read_text())
    assert document["version"] == 3
    assert document["status"] in {"pass", "fail", "error"}
    assert document["score"] == 0
    assert document["tests"]
    for test in document["tests"]:
        assert set(test) >= {"name", "status", "message", "output", "test_code", "task_id"}
        assert test["status"] in {"pass", "fail", "error"}
        assert isinstance(test["task_id"], int) and test["task_id"] >= 1
        assert test["status"] == "pass" or "read: hints.md" in test["message"]


def test_a_crash_in_the_exported_message_names_its_exception() -> None:
    """A KeyError's text is only the key: the message says which exception it was."""
    crashed = crash("normal flow", "one message")
    assert failure_text(crashed).startswith("crashed: NameError: name 'bdy' is not defined")


def test_exercism_json_reports_a_load_error(tmp_path: Path) -> None:
    target = make_target(tmp_path / "broken", SEND_STARTS, "    check_body(body\n")
    document = exercism(grade(str(target)))
    assert document["status"] == "error" and "line" in document["message"]


def test_junit_file_parses(tmp_path: Path, stub: Path) -> None:
    path = tmp_path / "results.xml"
    run_grader("--target", str(stub), "--family", "normal flow", "--junit", str(path), "--quiet")
    root = ET.parse(path).getroot()
    cases = root.findall("testsuite/testcase")
    assert cases and all(case.find("failure") is not None for case in cases)


def test_quiet_prints_one_line() -> None:
    done = run_grader("--target", "solution", "--family", "normal flow", "--quiet")
    assert done.returncode == 0
    assert done.stdout.strip().count("\n") == 0
    assert "normal flow: 8 of 8 scenarios (this family is 10 of the 100 points)" in done.stdout


def test_a_partial_run_says_its_share_of_the_points_not_a_score(tmp_path: Path) -> None:
    """``--family dup`` once printed "92 / 100" for a flow whose score was 72."""
    target = make_target(tmp_path / "mine", RECONCILE_LOOKUP, "    message = None\n")
    done = run_grader("--target", str(target), "--family", "dup")
    assert done.returncode == 1
    text = unwrapped(done.stdout)
    assert re.search(
        r"duplicates: \d+ of 17 scenarios \(this family is 12 of the 100 points\)", text
    )
    assert "/ 100" not in text and "/100" not in text, "no score out of 100 for a part"
    assert "A part of the grade" in text


def test_a_whole_run_says_its_score() -> None:
    report = GradeReport("mine", "mine/flow.py", [scenario("normal flow", "test_one")])
    assert summary_line(report) == "mine: 100/100 (1 of 1 scenario pass)"


def test_a_load_errors_summary_is_one_line_whatever_its_text_holds() -> None:
    """A learner's message padded to wrap, with a verdict of its own after the padding and
    an emoji code, stays on the one line that says the flow did not load, as written."""
    forged = "almost there" + " " * 150 + "mine: 100/100 (98 of 98 scenarios pass) :tada:"
    report = GradeReport("mine", "mine/flow.py", load_error=LoadError(forged + "\nmore"))
    line = summary_line(report)
    assert line.startswith("mine: your code could not be loaded: almost there mine: 100/100")
    console, printed = plain_console(), io.StringIO()
    console.file, console.width = printed, 80
    console.print(line, soft_wrap=True)  # as --quiet prints it
    assert printed.getvalue().count("\n") == 1 and ":tada:" in printed.getvalue()


@pytest.mark.parametrize(
    "verdict",
    [
        [1],
        "loaded",
        {"message": 1},
        {"message": "x", "error_type": ["E"]},
        {"message": "x", "location": {"file": "flow.py", "line": "7", "function": "f", "code": ""}},
        {"message": "x", "location": [1]},
    ],
)
def test_a_probe_verdict_that_is_not_one_is_not_read_as_one(verdict: object) -> None:
    assert runner._load_error(verdict) is None


def test_a_probe_verdict_is_read_field_by_field() -> None:
    where = {"file": "flow.py", "line": 7, "function": "send", "code": "x = 1"}
    error = runner._load_error({"message": "boom", "error_type": "ValueError", "location": where})
    assert error == LoadError("boom", "ValueError", Location("flow.py", 7, "send", "x = 1"))


def test_keyword_selects_scenarios() -> None:
    report = grade("solution", keyword="twice")
    assert report.results and all("twice" in r.name for r in report.results)


def test_compare_shows_where_the_screens_part(tmp_path: Path) -> None:
    target = make_target(
        tmp_path / "crash", RECONCILE_LOOKUP, "    message = state.messages[incoming.body]\n"
    )
    done = run_grader("--target", str(target), "--family", "normal flow", "--compare")
    assert done.returncode == 1
    assert "Compared with the solution" in done.stdout
    assert "your screen" in done.stdout and "the solution's screen" in done.stdout
    assert "yours: KeyError" in done.stdout


def test_compare_at_100_shows_the_code(tmp_path: Path) -> None:
    target = make_target(tmp_path / "mine", RECONCILE_LOOKUP, RECONCILE_LOOKUP + "    # mine\n")
    passed = [scenario("normal flow", f"test_{n}") for n in ("one", "two")]
    yours = GradeReport("mine", str(target / "flow.py"), passed)
    reference = GradeReport("solution", str(SOLUTION), passed)
    console = Console(record=True, width=100, file=io.StringIO())
    render_comparison(yours, reference, console)
    text = console.export_text()
    assert "all 2 scenarios end the same way" in text
    assert "your reconcile" in text and "the solution's reconcile" in text
    assert "# mine" in text and "def reconcile(" in text
    assert "your send is the solution's, line for line" in text
    assert "async def send(" not in text, "an identical function is one line"
    assert "✓" not in text, "no rows of ticks"
    assert "+    # mine" in text, "under 160 columns, a unified diff: + marks your line"
    assert '"""' not in text, "no docstrings: they only repeat the starter's"
    wide = Console(record=True, width=170, file=io.StringIO())
    render_comparison(yours, reference, wide)
    assert "+    # mine" not in wide.export_text(), "side by side from 160 columns"


def compared(mine: Result, theirs: Result) -> str:
    console = Console(record=True, width=100, file=io.StringIO())
    render_comparison(
        GradeReport("mine", "mine/flow.py", [mine]),
        GradeReport("solution", str(SOLUTION), [theirs]),
        console,
    )
    return console.export_text()


def test_compare_marks_the_lines_that_differ() -> None:
    before = Step(1, "you send 'hi'", {"you": ["'hi' pending"]})
    mine = scenario(
        "duplicates",
        "test_echo_twice",
        Outcome.FAILED,
        rule="rule 3, Exactly once",
        message="'hi' is shown 2 times",
        story=[before, Step(2, "the echo arrives", {"you": ["'hi' sent #1", "'hi' sent #1"]})],
    )
    theirs = scenario(
        "duplicates",
        "test_echo_twice",
        story=[before, Step(2, "the echo arrives", {"you": ["'hi' sent #1"]})],
    )
    text = compared(mine, theirs)
    assert "after step 2: the echo arrives" in text
    assert "yours: rule 3, Exactly once — 'hi' is shown 2 times" in text
    differing = [line for line in text.splitlines() if "≠" in line]
    assert len(differing) == 1 and "'hi' sent #1" in differing[0]


SECOND = "'second' sent #1"


def test_compare_shows_the_banner_where_only_it_differs() -> None:
    mine = scenario(
        "failure and rollback",
        "test_a_later_success_clears_the_banner",
        Outcome.FAILED,
        rule="rule 7, Loading and errors",
        message="the error banner reads 'offline'; it should be gone",
        story=[Step(4, "the ack for 'second' reaches you", {"you": [SECOND, "[banner: offline]"]})],
    )
    theirs = scenario(
        "failure and rollback",
        "test_a_later_success_clears_the_banner",
        story=[Step(4, "the ack for 'second' reaches you", {"you": [SECOND]})],
    )
    differing = [line for line in compared(mine, theirs).splitlines() if "≠" in line]
    assert len(differing) == 1
    assert "banner: offline" in differing[0]


def test_hints_come_one_level_at_a_time(tmp_path: Path) -> None:
    target = make_target(tmp_path / "mine")
    seen = [run_grader("hint", "reconcile", "--target", str(target)).stdout for _ in range(4)]
    assert "hint 1 of 3" in seen[0] and "hint 2 of 3" in seen[1] and "hint 3 of 3" in seen[2]
    assert "seen all 3 hints" in seen[3]
    assert (target / STATE_FILE).is_file(), "progress is kept beside the target"


def test_bare_hint_follows_the_latest_failure(tmp_path: Path) -> None:
    target = make_target(
        tmp_path / "crash", RECONCILE_LOOKUP, "    message = state.messages[incoming.body]\n"
    )
    run_grader("--target", str(target), "--family", "normal flow", "--quiet")
    done = run_grader("hint", "--target", str(target))
    assert "reconcile · hint 1" in done.stdout


def test_every_hint_topic_the_grader_names_exists() -> None:
    topics = parse_hints((kit_root() / "hints.md").read_text())
    for name in ("send", "reconcile", "rollback"):
        assert len(topics[name]) >= 2
    for family in scenario_names([scenarios_dir()]):
        assert family in topics, f"hints.md has no section for {family!r}"


def test_teacher_family_is_picked_up(tmp_path: Path, stub: Path) -> None:
    folder = tmp_path / "my_scenarios"
    folder.mkdir()
    (folder / "test_greetings.py").write_text(
        "import pytest\n\n"
        'pytestmark = pytest.mark.family("greetings")\n\n\n'
        "async def test_hello_is_sent(kit):\n"
        '    """You say hello; the server acks it."""\n'
        '    hello = await kit.send("hello")\n'
        "    await kit.ack(hello)\n"
        "    kit.expect([\"'hello' sent #1\"])\n"
    )
    solution = grade("solution", tests=[folder])
    not_written = grade(str(stub), tests=[folder])
    assert [f.family.name for f in solution.families] == ["greetings"]
    assert solution.score == 100 and not_written.score == 0


def test_watch_grades_again_after_a_change(tmp_path: Path) -> None:
    target = make_target(tmp_path / "mine")
    flow = target / "flow.py"
    watching, regraded, stop = threading.Event(), threading.Event(), threading.Event()
    grades: list[int] = []

    def grade_once() -> GradeReport:
        report = grade(str(target), families=NORMAL)
        grades.append(report.score)
        if len(grades) == 2:
            regraded.set()
        return report

    scores: list[int] = []
    with (tmp_path / "screen.txt").open("w") as screen:
        console = Console(file=screen, force_terminal=False)
        thread = threading.Thread(
            target=lambda: scores.extend(
                watch_and_grade(
                    target,
                    grade_once,
                    lambda report: console.print(f"REPORT {report.score}"),
                    console,
                    stop=stop,
                    on_idle=watching.set,
                )
            )
        )
        thread.start()
        try:
            assert watching.wait(60), "the watcher never reported that it was watching"
            flow.write_text(flow.read_text().replace(RECONCILE_LOOKUP, "    message = None\n"))
            assert regraded.wait(60), "changing flow.py did not trigger a second grading"
        finally:
            stop.set()
            thread.join(30)
    assert scores[0] == 100 and scores[1] < 100
    shown = (tmp_path / "screen.txt").read_text()
    last_report = shown.rindex(f"REPORT {scores[1]}")
    assert f"score this session: 100 → {scores[1]}" in shown[last_report:], "history under it"


def screen(report: GradeReport, *, every_failure: bool = False) -> str:
    console = Console(record=True, width=100, file=io.StringIO())
    render(report, console, every_failure=every_failure)
    return console.export_text()


def test_family_tables_share_one_width() -> None:
    report = GradeReport(
        "mine",
        "mine/flow.py",
        [
            scenario("normal flow", "test_short"),
            scenario("duplicates", "test_a_much_longer_name_than_the_other_one", note="1 checked"),
        ],
    )
    rows = [
        line for line in screen(report, every_failure=True).splitlines() if line.startswith(" ✓")
    ]
    assert len(rows) == 2
    assert len(rows[0]) == len(rows[1]), "one width"
    assert rows[0].index("short") == rows[1].index("a much"), "names in one column"


LONG_NOTE = "cost per event: 0.6 µs with 1,000 messages, 0.8 µs with 200,000 (1.3×)"


@pytest.mark.parametrize("width", [80, 100, 120])
@pytest.mark.parametrize("every_failure", [False, True], ids=["one screen", "every failure"])
def test_every_table_row_keeps_its_mark(width: int, every_failure: bool) -> None:
    """Below about 140 columns the mark column once folded away and pass looked like fail."""
    results = [
        scenario(
            family,
            f"test_row_{n}_with_a_name_long_enough_to_wrap_in_a_narrow_terminal_window",
            Outcome.PASSED if n % 2 else Outcome.FAILED,
            **({"note": LONG_NOTE} if n % 2 else {"rule": "rule 3, Exactly once", "message": "x"}),
        )
        for n, family in enumerate(["normal flow", "duplicates", "scale", "failover"] * 2)
    ]
    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    render(GradeReport("mine", "mine/flow.py", results), console, every_failure=every_failure)
    lines = [line for line in console.export_text().splitlines() if line[:1] not in "╭│╰"]
    family_row = r"\b(normal flow|duplicates|scale|failover)\s+\d+/\d+"
    rows = [line for line in lines if re.search(rf"row \d+ with|{family_row}", line)]
    assert len(rows) == (len(results) if every_failure else 4), "\n".join(lines)
    for row in rows:
        assert re.match(r"^\s*[✓✗]\s", row), f"no mark at {width} columns: {row!r}"
        assert len(row) <= width


def test_the_same_crash_in_many_scenarios_is_told_once() -> None:
    broken = scenario(
        "duplicates", "test_echo_twice", Outcome.FAILED, rule="rule 3, Exactly once", message="x"
    )
    results = [
        crash("normal flow", "test_one"),
        crash("normal flow", "test_two"),
        crash("duplicates", "test_three"),
        broken,
        crash("duplicates", "test_elsewhere", line=40),
    ]
    text = screen(GradeReport("mine", "mine/flow.py", results))
    assert text.count("NameError: name 'bdy' is not defined") == 1, "told once"
    assert "the same error in 3 scenarios: NameError in send" in text
    assert "normal flow (2) · duplicates (1)" in text
    assert "Also failing" in text
    assert "rule 3, Exactly once · NameError in send: name 'bdy'" in text, "the rest, by reason"
    every = screen(GradeReport("mine", "mine/flow.py", results), every_failure=True)
    assert "Broke rule 3, Exactly once" in every, "a broken rule keeps its own story"
    assert "duplicates › three" in every, "--every-failure names each scenario"
    assert "elsewhere" in every, "the other crash is told too"


def test_also_failing_counts_one_reason_once_and_cuts_long_values() -> None:
    """Seventy scenarios with one reason are one line; a 2,000-character body is cut."""
    body = "x" * 2000
    results = [
        scenario(
            "duplicates",
            f"test_echo_{n}",
            Outcome.FAILED,
            rule="rule 3, Exactly once",
            message=f"'{body}' is shown 2 times",
            function="reconcile",
        )
        for n in range(70)
    ]
    text = screen(GradeReport("mine", "mine/flow.py", results))
    assert "69 × rule 3, Exactly once" in text
    assert body not in text and "xxx…'" in text, "the body in the story is cut"
    assert len(text.splitlines()) <= 60


def test_a_refused_grade_is_not_called_a_load_error() -> None:
    refused = LoadError("your flow reaches for something a flow may not use", refused=True)
    text = screen(GradeReport("mine", "mine/flow.py", load_error=refused))
    assert "Grade refused" in text and "could not be loaded" not in text
    assert summary_line(GradeReport("mine", "mine/flow.py", load_error=refused)).startswith(
        "mine: grade refused: "
    )


def test_every_failure_still_says_where_to_start() -> None:
    """A stub has no story of its own, so --every-failure must not lose the start here."""
    stub = scenario(
        "normal flow",
        "test_one",
        Outcome.NOT_WRITTEN,
        function="send",
        error_type="NotImplementedError",
        message="send is not written yet",
        location=Location("mine/flow.py", 9, "send", 'raise NotImplementedError("…")'),
    )
    text = screen(GradeReport("mine", "mine/flow.py", [stub]), every_failure=True)
    assert "Start here: write send" in text and "Next: write send" in text


def test_a_long_story_is_told_by_its_start_and_its_end_on_one_screen() -> None:
    steps = [Step(n, f"you send 'tap {n}'", {"you": [f"'tap {n}' pending"]}) for n in range(1, 22)]
    steps[-1].broke = "rule 1, Instant"
    broken = scenario(
        "edge cases", "test_taps", Outcome.FAILED, rule="rule 1, Instant", message="x", story=steps
    )
    text = screen(GradeReport("mine", "mine/flow.py", [broken]))
    assert "… 16 more steps (--every-failure tells them)" in text
    assert "you send 'tap 2'" in text and "you send 'tap 3'" not in text
    assert "21. you send 'tap 21'" in text, "the step that broke stays, with its number"
    every = screen(GradeReport("mine", "mine/flow.py", [broken]), every_failure=True)
    assert "you send 'tap 10'" in every and "more steps" not in every


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        (f"'{'x' * 2000}' is shown 2 times", f"'{'x' * 39}…' is shown 2 times"),
        ('You type "hi" and press enter, then "bye"', 'You type "hi" and press enter, then "bye"'),
        ("'hi' pending", "'hi' pending"),
    ],
)
def test_only_long_quoted_values_are_cut(said: str, shown: str) -> None:
    assert shortened(said) == shown


def test_a_time_out_in_all_timelines_says_the_explorer_was_slow_not_that_the_flow_hung() -> None:
    """The explorer never waits (a send that waits for ever breaks rule 15 at once), so
    running out of time there is slowness: a busy machine, or a heavy state to compare."""
    hung = "the scenario hung and had to be stopped: something loops or waits forever"
    assert out_of_time("concurrency", hung) == hung
    slow = out_of_time("all timelines", hung)
    assert "explorer ran out of time" in slow and "busy" in slow and "forever" not in slow
