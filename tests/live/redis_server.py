"""A real ``redis-server`` for the tests: on a free loopback port, in a folder of its own.

Started once per test session (per pytest-xdist worker: each worker its own) and
stopped at the end. Nothing is saved to disk. Each test gets a database number of
its own (`RedisServer.url`), and the kit names its Redis keys and channels after
that number, so servers of one test never hear those of another.

Without ``redis-server`` on the PATH the tests that need it are skipped, with a
line saying how to install it.
"""

from __future__ import annotations

import itertools
import select
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

import pytest

START_TIMEOUT_S = 10.0
DATABASES = 1024
"""Database numbers a session's tests may use (one each)."""
INSTALL = "redis-server is not installed: apt-get install redis-server (or brew install redis)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """``redis-server`` in a subprocess, owned by the test session."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._databases = itertools.count(1)

    def start(self) -> RedisServer:
        """Start, and return once it says it is ready and answers PING."""
        program = shutil.which("redis-server")
        if program is None:
            pytest.skip(INSTALL)
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                program,
                *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)),
                *("--save", "", "--appendonly", "no", "--databases", str(DATABASES)),
                *("--logfile", ""),  # to stdout, read here until it says it is ready
            ],
            stdout=subprocess.PIPE,
        )
        said = self._until_ready(START_TIMEOUT_S)
        if not self._answers_ping():
            self.stop()
            raise RuntimeError(f"redis-server did not start on port {self.port}: {said!r}")
        return self

    def url(self) -> str:
        """A Redis URL with a database number no other test of this session uses."""
        db = next(self._databases)
        if db >= DATABASES:
            raise RuntimeError(f"more than {DATABASES - 1} tests asked for a Redis database")
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(START_TIMEOUT_S)
        self.process = None

    def _until_ready(self, timeout: float) -> bytes:
        """Read its log until "Ready to accept connections" (or the deadline, or its end);
        then keep its log in ``redis.log`` so the pipe never fills. What it said."""
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        said = b""
        deadline = time.monotonic() + timeout
        while b"Ready to accept connections" not in said:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([stdout], [], [], left)[0]:
                break
            line = stdout.readline()
            if not line:
                break
            said += line
        log = self.folder / "redis.log"
        log.write_bytes(said)
        threading.Thread(target=_copy, args=(stdout, log), daemon=True).start()
        return said

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=START_TIMEOUT_S) as c:
                c.sendall(b"PING\r\n")
                return c.recv(64).startswith(b"+PONG")
        except OSError:
            return False


def _copy(stream: IO[bytes], log: Path) -> None:
    with log.open("ab") as out:
        for line in stream:
            out.write(line)
