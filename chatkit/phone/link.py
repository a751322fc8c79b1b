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
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from chatkit.phone.frames import WireError, read_frame, write_frame

REPORT_SECONDS = 5.0
"""The longest the judge waits for one report (or a phone's first word)."""


class PhoneTemplate:
    """The warm template of one target's phones (`chatkit.phone.template`)."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "chatkit.phone.template", str(target), str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            env=env,
        )
        theirs.close()
        atexit.register(self.close)

    def phone(self, scenario: str, device: str, user: str) -> PhoneLink:
        """A new phone: its own process, its own fresh copy of the flow."""
        mine, theirs = socket.socketpair()
        order = json.dumps({"do": "phone", "scenario": scenario, "device": device, "user": user})
        try:
            socket.send_fds(self._control, [order.encode()], [theirs.fileno()])
            pid = json.loads(self._control.recv(4096))["pid"]
        finally:
            theirs.close()
        return PhoneLink(mine, pid, self)

    def kill(self, pid: int) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._control.send(json.dumps({"do": "kill", "pid": pid}).encode())
            self._control.recv(4096)

    def close(self) -> None:
        """Stop the template (its phones end as their lines close)."""
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
        return self._read()

    def call(self, command: dict[str, Any], seconds: float = REPORT_SECONDS) -> dict[str, Any]:
        """Send one command; the phone's report, within ``seconds``."""
        try:
            write_frame(self.channel, command)
        except OSError as error:
            self.close()
            raise WireError(f"the phone is gone: {error}") from None
        return self._read(seconds)

    def _read(self, seconds: float = REPORT_SECONDS) -> dict[str, Any]:
        try:
            report = read_frame(self.channel, time.monotonic() + seconds)
        except WireError:
            self.close()
            raise
        if type(report) is not dict:
            self.close()
            raise WireError("the phone's report is not a mapping")
        return report

    def close(self) -> None:
        """Hang up; a phone that does not end by itself is killed."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            write_frame(self.channel, {"do": "stop"})
        self.channel.close()
        self.template.kill(self.pid)
