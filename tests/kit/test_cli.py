"""The grader's command line: choosing scenarios by the names the report prints.

A learner copies a name from the report (``echo before ack shows the message
once``, or a story's title ``server-first arrival › …``) into ``-k``, or types a
family from memory. Whatever they type, they get the scenarios they meant, or a
message that says what exists: never an empty 0/100.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from grading_support import run_grader
from rich.console import Console

from chatkit.grading.cli import Selection, SelectionError, build_parser, pytest_keyword
from chatkit.grading.families import FAMILIES, scenario_names
from chatkit.grading.runner import scenarios_dir

pytestmark = pytest.mark.timeout(120)


def args_of(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def panel_text(error: SelectionError) -> str:
    console = Console(record=True, width=100, file=io.StringIO())
    console.print(error.panel)
    return " ".join(console.export_text().replace("│", " ").split())


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("echo first", "echo_first"),
        ("echo before ack shows the message once", "echo_before_ack_shows_the_message_once"),
        ("server-first arrival › echo before ack", "echo_before_ack"),
        ("one message in every order [3]", "one_message_in_every_order[3]"),
        ("echo and not twice", "echo and not twice"),
        ("not (echo or ack) and banner", "not ( echo or ack ) and banner"),
        ("a late ack after the echo changes nothing", "a_late_ack_after_the_echo_changes_nothing"),
        ("bad input does not change it", "bad_input_does_not_change_it"),
        ("echo_before_ack", "echo_before_ack"),
    ],
)
def test_keyword_reads_names_as_the_report_prints_them(typed: str, expected: str) -> None:
    assert pytest_keyword(typed) == expected


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("echo and (first", "never closed"),
        ("echo (first)", "( is out of place"),
        ("echo and", 'ends with "and"'),
        ("echo)", "never opened"),
        ("", "names no scenario"),
        ("echo, first", "cannot be part of a scenario name"),
    ],
)
def test_a_keyword_pytest_cannot_read_is_explained(typed: str, why: str) -> None:
    with pytest.raises(SelectionError) as raised:
        pytest_keyword(typed)
    text = panel_text(raised.value)
    assert why in text
    assert '-k "echo before ack"' in text, "the message shows a -k that works"


def test_family_names_are_read_however_they_are_spelled() -> None:
    selection = Selection.from_args(
        args_of("--family", "Normal-Flow", "--family", "server_first arrival", "--family", "dup")
    )
    assert selection.families == ["normal flow", "server-first arrival", "duplicates"]


def test_a_family_prefix_that_fits_two_families_is_refused() -> None:
    with pytest.raises(SelectionError) as raised:
        Selection.from_args(args_of("--family", "fail"))
    assert "failure and rollback" in panel_text(raised.value)


def test_an_unknown_family_lists_the_families() -> None:
    with pytest.raises(SelectionError) as raised:
        Selection.from_args(args_of("--family", "failure and rolback"))
    text = panel_text(raised.value)
    assert 'no scenario family called "failure and rolback"' in text
    assert 'Did you mean "failure and rollback"?' in text
    for family in FAMILIES:
        assert family.name in text


def test_the_scenario_files_are_listed_without_importing_them() -> None:
    found = scenario_names([scenarios_dir()])
    assert list(found) == [family.name for family in FAMILIES]
    assert "test_echo_before_ack_shows_the_message_once" in found["server-first arrival"]


def test_a_teachers_marks_on_classes_and_functions_are_read(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text(
        "import pytest\n\n"
        'pytestmark = [pytest.mark.family("greetings"), pytest.mark.budget(2)]\n\n'
        "async def test_hello(kit): ...\n\n"
        '@pytest.mark.family("farewells")\n'
        "async def test_bye(kit): ...\n\n"
        "class TestMore:\n"
        '    pytestmark = pytest.mark.family("small talk")\n\n'
        "    async def test_weather(self, kit): ...\n\n"
        "def helper(): ...\n"
    )
    assert scenario_names([tmp_path]) == {
        "greetings": ["test_hello"],
        "farewells": ["test_bye"],
        "small talk": ["test_weather"],
    }


def test_unknown_family_exits_2_with_the_valid_names() -> None:
    done = run_grader("--family", "nosuch")
    assert done.returncode == 2
    assert 'There is no scenario family called "nosuch"' in done.stdout
    assert all(family.name in done.stdout for family in FAMILIES)
    assert "Traceback" not in done.stdout + done.stderr


def test_keyword_matching_nothing_exits_2_with_the_scenario_names() -> None:
    done = run_grader("--target", "solution", "-k", "echo bfore ack", "--family", "server first")
    assert done.returncode == 2, done.stdout
    assert 'No scenario in server-first arrival matches -k "echo bfore ack"' in done.stdout
    assert 'python grader.py -k "echo before ack shows the message once"' in done.stdout
    assert "the late ack reuses the confirmed row" in done.stdout, "the family's names are listed"
    assert "message shows as pending at once" not in done.stdout, "only the chosen family's"


@pytest.mark.parametrize(
    "typed", ["echo first", "server-first arrival › an echo first success clears an old error"]
)
def test_keyword_with_spaces_grades_the_named_scenario(typed: str) -> None:
    done = run_grader("--target", "solution", "-k", typed, "--quiet")
    assert done.returncode == 0, done.stdout
    assert "server-first arrival: 1 of 1 selected scenario (this family is 12" in done.stdout
