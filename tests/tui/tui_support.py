"""What the TUI tests share: a live server in a subprocess, and a bounded wait on the pilot.

The server part is a trimmed copy of ``tests/live/live_support.py``'s `ServerProcess`
(that file belongs to the live tests): ``python -m chatkit.live`` on a free
loopback port, ready once it prints its ready line (read with a bounded wait).

Nothing here sleeps to wait for async work: `until` lets the app run, one
``pilot.pause()`` at a time, until what the test expects is on screen, and fails
after a bounded deadline.
"""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from textual.pilot import Pilot

from chatkit.model import Status
from chatkit.protocols import Flow
from chatkit.target import load_flow, resolve_target
from chatkit.tui.pane import ChatPane

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
WAIT_S = 10.0
"""The longest a test waits for something it expects over loopback."""


class ServerProcess:
    """``python -m chatkit.live`` in a subprocess, on a free loopback port."""

    def __init__(self, db: Path, log: Path, args: list[str]) -> None:
        self.db = db
        self.log = log
        self.args = args
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        stderr = self.log.open("w")
        command = [sys.executable, "-m", "chatkit.live", "--host", "127.0.0.1", "--port", "0"]
        command += ["--db", str(self.db), *self.args]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1
        )
        stderr.close()
        assert self.process.stdout is not None
        line = _read_line(self.process.stdout, START_TIMEOUT_S)
        if "ready on http://127.0.0.1:" not in line:
            self.stop()
            raise RuntimeError(f"the server did not start: {line!r}; see {self.log}")
        self.port = int(line.split("ready on http://127.0.0.1:")[1].split()[0])
        return self

    def stop(self) -> None:
        """Graceful: SIGTERM, then SIGKILL if it does not leave within the deadline."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None


def _read_line(stream: IO[str], timeout: float) -> str:
    """One line from a pipe, waiting at most ``timeout`` seconds (select, not sleep)."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


async def until(
    pilot: Pilot[Any], what: str, holds: Callable[[], object], timeout: float = WAIT_S
) -> None:
    """Let the app run until ``holds()`` is true; fail, saying ``what``, after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not holds():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await pilot.pause()


async def type_and_send(pilot: Pilot[Any], pane: ChatPane, body: str) -> None:
    """Type ``body`` key by key into the pane's input and press enter."""
    pane.input.focus()
    await pilot.press(*body, "enter")


def statuses(pane: ChatPane, body: str) -> list[Status | None]:
    """The status of each row showing ``body``, in screen order."""
    return [row.status for row in pane.rows_for(body)]


def connected(pane: ChatPane) -> bool:
    return pane.session.connected and bool(pane.session.faults)


def load(target: str) -> tuple[Path, Flow]:
    """A target's path and a freshly loaded copy of its flow."""
    path = resolve_target(target)
    return path, load_flow(path)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
