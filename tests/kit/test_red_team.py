"""Classes of attack on the grade, each tried with a real flow through the real grader.

A flow that tries one earns no more than its honest control, and the kit's files stay
as they were. The grader runs no learner code itself: each phone is a process of its
own. What a phone could still do to its own report is said in the README's "What a
score proves".
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import pytest
from grading_support import run_grader

from chatkit.grading.exports import exercism
from chatkit.grading.runner import grade
from chatkit.grading.trust import misplaced
from chatkit.kit_home import kit_root
from chatkit.portable import memory_capped
from chatkit.sandbox.confine import learner_environment

pytestmark = pytest.mark.timeout(120)

SOLUTION = (Path(__file__).resolve().parents[2] / "solution" / "flow.py").read_text()


def target_with(tmp_path: Path, source: str, **helpers: str) -> str:
    folder = tmp_path / "learner"
    folder.mkdir()
    (folder / "flow.py").write_text(source)
    for name, text in helpers.items():
        (folder / f"{name}.py").write_text(text)
    return str(folder)


LINKS: dict[str, Callable[[Path, Path], None]] = {
    "symbolic": lambda link, to: link.symlink_to(to),
    "hard": lambda link, to: os.link(to, link),
}
"""Two ways to give a file beside flow.py a name elsewhere, each made by ``(link, to)``."""


def elsewhere(tmp_path: Path) -> Path:
    """A file outside the learner's folder: the reference, as a kit's copy of it would be."""
    path = tmp_path / "kit" / "flow.py"
    path.parent.mkdir()
    path.write_text(SOLUTION)
    return path


@pytest.mark.parametrize("link", sorted(LINKS))
def test_a_flow_that_is_a_link_to_the_reference_is_not_graded(link: str, tmp_path: Path) -> None:
    folder = tmp_path / "learner"
    folder.mkdir()
    LINKS[link](folder / "flow.py", elsewhere(tmp_path))
    report = grade(str(folder))
    assert report.load_error is not None and report.score == 0
    assert "is a link" in report.load_error.message


@pytest.mark.parametrize("link", sorted(LINKS))
def test_a_helper_that_is_a_link_elsewhere_is_refused_and_never_read(
    link: str, tmp_path: Path
) -> None:
    """A linked helper could read any file the grader can (its text came back in the
    load error); it is refused by name before anything runs."""
    target = target_with(tmp_path, "import borrowed\n" + SOLUTION)
    LINKS[link](Path(target) / "borrowed.py", elsewhere(tmp_path))
    report = grade(target)
    assert report.load_error is not None and report.load_error.refused
    assert "borrowed.py is a link" in report.load_error.message


def test_what_a_flow_prints_as_it_ends_is_not_taken_for_the_load_verdict(tmp_path: Path) -> None:
    """The load check runs the module and writes its verdict as the last line; a finaliser
    that printed after it once got a correct flow refused, in words the flow chose."""
    late = (
        "class _Late:\n    def __del__(self):\n"
        '        print(\'{"message": "all fine", "error_type": "Note"}\', end=\'\')\n\n\n'
        "_KEEP = [_Late()]\n"
    )
    source = SOLUTION.replace("\n\nasync def send(", f"\n\n{late}\n\nasync def send(", 1)
    assert late in source
    report = grade(target_with(tmp_path, source), families=["normal flow"])
    assert report.load_error is None
    assert report.score == 100


def test_what_a_flow_prints_cannot_steer_the_teachers_terminal(tmp_path: Path) -> None:
    """Escape sequences, carriage returns and bidirectional overrides in a flow's output and
    in its exception text are written out, in the report data every format is made from."""
    noisy = SOLUTION.replace(
        "    check_body(body)\n",
        '    check_body(body)\n    print("\\x1b[2J\\x1b[31mgraded 100\\r\\u202eevil")\n'
        '    if body == "boom":\n        raise ValueError("\\x1b]0;pwned\\x07 \\u2066x")\n',
        1,
    )
    report = grade(target_with(tmp_path, noisy), families=["normal flow"])
    printed = [result.output for result in report.results if result.output]
    assert printed, "the scenarios' output was not kept"
    document = json.dumps(exercism(report)) + "".join(printed)
    for steering in ("\x1b", "\r", "\u202e", "\x07", "\u2066"):
        assert steering not in document
    assert "\\x1b[31mgraded 100\\r\\u202eevil" in printed[0]


def test_a_change_to_the_kit_during_the_import_probe_refuses_the_grade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fingerprint is taken before anything of the learner's runs, the import probe
    included, and covers every file of the kit, not only the runtime: here the probe
    (standing in for a flow that escaped while it was imported) adds a file beside the
    scenarios, as a planted ``conftest.py`` would be."""
    kit = tmp_path / "kit"  # the real kit stays untouched: other tests grade beside this one
    (kit / "tests" / "scenarios").mkdir(parents=True)
    (kit / "grader.py").write_text("")
    planted = kit / "tests" / "scenarios" / "planted_by_the_probe.txt"

    def escaping_probe(path: Path) -> None:
        planted.write_text("planted")

    monkeypatch.setattr("chatkit.grading.trust.kit_root", lambda: kit)
    monkeypatch.setattr("chatkit.grading.runner._probe", escaping_probe)
    report = grade(target_with(tmp_path, SOLUTION), families=["normal flow"])
    assert report.load_error is not None and report.load_error.refused
    assert "tests/scenarios/planted_by_the_probe.txt" in report.load_error.message
    assert report.exit_code == 2


def test_getattr_with_a_name_written_in_place_is_graded_on_its_merits(tmp_path: Path) -> None:
    """Ordinary Python is not refused: ``getattr(row, "error", None)`` runs like ``row.error``."""
    plain = SOLUTION.replace(
        "    if message is None or message.status is Status.SENT:\n        return  # the server",
        '    if getattr(message, "status", None) is Status.SENT or message is None:\n'
        "        return  # the server",
        1,
    )
    assert plain != SOLUTION
    report = grade(target_with(tmp_path, plain), families=["failure and rollback"])
    assert report.load_error is None
    assert report.results and all(result.outcome.value == "passed" for result in report.results)


_SETTLE_TAIL = "    else:\n        reconcile(state, stored)\n    return message\n"
LOOKS_SETTLED = {
    "marked failed as it returns, confirmed by a task after": (
        "    else:\n        message.status = Status.FAILED\n"
        "        KEEP.add(asyncio.create_task(settle(state, stored)))\n    return message\n\n\n"
        "KEEP: set[asyncio.Task[None]] = set()\n\n\n"
        "async def settle(state: ChatState, stored: ServerMessage) -> None:\n"
        "    reconcile(state, stored)\n"
    ),
    "a twin returned, the row it shows confirmed by a task": (
        "    else:\n        KEEP.add(asyncio.create_task(settle(state, stored)))\n"
        "    return Message(message.client_id, chat_id, message.author, body, "
        "message.created_at)\n\n\n"
        "KEEP: set[asyncio.Task[None]] = set()\n\n\n"
        "async def settle(state: ChatState, stored: ServerMessage) -> None:\n"
        "    reconcile(state, stored)\n"
    ),
}


@pytest.mark.parametrize("trick", LOOKS_SETTLED)
def test_a_row_that_looks_settled_only_as_send_returns_is_still_caught(
    trick: str, tmp_path: Path
) -> None:
    """Rule 15 reads the row send returns the moment it returns, and holds it against the
    answer send had: a row marked failed after an ack, or one that is not the row on
    screen, is not a send that finished (each once passed, a task settling the real row
    before anything else was checked)."""
    source = SOLUTION.replace("import uuid\n", "import asyncio\nimport uuid\n", 1).replace(
        _SETTLE_TAIL, LOOKS_SETTLED[trick], 1
    )
    assert source.count("KEEP.add") == 1
    report = grade(target_with(tmp_path, source), families=["normal flow"])
    assert report.load_error is None, report.load_error
    failed = [result for result in report.results if result.outcome.value != "passed"]
    assert failed
    assert {result.outcome.value for result in failed} == {"failed"}  # returned: not stuck
    assert {result.rule.split(",")[0] for result in failed if result.rule} <= {
        "rule 2",
        "rule 15",
    }, [result.rule for result in failed]


def test_a_flow_cannot_tell_grading_from_the_live_app_by_its_print(tmp_path: Path) -> None:
    """On a phone, ``print`` is Python's own, as in the live app: a flow that is right only
    when its ``print`` is something else is wrong when graded too."""
    graded_only = SOLUTION.replace(
        "    check_body(body)\n",
        "    check_body(body)\n"
        '    if repr(print).startswith("<built-in function print"):\n'
        '        raise RuntimeError("this flow only works where print is not the real one")\n',
        1,
    )
    assert graded_only != SOLUTION
    report = grade(target_with(tmp_path, graded_only), families=["normal flow"])
    assert report.load_error is None
    failed = {result.name for result in report.results if result.outcome.value != "passed"}
    assert "test_message_shows_as_pending_at_once" in failed


def test_two_phones_share_nothing_a_flow_keeps(tmp_path: Path) -> None:
    """Ids made from ``id()`` are unique on one phone and the same on the next, as on two
    real phones: two people sending at once collide, and concurrency says so."""
    numbered = SOLUTION.replace(
        "client_id=client_id or uuid.uuid4().hex,",
        'client_id=client_id or f"m{id(state)}-{len(state.messages)}",',
        1,
    )
    assert numbered != SOLUTION
    report = grade(target_with(tmp_path, numbered), families=["normal flow", "concurrency"])
    outcomes: dict[str, list[str]] = {result.family: [] for result in report.results}
    for result in report.results:
        outcomes[result.family].append(result.outcome.value)
    assert set(outcomes["normal flow"]) == {"passed"}
    assert "failed" in outcomes["concurrency"]


def grader_in(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The grader's command line, run from ``folder`` (a learner's own, say)."""
    return run_grader(*args, cwd=folder, env={**os.environ, "COLUMNS": "120", **env})


STUB = (kit_root() / "starter-code" / "flow.py").read_text()


@pytest.mark.parametrize("shadowed", ["json", "socket", "site", "encodings"])
def test_a_module_beside_the_flow_named_like_pythons_own_never_runs(
    tmp_path: Path, shadowed: str
) -> None:
    """Graded from inside the learner's folder, a ``json.py`` there (never imported by the
    flow, so never checked) would run in every process that starts there before it is
    confined. None starts there: the stub still scores 0, and the module never ran."""
    target = Path(target_with(tmp_path, STUB))
    ran = tmp_path / "ran"
    (target / f"{shadowed}.py").write_text(f"open({str(ran)!r}, 'w').write('ran')\n")
    done = grader_in(target, "--target", ".", "--quiet")
    assert not ran.exists(), done.stdout + done.stderr
    assert ": 0/100" in done.stdout, done.stdout + done.stderr


def test_a_lone_surrogate_in_a_flows_error_is_shown_not_a_crash(tmp_path: Path) -> None:
    """Text no terminal can be given (a lone surrogate), or no XML file can hold (U+FFFF),
    is written out, like a control character: the grader says why the flow did not load,
    ends as it should, and its JUnit file is still XML."""
    target = Path(target_with(tmp_path, 'raise ValueError("\\ud800 and \\uffff on")\n'))
    junit = tmp_path / "out.xml"
    for args in (["--quiet"], [], ["--json", str(tmp_path / "out.json"), "--junit", str(junit)]):
        done = grader_in(tmp_path, "--target", str(target), *args)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
    assert "\\\\ud800 and \\\\uffff on" in (tmp_path / "out.json").read_text()
    written = ElementTree.parse(junit).getroot()  # raises if it is not XML
    assert any("uffff on" in text for text in written.itertext())


def test_rich_markup_in_a_flows_text_is_shown_as_written(tmp_path: Path) -> None:
    """A message in square brackets is the learner's text, never markup: no link to click,
    no hidden or reversed text reaches the terminal, in any of the report's views."""
    marked = SOLUTION.replace(
        "    check_body(body)\n",
        "    check_body(body)\n"
        '    print("[link=https://evil.example]click[/link] [conceal]hidden[/conceal]")\n'
        '    raise ValueError("[link=https://evil.example]oops[/link] [reverse]R[/reverse]")\n',
        1,
    )
    target = target_with(tmp_path, marked)
    shown = ""
    for args in ([], ["--family", "normal flow"], ["--every-failure"], ["--quiet"]):
        done = grader_in(tmp_path, "--target", target, *args, FORCE_COLOR="1", TERM="xterm")
        assert "\x1b]8;" not in done.stdout and "\x1b[8m" not in done.stdout, args
        assert "\x1b[7m" not in done.stdout, args
        shown += done.stdout
    assert "[link=https://evil.example]" in shown, "the learner's text, as written"


def test_a_phone_keeps_nothing_of_the_graders_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A phone or the probe runs learner code: a teacher's token in the grader's
    environment is not in theirs; what Python needs is."""
    monkeypatch.setenv("TEACHER_SECRET", "hunter2")
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    kept = learner_environment()
    assert "TEACHER_SECRET" not in kept and "hunter2" not in kept.values()
    assert kept["PYTHONHASHSEED"] == "0" and kept["PYTHONDONTWRITEBYTECODE"] == "1"


@pytest.mark.skipif(not memory_capped(), reason="no memory cap on this system")
def test_a_huge_allocation_while_the_flow_loads_is_stopped_at_once(tmp_path: Path) -> None:
    """The import probe has the phones' memory cap: 8 GB asked for at module level is a
    MemoryError, told as the reason the flow did not load, not a machine brought down."""
    report = grade(target_with(tmp_path, STUB + "\nHOARD = bytearray(8 * 2**30)\n"))
    assert report.load_error is not None
    assert report.load_error.error_type == "MemoryError", report.load_error


@pytest.mark.parametrize("where", [".", "..", "chatkit", "chatkit/engine", "tests/scenarios"])
def test_a_target_in_the_kits_own_folders_is_refused(where: str) -> None:
    """The learner's folder is left out of the kit's fingerprint and is readable by its
    phones: the kit itself, or a folder of its runtime or tests, is never one."""
    refused = misplaced((kit_root() / where).resolve())
    assert refused is not None and refused.refused
    assert misplaced(kit_root() / "starter-code") is None
