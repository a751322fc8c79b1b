"""A live server in a subprocess of its own, for code that needs a real one it controls.

The live tests, the TUI tests, the benchmark and any script that wants a real
server behind a real socket run ``python -m chatkit.live`` as a child process:
one they start on a free (or a chosen) loopback port, stop gracefully, SIGKILL
in the middle of a burst, and start again on the same port and database.
`ServerProcess` is that child, written once instead of once per user.

Nothing here sleeps to wait. The server says it is ready by printing its
`~chatkit.live.server.assembly.ready_line` (once its store is open); the parent waits
for that line with a bounded ``select`` and reads the port from it. If the line
does not come in time, or is not a ready line, starting fails at once and says
where the server's stderr went.
"""

from __future__ import annotations

import secrets
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, AnyStr, Self

START_TIMEOUT_S = 15.0
"""How long `ServerProcess.start` waits for the ready line before giving up."""
STOP_TIMEOUT_S = 10.0
"""How long `ServerProcess.stop` waits after SIGTERM before it sends SIGKILL."""
HOST = "127.0.0.1"
"""Loopback only: a server started this way is for the process that started it."""
LIVE_SERVER = (sys.executable, "-m", "chatkit.live")
"""The command that runs the live server, before its options."""


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released), for a server to take."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """``python -m chatkit.live`` in a subprocess on a loopback port, owned by its caller.

    ``db`` is the SQLite file or ``postgresql://`` URL, kept across restarts; ``log``
    the file the server's stderr goes to (written afresh by the first start, appended to by later ones,
    so a restart keeps what the run before it said). ``args`` are extra options for
    the server (``--echo-first``, ``--refuse 0.5``...). ``program`` replaces the
    command before the options: anything that takes the live server's ``--host``,
    ``--port`` and ``--db`` and prints its ready line will do (the benchmark runs
    its JSON-file baseline this way).

    The host's admin token (for the fault switches) is kept in a file beside the log,
    ``admin_token_file``, and read back as ``admin_token``.

    ``port`` is 0 until the first start, then the port the server listened on;
    it stays set after a stop, so that ``start(port=server.port)`` (or `restart`)
    brings the server back where its clients will reconnect.
    """

    def __init__(
        self,
        db: Path | str,
        log: Path,
        args: Sequence[str] = (),
        *,
        program: Sequence[str] = LIVE_SERVER,
        start_timeout: float = START_TIMEOUT_S,
        stop_timeout: float = STOP_TIMEOUT_S,
        accounts_db: Path | None = None,
    ) -> None:
        self.db = db
        self.accounts_db: Path | str = accounts_db or db
        """Where the accounts live (``--accounts-db``): the messages' database unless told."""
        self.log = log
        self.args = list(args)
        self.program = list(program)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self.scheme = "http"
        self.starts = 0
        self.admin_token_file = log.with_name(log.name + ".admin-token")
        self.passwords: dict[str, str] = {}
        """The accounts `account` made, with their (generated) passwords."""

    def account(self, user: str, password: str | None = None) -> str:
        """Make an account for ``user`` in the server's database (once); its password
        (``password``, or a generated one).

        Written straight into the database, so it works before the first start and
        while the server runs alike (the server reads accounts from the file).
        """
        if user not in self.passwords:
            # only callers that want accounts
            from chatkit.live.storage.databases import add_accounts

            password = password or secrets.token_urlsafe(12)
            add_accounts(self.accounts_db, [(user, password)])
            self.passwords[user] = password
        return self.passwords[user]

    @property
    def admin_token(self) -> str:
        """The host's admin token (the server writes it at its first start)."""
        return self.admin_token_file.read_text(encoding="utf-8").strip()

    @property
    def url(self) -> str:
        """The base URL clients connect to (meaningful once started; https with TLS)."""
        return f"{self.scheme}://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the child is alive (a crash or an outside kill makes this False)."""
        return self.process is not None and self.process.poll() is None

    def start(self, *, port: int = 0) -> Self:
        """Start on ``port`` (0: a free one); return once the server printed its ready line.

        Raises RuntimeError if it is already running, or (having stopped it) if it
        does not announce itself on ``port`` within ``start_timeout`` seconds.
        """
        # The server module's heavy imports (uvicorn, Socket.IO) wait until a server is wanted.
        from chatkit.live.server.assembly import parse_ready_line

        if self.running:
            raise RuntimeError(f"the server is already running ({self.url})")
        self._close()  # one that exited by itself (already reaped by `running`'s poll)
        command = [
            *self.program,
            *("--host", HOST, "--port", str(port), "--db", str(self.db)),
            *("--admin-token-file", str(self.admin_token_file)),
        ]
        if self.accounts_db != self.db:
            command += ["--accounts-db", str(self.accounts_db)]
        with self.log.open("a" if self.starts else "w") as stderr:
            self.starts += 1
            self.process = subprocess.Popen(
                [*command, *self.args], stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1
            )
        assert self.process.stdout is not None
        line = read_line(self.process.stdout, self.start_timeout)
        ready = parse_ready_line(line)
        if ready is None or ready[0] != HOST or (port and ready[1] != port):
            self.stop()
            raise RuntimeError(f"the server did not start ({line!r}); see {self.log}")
        self.port = ready[1]
        self.scheme = "https" if " https://" in line else "http"
        return self

    def restart(self) -> Self:
        """Stop gracefully, then start again on the same port with the same database."""
        self.stop()
        return self.start(port=self.port)

    def stop(self) -> None:
        """Graceful: SIGTERM, then SIGKILL if it does not leave within the deadline."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(self.stop_timeout)
        self._close()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(self.stop_timeout)
        self._close()

    def _close(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None


def read_line(stream: IO[AnyStr], timeout: float) -> AnyStr:
    """One line from a child's pipe, waiting at most ``timeout`` seconds (select, not
    sleep); an empty one if none came in time or the child closed the pipe."""
    ready, _, _ = select.select([stream], [], [], max(timeout, 0.0))
    return stream.readline() if ready else stream.read(0)
