"""Broken code gets one clear verdict, fast, and the grader carries on.

Each flow here is the reference solution with one kind of breakage from
``mistakes.BROKEN``. Graded through the real grader, each must end with every
scenario accounted for, a message that says what happened in the learner's own
terms, and the flow function it happened in.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mistakes import BROKEN, broken_source

from chatkit import portable
from chatkit.grading.exports import exercism
from chatkit.grading.results import GradeReport, Outcome
from chatkit.grading.results import TestResult as Result
from chatkit.grading.runner import grade


def graded(name: str, tmp_path: Path) -> GradeReport:
    flow = tmp_path / "flow.py"
    flow.write_text(broken_source(name))
    report = grade(str(flow))
    assert report.load_error is None, report.load_error
    assert report.exit_code == 1 and report.results, "the grading must finish, scenario by scenario"
    return report


def failures(report: GradeReport) -> list[Result]:
    return [result for result in report.results if result.outcome is not Outcome.PASSED]


def test_every_broken_kind_fits_the_solution() -> None:
    for name in BROKEN:
        assert broken_source(name) != broken_source("syntax error") or name == "syntax error"


@pytest.mark.timeout(60)
def test_a_keyboard_interrupt_is_a_crash_of_its_scenario(tmp_path: Path) -> None:
    report = graded("KeyboardInterrupt", tmp_path)
    crashed = [r for r in report.results if r.outcome is Outcome.CRASHED]
    assert len(crashed) > 40
    for result in crashed:
        assert result.error_type == "KeyboardInterrupt"
        assert result.message == "your code raised KeyboardInterrupt"
        assert result.function == "send" and result.location is not None
        assert result.location.code == "raise KeyboardInterrupt"


@pytest.mark.timeout(60)
@pytest.mark.skipif(
    not portable.memory_capped(),
    reason="the memory cap is POSIX's: not on Windows, nor with CHATKIT_PORTABLE=1",
)
def test_a_huge_allocation_is_stopped_and_named(tmp_path: Path) -> None:
    report = graded("3 GB allocation", tmp_path)
    crashed = [r for r in report.results if r.outcome is Outcome.CRASHED]
    assert crashed and all("more memory than a flow may use" in r.message for r in crashed)
    assert {r.function for r in crashed} == {"send"}


@pytest.mark.timeout(60)
def test_a_flood_of_output_is_stopped_and_the_output_cut(tmp_path: Path) -> None:
    report = graded("100 MB of output", tmp_path)
    flooded = [r for r in report.results if "printed more than" in r.message]
    assert flooded and all(r.outcome is Outcome.CRASHED for r in flooded)
    document = exercism(report)
    outputs = [test["output"] for test in document["tests"] if test["output"]]
    assert outputs and all(len(output) <= 500 for output in outputs)
    assert any("[output cut:" in output for output in outputs)


@pytest.mark.timeout(60)
def test_a_blocking_sleep_says_how_to_wait(tmp_path: Path) -> None:
    report = graded("time.sleep(30) in reconcile", tmp_path)
    slept = [r for r in failures(report) if "time.sleep(30)" in r.message]
    assert slept and all("await asyncio.sleep" in r.message for r in slept)
    assert {r.function for r in slept} == {"reconcile"}


@pytest.mark.timeout(60)
def test_an_endless_loop_names_the_function_that_loops(tmp_path: Path) -> None:
    """reconcile loops while send calls it: the verdict names reconcile, not send."""
    report = graded("endless loop in reconcile", tmp_path)
    stuck = [r for r in report.results if r.outcome is Outcome.TIMED_OUT]
    named = [r for r in stuck if r.message.startswith("reconcile ran for more than")]
    assert len(named) > 40 and {r.function for r in named} == {"reconcile"}
    # On a busy machine a scenario may reach its hard limit first: it names no one else.
    assert {r.function for r in stuck} <= {"reconcile", None}


@pytest.mark.timeout(120)  # every scenario runs its loop until the stop: a hang guard only
def test_a_loop_that_swallows_the_stop_ends_its_phone_at_once(tmp_path: Path) -> None:
    """``except BaseException`` around a loop catches the hang watch's stop: the phone then
    ends itself with a verdict that says so, instead of the judge waiting out each
    scenario's time (which made a grading take minutes) and reporting a silent phone."""
    report = graded("a loop that swallows the stop", tmp_path)
    stopped = [r for r in failures(report) if "caught the stop and ran on" in r.message]
    assert len(stopped) > 40 and {r.function for r in stopped} == {"send"}
    silent = ("stopped answering", "ended without a report")
    assert not [r for r in failures(report) if any(word in r.message for word in silent)]


@pytest.mark.timeout(60)
def test_what_the_flow_prints_is_in_the_story_and_the_output(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(
        broken_source("exception in send").replace(
            "    raise ValueError('oops')\n", "    print('sending', repr(body))\n"
        )
    )
    report = grade(str(flow), keyword="message_shows_as_pending_at_once")
    assert report.score == 100
    [result] = report.results
    assert result.output == "sending 'hi'\n"
    assert result.story[0].printed == "sending 'hi'\n"
    assert exercism(report)["tests"][0]["output"] == "sending 'hi'\n"


SOLUTION = Path(__file__).resolve().parents[2] / "solution" / "flow.py"


@pytest.mark.timeout(60)
def test_an_expression_too_deep_to_check_is_refused_with_its_line(tmp_path: Path) -> None:
    """Hundreds of parts in one expression: the check cannot read that far down, so the
    grade is refused, with the line, and the grader does not crash."""
    deep = "DEEP = " + "+".join(["1"] * 600) + "\n"
    (tmp_path / "flow.py").write_text(SOLUTION.read_text() + "\n" + deep)
    report = grade(str(tmp_path / "flow.py"))
    error = report.load_error
    assert error is not None and error.refused and report.exit_code == 2
    assert "nested too deeply to check" in error.message
    assert error.location is not None and error.location.line > 80


@pytest.mark.timeout(60)
def test_a_flow_far_bigger_than_a_flow_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """Megabytes of source would cost the grader seconds and gigabytes to parse."""
    filler = "".join(f"V{n} = [1, 1, 1, 1]\n" for n in range(250_000))
    (tmp_path / "flow.py").write_text(SOLUTION.read_text() + filler)
    report = grade(str(tmp_path / "flow.py"))
    error = report.load_error
    assert error is not None and error.refused and "MB of source" in error.message


def test_a_flow_in_the_encoding_its_coding_line_names_is_read_as_python_reads_it(
    tmp_path: Path,
) -> None:
    """The check and the phones read a file as Python's import does: a coding line, a
    byte-order mark, Windows line ends."""
    source = "# -*- coding: latin-1 -*-\n# café\n" + SOLUTION.read_text()
    (tmp_path / "flow.py").write_bytes(source.replace("\n", "\r\n").encode("latin-1"))
    report = grade(str(tmp_path / "flow.py"), families=["normal flow"])
    assert report.load_error is None, report.load_error
    assert report.results and report.score == 100


@pytest.mark.timeout(60)
def test_a_lone_surrogate_in_what_the_flow_prints_is_shown_not_a_broken_phone(
    tmp_path: Path,
) -> None:
    """``chr(0xD800)`` is a string Python can hold but no file can: the phone sends it as
    the replacement character, and the grading goes on."""
    source = SOLUTION.read_text().replace(
        "    check_body(body)\n", "    check_body(body)\n    print('debug ' + chr(0xD800))\n", 1
    )
    (tmp_path / "flow.py").write_text(source)
    report = grade(str(tmp_path / "flow.py"), families=["normal flow"])
    assert report.load_error is None, report.load_error
    assert report.results and report.score == 100
    assert any("debug \ufffd" in result.output for result in report.results)


@pytest.mark.timeout(60)
def test_a_loop_as_a_phone_imports_the_flow_is_stopped_at_its_line(tmp_path: Path) -> None:
    """A loop at module level that ends only when the clock moves: the import probe's
    clock does, a phone's stands still. The phone stops it as it stops a loop in send,
    and says where."""
    source = (
        SOLUTION.read_text()
        .replace("import uuid\n", "import time\nimport uuid\n", 1)
        .replace(
            "\n\nasync def send(",
            "\n\n_FIRST = time.time_ns()\nwhile time.time_ns() == _FIRST:\n    pass\n\n\n"
            "async def send(",
            1,
        )
    )
    (tmp_path / "flow.py").write_text(source)
    report = grade(str(tmp_path / "flow.py"), families=["normal flow"])
    assert report.load_error is None, report.load_error
    stuck = failures(report)
    assert stuck and all("while it was being imported" in r.message for r in stuck)
    assert all(r.location is not None and "while time.time_ns()" in r.location.code for r in stuck)


@pytest.mark.timeout(60)
def test_an_exception_that_cannot_say_what_it_is_is_still_named_with_its_function(
    tmp_path: Path,
) -> None:
    """An exception of the flow's own whose ``__str__`` raises: the phone tells it
    without running that code, so the verdict is the raise in ``reconcile``, not a send
    that never finished or a phone that stopped answering."""
    source = (
        SOLUTION.read_text()
        .replace(
            "\n\nasync def send(",
            "\n\nclass Mute(Exception):\n    def __str__(self) -> str:\n        raise Mute('x')\n"
            "\n\nasync def send(",
            1,
        )
        .replace(
            "    message = state.get(incoming.client_id)\n",
            "    message = state.get(incoming.client_id)\n    raise Mute('lost for words')\n",
            1,
        )
    )
    (tmp_path / "flow.py").write_text(source)
    report = grade(str(tmp_path / "flow.py"), families=["normal flow"])
    assert report.load_error is None, report.load_error
    raised = failures(report)
    assert raised and all(r.outcome is Outcome.CRASHED for r in raised)
    for result in raised:
        assert result.error_type == "Mute" and result.function == "reconcile"
        assert "lost for words" in result.message


@pytest.mark.timeout(60)
def test_a_number_too_long_to_write_is_named_with_its_line_in_every_family(tmp_path: Path) -> None:
    """A row's server id 5,000 digits long cannot cross the wire as a number: it crosses as
    what it is, and the verdict is the shape of the state, at the line, in the scenarios
    and in "all timelines" alike (not a phone that broke its protocol)."""
    source = SOLUTION.read_text().replace(
        "    chat.in_flight.add(message.client_id)\n",
        "    chat.in_flight.add(message.client_id)\n    message.server_id = 10**5000\n",
        1,
    )
    (tmp_path / "flow.py").write_text(source)
    report = grade(str(tmp_path / "flow.py"), families=["normal flow", "all timelines"])
    assert report.load_error is None, report.load_error
    stopped = failures(report)
    assert {r.nodeid.split("::")[0] for r in stopped} == {
        "tests/scenarios/test_normal_flow.py",
        "tests/scenarios/test_all_timelines.py",
    }
    for result in stopped:
        assert result.error_type == "StateShapeError", result.message
        assert "too long" in result.message
