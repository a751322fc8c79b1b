"""The phone is confined: learner code cannot reach the network, other processes, the
kit's own files or the reference, while what a flow needs keeps working.

Two kinds of test. The first confine a fresh Python process directly and try each act
with plain Python, so they prove the confinement itself, apart from the static check
and the import gate (which refuse ``open``, ``os`` and ``socket`` by name). The second
grade real flows through the real grader: the reference plus an attack that walks past
the import gate to the real ``os`` module, with the static check switched off, so only
the confinement stands between the attack and the kit.

This machine's kernel has Landlock and seccomp (as CI's does): the tests assert that
confinement holds, not that it is skipped.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatkit.grading import runner
from chatkit.grading.results import Outcome
from chatkit.grading.runner import grade
from chatkit.sandbox import seccomp
from chatkit.sandbox.confine import confinement_notice
from chatkit.target import kit_root

KIT = kit_root()
SOLUTION = (KIT / "solution" / "flow.py").read_text()

CONFINED = """
import os, signal, socket, subprocess, sys, tempfile, threading
from pathlib import Path
from chatkit.sandbox.confine import confine

KIT, TARGET, SCRATCH, PORT = Path.cwd(), Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
confine(TARGET, [KIT / "tests" / "scenarios"], SCRATCH)
try:
    exec(sys.argv[4])
except OSError as error:
    print("refused", type(error).__name__)
else:
    print("done")
"""
"""A fresh process that confines itself as the grader's child does, then tries one act."""

FORBIDDEN = {
    "opens a socket": "socket.socket()",
    "opens a Unix socket": "socket.socket(socket.AF_UNIX)",
    "connects to a loopback listener": "socket.create_connection(('127.0.0.1', PORT))",
    "starts a program": "subprocess.run(['true'])",
    "forks": "pid = os.fork()\nif pid == 0:\n    os._exit(0)",
    "becomes another program": "os.execv(sys.executable, [sys.executable, '-c', 'pass'])",
    "appends to a kit file": "open(KIT / 'pyproject.toml', 'a')",
    "creates a file in the kit": "open(KIT / 'escaped.txt', 'w')",
    "writes in its own folder": "open(TARGET / 'note.txt', 'w')",
    "reads the reference": "open(KIT / 'solution' / 'flow.py').read()",
    "reads the kit's own tests": "open(KIT / 'tests' / 'kit' / 'conftest.py').read()",
    "lists the kit's folder": "os.listdir(KIT)",
    "reads a system file": "open('/etc/passwd').read()",
    "signals the grader": "os.kill(os.getppid(), 0)",
    "takes another user's identity": "os.setuid(12345)",
}
ALLOWED = {
    "reads its own folder": "open(TARGET / 'flow.py').read()",
    "reads the chatkit package": "open(KIT / 'chatkit' / 'model.py').read()",
    "reads the scenarios": "open(KIT / 'tests' / 'scenarios' / 'test_scale.py').read()",
    "reads the standard library": "open(os.__file__).read()",
    "writes in its scratch folder": "(SCRATCH / 'note.txt').write_text('x')",
    "makes a temporary file": "tempfile.TemporaryFile(dir=SCRATCH).write(b'x')",
    "writes to /dev/null": "open(os.devnull, 'w').write('x')",
    "starts a thread": "t = threading.Thread(target=print)\nt.start()\nt.join()",
    "signals itself, as the hang watch does": (
        "signal.signal(signal.SIGUSR1, lambda *_: None)\n"
        "signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)"
    ),
    "runs an event loop": "import asyncio\nasyncio.run(asyncio.sleep(0))",
    "loads a module that needs a system library": "import sqlite3\nsqlite3.connect(':memory:')",
    "reads a time zone": "import zoneinfo\nzoneinfo.ZoneInfo('Europe/Paris')",
}


@pytest.fixture(autouse=True)
def confinement_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the run's environment, these tests confine (the control turns it off)."""
    monkeypatch.delenv("CHATKIT_PORTABLE", raising=False)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port the confined process is told about, as the results channel is."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def attempt(act: str, folder: Path, listener: socket.socket) -> str:
    """What a freshly confined process says after trying ``act``: ``refused …`` or ``done``."""
    target, scratch = folder / "target", folder / "scratch"
    target.mkdir()
    scratch.mkdir()
    (target / "flow.py").write_text(SOLUTION)
    port = str(listener.getsockname()[1])
    done = subprocess.run(
        [sys.executable, "-c", CONFINED, str(target), str(scratch), port, act],
        cwd=KIT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_this_machine_confines_so_reports_carry_no_notice() -> None:
    assert confinement_notice() is None


def test_the_portable_switch_turns_confinement_off_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHATKIT_PORTABLE", "1")
    assert confinement_notice() == (
        "the phone ran unconfined: CHATKIT_PORTABLE=1 turns confinement off"
    )


@pytest.mark.parametrize("act", FORBIDDEN.values(), ids=FORBIDDEN.keys())
def test_a_confined_process_is_refused(act: str, tmp_path: Path, listener: socket.socket) -> None:
    assert attempt(act, tmp_path, listener).startswith("refused")
    assert not (KIT / "escaped.txt").exists()


@pytest.mark.parametrize("act", ALLOWED.values(), ids=ALLOWED.keys())
def test_a_confined_process_still_does_what_a_flow_needs(
    act: str, tmp_path: Path, listener: socket.socket
) -> None:
    assert attempt(act, tmp_path, listener) == "done"


def test_the_filter_checks_the_architecture_before_any_call_number() -> None:
    program = seccomp.filter_program(seccomp.SECCOMP_ARCHES["aarch64"], pid=1)
    load_arch, compare_arch, refuse = program[:3]
    assert load_arch[3] == 4  # the arch word of seccomp_data
    assert compare_arch[3] == 0xC00000B7  # AUDIT_ARCH_AARCH64
    assert refuse[0] == 0x06 and refuse[3] == 0x00050001  # return EPERM


# Through the real grader. The static check would refuse these flows by name before
# they ran; with it switched off, each attack reaches the real os module and builtins.

ESCAPE = """

def _real_os():
    for kind in ().__class__.__base__.__subclasses__():
        if kind.__name__ == "_wrap_close":
            return kind.__init__.__globals__
    raise LookupError("no way out")


OS = _real_os()
REAL = OS["__builtins__"]


def _attack():
    try:
{act}
    except OSError:
        return None
    return "escaped"


ESCAPED = _attack() if {at_import} else None
_send = send


async def send(state, server, chat_id, body, *, client_id=None):
    escaped = ESCAPED or _attack()
    if escaped:
        raise RuntimeError(escaped)
    return await _send(state, server, chat_id, body, client_id=client_id)
"""
ATTACKS = {
    "reads the reference at import": (True, "REAL['open']({kit!r} + '/solution/flow.py').read()"),
    "reads the kit's tests in send": (
        False,
        "REAL['open']({kit!r} + '/tests/kit/conftest.py').read()",
    ),
    "writes into the kit in send": (False, "REAL['open']({kit!r} + '/escaped.txt', 'w').close()"),
    "opens a socket in send": (False, "REAL['__import__']('socket').socket()"),
    "starts a program at import": (True, "REAL['__import__']('subprocess').run(['true'])"),
    "signals the grader in send": (False, "OS['kill'](OS['getppid'](), 0)"),
}


def attacking_flow(folder: Path, act: str, *, at_import: bool) -> Path:
    body = "\n".join(" " * 8 + line for line in act.format(kit=str(KIT)).splitlines())
    (folder / "flow.py").write_text(SOLUTION + ESCAPE.format(act=body, at_import=at_import))
    return folder


@pytest.fixture
def unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The static check finds nothing: only the confinement is left to stop an attack."""
    monkeypatch.setattr(runner, "check_target", lambda path: [])


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("unchecked")
@pytest.mark.parametrize(("at_import", "act"), ATTACKS.values(), ids=ATTACKS.keys())
def test_an_attack_past_the_import_gate_is_refused_in_the_grader(
    at_import: bool, act: str, tmp_path: Path
) -> None:
    report = grade(
        str(attacking_flow(tmp_path, act, at_import=at_import)), families=["normal flow"]
    )
    assert report.load_error is None
    assert report.confinement is None
    assert [result.message for result in report.results if result.message] == []
    assert report.results and report.passed == len(report.results)
    assert not (KIT / "escaped.txt").exists()


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("unchecked")
def test_the_same_attack_unconfined_escapes_and_the_report_says_unconfined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: without confinement the attack reads the kit's tests, so the tests
    above would see an escape if confinement ever stopped holding."""
    monkeypatch.setenv("CHATKIT_PORTABLE", "1")
    _, act = ATTACKS["reads the kit's tests in send"]
    report = grade(str(attacking_flow(tmp_path, act, at_import=False)), families=["normal flow"])
    assert report.confinement is not None
    escaped = [result for result in report.results if result.message == "escaped"]
    assert escaped and all(result.outcome is Outcome.CRASHED for result in escaped)
