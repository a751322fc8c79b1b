"""A real ``redis-server`` in a subprocess, for the tests and the benchmark.

On a free loopback port, in a folder its owner gives it, saving nothing to disk;
with a password (``requirepass``) or TLS if asked. Nothing here sleeps to wait: it is
ready when it says so on its log (read with a bounded ``select``) and answers
PING. A test of an outage stops it (`RedisProcess.kill`, or `RedisProcess.pause`
for a stall) and starts it again on the same port.
"""

from __future__ import annotations

import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Self
from urllib.parse import quote

from chatkit.live.tools.process import free_port, read_line

START_TIMEOUT_S = 10.0
INSTALL = "redis-server is not installed: apt-get install redis-server (or brew install redis)"


class RedisProcess:
    """``redis-server`` in a subprocess on a free loopback port, owned by its caller.

    ``folder`` is its working folder (its log, ``redis.log``, goes there); ``databases``
    how many database numbers it has; ``password``, if given, the one clients must send;
    ``tls``, if given, a PEM certificate and its key: then it speaks TLS only, and
    `url` is a ``rediss://`` URL that trusts that certificate."""

    def __init__(
        self,
        folder: Path,
        *,
        databases: int = 16,
        password: str | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.folder = folder
        self.databases = databases
        self.password = password
        self.tls = tls
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def installed() -> bool:
        return shutil.which("redis-server") is not None

    def start(self, *, port: int = 0) -> Self:
        """Start on ``port`` (0: a free one; the same one again after a stop), and return
        once it says it is ready and answers PING; FileNotFoundError (saying how to
        install it) if there is no ``redis-server``."""
        program = shutil.which("redis-server")
        if program is None:
            raise FileNotFoundError(INSTALL)
        self.port = port or free_port()
        password = () if self.password is None else ("--requirepass", self.password)
        listen: tuple[str, ...] = ("--port", str(self.port))
        if self.tls is not None:
            cert, key = (str(path) for path in self.tls)
            listen = ("--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no")
            listen += ("--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", cert)
        self.process = subprocess.Popen(
            [
                program,
                *listen,
                *("--bind", "127.0.0.1", "--dir", str(self.folder)),
                *("--save", "", "--appendonly", "no", "--databases", str(self.databases)),
                *("--logfile", ""),  # to stdout, read here until it says it is ready
                *password,
            ],
            stdout=subprocess.PIPE,
        )
        said = self._until_ready(START_TIMEOUT_S)
        if not self._answers_ping():
            self.stop()
            raise RuntimeError(f"redis-server did not start on port {self.port}: {said!r}")
        return self

    def url(self, db: int = 0) -> str:
        """The URL of one of its databases, for ``chatkit serve --redis``."""
        credentials = "" if self.password is None else f":{self.password}@"
        if self.tls is not None:
            trust = quote(str(self.tls[0]))
            return f"rediss://{credentials}127.0.0.1:{self.port}/{db}?ssl_ca_certs={trust}"
        return f"redis://{credentials}127.0.0.1:{self.port}/{db}"

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

    def kill(self) -> None:
        """SIGKILL: gone at once, with everything it held (it saves nothing)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(START_TIMEOUT_S)
            self.process = None

    def pause(self) -> None:
        """SIGSTOP: its connections stay open, but it answers nothing (a stall)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT: it carries on where it stopped."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def _until_ready(self, timeout: float) -> bytes:
        """Read its log until "Ready to accept connections" (or the deadline, or its end);
        then keep its log in ``redis.log`` so the pipe never fills. What it said."""
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        said = b""
        deadline = time.monotonic() + timeout
        while b"Ready to accept connections" not in said and time.monotonic() < deadline:
            line = read_line(stdout, deadline - time.monotonic())
            if not line:
                break
            said += line
        log = self.folder / "redis.log"
        log.write_bytes(said)
        threading.Thread(target=_copy, args=(stdout, log), daemon=True).start()
        return said

    def _connect(self) -> socket.socket:
        """A connection to it, in TLS if it speaks TLS."""
        plain = socket.create_connection(("127.0.0.1", self.port), timeout=START_TIMEOUT_S)
        if self.tls is None:
            return plain
        context = ssl.create_default_context(cafile=str(self.tls[0]))
        return context.wrap_socket(plain, server_hostname="127.0.0.1")

    def _answers_ping(self) -> bool:
        try:
            with self._connect() as c:
                if self.password is not None:
                    c.sendall(_command("AUTH", self.password))
                    if not c.recv(64).startswith(b"+OK"):
                        return False
                c.sendall(b"PING\r\n")
                return c.recv(64).startswith(b"+PONG")
        except OSError:
            return False


def _command(*words: str) -> bytes:
    """A command in Redis's protocol (RESP), so a password with spaces goes as it is."""
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _copy(stream: IO[bytes], log: Path) -> None:
    with log.open("ab") as out:
        for line in stream:
            out.write(line)
