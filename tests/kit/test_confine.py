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
from chatkit.kit_home import kit_root
from chatkit.sandbox import confine, landlock, seccomp
from chatkit.sandbox.confine import confinement_notice, phone_rules

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


def test_no_rule_opens_a_folder_that_holds_the_kit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A system folder that happens to hold the kit would open the reference with it."""
    monkeypatch.setattr(confine, "SYSTEM_READS", (str(KIT.parent), "/usr/lib"))
    rules = dict(phone_rules(tmp_path, [], tmp_path / "scratch"))
    assert not [path for path in rules if KIT.is_relative_to(path)]
    assert rules[Path("/usr/lib")] == landlock.READ
    assert rules[tmp_path / "scratch"] == landlock.WRITE


ALLOW, REFUSE, NO_SUCH_CALL = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38  # EPERM, ENOSYS
READ_CALL = {"x86_64": 0, "aarch64": 63}
"""A call the filter leaves alone, on each architecture."""
FILTERED = {
    "a new socket is refused": ("socket", 2, REFUSE),
    "a thread starts": ("clone", seccomp.CLONE_THREAD | 0x100, ALLOW),
    "a new process is refused": ("clone", 17, REFUSE),  # SIGCHLD, as fork passes it
    "clone3 is not there, so the C library falls back to clone": ("clone3", 0, NO_SUCH_CALL),
    "an asyncio wake-up pair is made": ("socketpair", seccomp.AF_UNIX, ALLOW),
    "a network socket pair is refused": ("socketpair", 2, REFUSE),
    "a program is refused": ("execve", 0, REFUSE),
    "a signal to itself is sent": ("tgkill", 4242, ALLOW),
    "a signal to another process is refused": ("kill", 1, REFUSE),
    "a signal to its process group is refused": ("kill", 0, REFUSE),
    "io_uring is refused": ("io_uring_setup", 8, REFUSE),
}


def decide(program: list[tuple[int, int, int, int]], arch: int, number: int, first: int) -> int:
    """Run a seccomp filter as the kernel does, on one call: what it returns."""
    data = {0: number, 4: arch, 16: first}  # seccomp_data: nr, arch, args[0]
    accumulator, counter = 0, 0
    while True:
        code, if_true, if_false, value = program[counter]
        if code == 0x06:
            return value
        if code == 0x20:
            accumulator, counter = data[value], counter + 1
            continue
        taken = {0x15: accumulator == value, 0x35: accumulator >= value}.get(
            code, accumulator & value != 0
        )
        counter += 1 + (if_true if taken else if_false)


@pytest.mark.parametrize("machine", seccomp.SECCOMP_ARCHES)
@pytest.mark.parametrize(("call", "first", "answer"), FILTERED.values(), ids=FILTERED.keys())
def test_the_filter_decides_each_call_on_each_machine(
    machine: str, call: str, first: int, answer: int
) -> None:
    arch = seccomp.SECCOMP_ARCHES[machine]
    program = seccomp.filter_program(arch, pid=4242)
    assert decide(program, arch.audit, arch.calls[call], first) == answer
    assert decide(program, arch.audit, READ_CALL[machine], first) == ALLOW


@pytest.mark.parametrize("machine", seccomp.SECCOMP_ARCHES)
def test_a_call_made_with_another_machines_numbers_is_refused(machine: str) -> None:
    arch = seccomp.SECCOMP_ARCHES[machine]
    program = seccomp.filter_program(arch, pid=4242)
    assert decide(program, 0x40000003, READ_CALL[machine], 0) == REFUSE  # i386
    if arch.foreign is not None:  # x86_64's x32 numbers reach the same calls
        assert decide(program, arch.audit, arch.foreign + arch.calls["socket"], 2) == REFUSE


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


if {at_import} and _attack():
    raise RuntimeError("escaped")
_send = send


async def send(state, server, chat_id, body, *, client_id=None):
    if not {at_import} and _attack():
        raise RuntimeError("escaped")
    return await _send(state, server, chat_id, body, client_id=client_id)
"""
"""An attack at import is run by the probe, then by each phone; one in send by each phone
at every send. Whichever escapes makes the grade say so: a load error or a crash."""
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
def test_the_same_attack_in_send_unconfined_escapes_and_the_report_says_unconfined(
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


@pytest.mark.usefixtures("unchecked")
@pytest.mark.parametrize("portable", ["", "1"], ids=["confined", "unconfined"])
def test_the_import_probe_is_confined_too(
    portable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATKIT_PORTABLE", portable)
    _, act = ATTACKS["reads the reference at import"]
    flow = attacking_flow(tmp_path, act, at_import=True) / "flow.py"
    refused = runner._probe(flow)
    assert (refused is not None and refused.message == "escaped") == (portable == "1")


def test_confining_with_another_thread_running_is_refused() -> None:
    """Landlock holds for the caller and the threads it starts later: a thread already
    running would stay free, so confine refuses rather than leave one."""
    started = subprocess.run(
        [sys.executable, "-c", THREAD_THEN_CONFINE], cwd=KIT, capture_output=True, text=True
    )
    assert started.returncode == 1
    assert "ConfinementError: confinement must come before any other thread" in started.stderr


THREAD_THEN_CONFINE = """
import threading
from pathlib import Path
from chatkit.sandbox.confine import confine

threading.Thread(target=threading.Event().wait, daemon=True).start()
confine(Path("solution"), [], None)
"""
