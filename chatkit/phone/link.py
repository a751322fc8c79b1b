"""The judge's side of the line: start phones from the template, talk to them, stop them.

`PhoneTemplate` is started once per judge process and the learner's target; each
`PhoneLink` is one phone forked from it. A call sends a command and waits for the
phone's report, at most `REPORT_SECONDS`: the phone's own hang watch stops a loop in
the flow well before that, so a phone silent for that long is one that disabled it,
and it is killed. Everything a phone says is read as untrusted data
(`chatkit.phone.frames`, `chatkit.phone.screen`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from chatkit.limits import ENDING_SECONDS, STARTUP_SECONDS
from chatkit.phone.frames import PhoneGone, WireError, read_frame, write_frame
from chatkit.portable import fixed_addresses
from chatkit.sandbox.confine import HOME, learner_environment
from chatkit.sandbox.world import DEVICE_TZ

REPORT_SECONDS = 5.0
"""The longest the judge waits for one report (or a phone's first word)."""


def how_it_ended(code: int | str | None) -> str:
    """How a phone that closed its line without a word ended, in words: its exit code, or
    minus the signal that ended it (as `subprocess` gives them), "running" or anything
    else (not known). The signal tells a crash from a kill."""
    if code == "running":
        return "it was still running"
    if type(code) is not int:
        return "how it ended is not known"
    if code >= 0:
        return f"it exited with status {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return f"it was ended by {name}{_SIGNALS.get(name, '')}"


_SIGNALS = {
    "SIGKILL": " (from outside: the machine's memory may have run out)",
    "SIGSEGV": " (the interpreter crashed)",
    "SIGABRT": " (the interpreter gave up)",
    "SIGXCPU": " (it used up its processor time)",
}


def can_fork() -> bool:
    """Whether phones can be forked from a warm template here (not on Windows)."""
    return hasattr(os, "fork") and hasattr(socket, "send_fds")


class PhoneTemplate:
    """The warm template of one target's phones (`chatkit.phone.template`).

    Where the system cannot fork (``spawn``, and always on Windows) each phone is an
    interpreter of its own instead, which dials the judge on loopback: slower to start,
    the same phone.
    """

    def __init__(self, target: Path, *, spawn: bool = False) -> None:
        self.target = target
        self.spawn = spawn or not can_fork()
        self._processes: dict[int, subprocess.Popen[bytes]] = {}
        self._process: subprocess.Popen[bytes] | None = None
        if not self.spawn:
            self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            with fixed_addresses():
                self._process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "chatkit.phone.template",
                        str(target),
                        str(theirs.fileno()),
                    ],
                    pass_fds=[theirs.fileno()],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,  # a phone speaks only on its line: whatever it
                    stderr=subprocess.DEVNULL,  # writes elsewhere must not pile up in the grader
                    cwd=HOME,
                    env=learner_environment({"TZ": DEVICE_TZ}),
                )
            theirs.close()
        atexit.register(self.close)

    def phone(self, scenario: str, device: str, user: str) -> PhoneLink:
        """A new phone: its own process, its own fresh copy of the flow."""
        order = {"scenario": scenario, "device": device, "user": user}
        if self.spawn:
            return self._spawned(json.dumps(order))
        self._control.send(b'{"do": "phone"}')
        said, fds, _, _ = socket.recv_fds(self._control, 4096, 1)
        if not fds:
            raise WireError("the phones' template gave no phone")
        link = PhoneLink(socket.socket(fileno=fds[0]), json.loads(said)["pid"], self)
        write_frame(link.channel, order)
        return link

    def _spawned(self, order: str) -> PhoneLink:
        token = secrets.token_hex(16)
        with socket.create_server(("127.0.0.1", 0)) as listener:
            listener.settimeout(STARTUP_SECONDS)
            port = listener.getsockname()[1]
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "chatkit.phone.template",
                    "--one",
                    str(self.target),
                    str(port),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=HOME,
                env=learner_environment({"TZ": DEVICE_TZ}),
            )
            assert process.stdin is not None
            process.stdin.write(f"{token}\n{order}\n".encode())
            process.stdin.close()
            self._processes[process.pid] = process
            while True:  # only the phone that knows the token is taken
                mine, _ = listener.accept()
                try:
                    said = read_frame(mine, time.monotonic() + STARTUP_SECONDS)
                except WireError:
                    said = None
                if isinstance(said, dict) and said.get("token") == token:
                    return PhoneLink(mine, process.pid, self)
                mine.close()

    def ended(self, pid: int) -> str:
        """How phone ``pid`` ended, in words (asked after its line closed)."""
        process = self._processes.get(pid)
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=ENDING_SECONDS)
            return how_it_ended("running" if process.returncode is None else process.returncode)
        try:
            self._control.send(json.dumps({"do": "ended", "pid": pid}).encode())
            said = json.loads(self._control.recv(4096))
        except (OSError, ValueError, AttributeError):
            return "how it ended is not known"
        return how_it_ended(said.get("status") if type(said) is dict else None)

    def kill(self, pid: int) -> None:
        process = self._processes.pop(pid, None)
        if process is not None:
            with contextlib.suppress(OSError):
                process.kill()
            process.wait()
            return
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self._control.send(json.dumps({"do": "kill", "pid": pid}).encode())
            self._control.recv(4096)

    def close(self) -> None:
        """Stop the template (its phones end as their lines close)."""
        for pid in list(self._processes):
            self.kill(pid)
        if self._process is None:
            return
        self._control.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=REPORT_SECONDS)
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


class PhoneLink:
    """The judge's line to one phone."""

    def __init__(self, channel: socket.socket, pid: int, template: PhoneTemplate) -> None:
        self.channel = channel
        self.pid = pid
        self.template = template
        self.closed = False

    def hello(self) -> dict[str, Any]:
        """The phone's first word: ready, or why its flow did not load."""
        return self.read()

    def call(self, command: dict[str, Any], seconds: float = REPORT_SECONDS) -> dict[str, Any]:
        """Send one command; the phone's report, within ``seconds``."""
        try:
            write_frame(self.channel, command)
        except OSError as error:
            self._gone(f"the phone is gone: {error}")
        return self.read(seconds)

    def read(self, seconds: float = REPORT_SECONDS) -> dict[str, Any]:
        """The phone's next report (of a command that answers in several), within ``seconds``."""
        try:
            report = read_frame(self.channel, time.monotonic() + seconds)
        except PhoneGone as error:
            self._gone(str(error))
        except WireError:
            self.close()
            raise
        if type(report) is not dict:
            self.close()
            raise WireError("the phone's report is not a mapping")
        return report

    def _gone(self, why: str) -> NoReturn:
        """The phone's line broke: say how its process ended (before it is killed)."""
        ended = self.template.ended(self.pid)
        self.close()
        raise PhoneGone(f"{why}; {ended}")

    def close(self) -> None:
        """Hang up; a phone that does not end by itself is killed."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            write_frame(self.channel, {"do": "stop"})
        self.channel.close()
        self.template.kill(self.pid)
