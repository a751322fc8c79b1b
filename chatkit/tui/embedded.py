"""The live server in a thread of the demo's own, with a database that lives only as long.

``chatkit demo`` is one command with no set-up, so it brings its server along:
the same app `chatkit.live.server.assembly.create_server` builds for ``chatkit serve``,
run by uvicorn on a free loopback port, with its SQLite file in a temporary
folder, and with an account for each of its ``users`` (with a generated password
the demo hands to its own clients: nobody is asked anything).

It runs on an event loop of its own, in its own thread, not on the screen's: when
it shared the screen's loop, a burst of messages kept the screen busy drawing,
the server's acks waited behind the drawing, and sends that the server had
stored timed out and showed a false ✗. Stopping it is uvicorn's own graceful way
(``should_exit``): connections close, the store finishes its writes and closes,
the thread ends and is joined, and then the folder goes. No process and no
thread is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import uvicorn

from chatkit.live.server.admin import new_token
from chatkit.live.server.assembly import LiveServer, bind, create_server, uvicorn_config
from chatkit.live.server.faults import FaultSettings
from chatkit.live.server.settings import ServerSettings
from chatkit.live.storage import accounts

HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
THREAD_NAME = "chatkit-demo-server"
GRACE_S = 1
"""How long uvicorn waits for open connections at shutdown; the demo closes its own first."""


class _InProcessServer(uvicorn.Server):
    """uvicorn without its signal handlers: the app that hosts it decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class EmbeddedServer:
    """``async with EmbeddedServer() as server:`` — a live server at ``server.url``."""

    def __init__(self, *, users: Sequence[str] = (), faults: FaultSettings | None = None) -> None:
        self.faults = faults or FaultSettings()
        self.passwords = {user: secrets.token_urlsafe(12) for user in users}
        """The demo's accounts and their generated passwords."""
        self.admin_token = new_token()
        """The demo's own admin token, so its fault keys work on its own server."""
        self.folder: Path | None = None
        self.live: LiveServer | None = None
        self.port = 0
        self._sock: socket.socket | None = None
        self._uvicorn: _InProcessServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def start(self) -> str:
        """Start serving; return the URL once the store is open and the port listens."""
        self.folder = Path(tempfile.mkdtemp(prefix="chatkit-demo-"))
        settings = ServerSettings(
            host=HOST,
            port=0,
            db_path=self.folder / "demo.sqlite3",
            sqlite_synchronous="NORMAL",
            faults=self.faults,
            admin_token=self.admin_token,
        )
        try:
            await asyncio.to_thread(_make_accounts, settings.db_path, self.passwords)
            self._sock = bind(HOST, 0)
            self.port = self._sock.getsockname()[1]
            ready = threading.Event()
            settled = threading.Event()
            """Set once the server is ready, or its thread has ended without being so."""

            def on_ready() -> None:
                ready.set()
                settled.set()

            self.live = create_server(settings, on_ready=on_ready)
            config = uvicorn_config(
                self.live.app,
                settings,
                log_config=None,  # uvicorn must not write over the terminal the app draws on
                timeout_graceful_shutdown=GRACE_S,
            )
            self._uvicorn = _InProcessServer(config)
            self._thread = threading.Thread(
                target=self._serve, args=(self._uvicorn, self._sock, settled), name=THREAD_NAME
            )
            self._thread.start()
            await asyncio.to_thread(settled.wait, START_TIMEOUT_S)
            if not ready.is_set():
                raise RuntimeError("the demo's chat server did not start")
        except BaseException:
            await self.stop()
            raise
        return self.url

    @staticmethod
    def _serve(server: _InProcessServer, sock: socket.socket, settled: threading.Event) -> None:
        """The server thread: uvicorn on a fresh event loop, until told to exit."""
        try:
            asyncio.run(server.serve(sockets=[sock]))
        finally:
            settled.set()

    async def stop(self) -> None:
        """Stop serving (gracefully, then by force), close the port, delete the folder."""
        thread, self._thread = self._thread, None
        try:
            if thread is not None and self._uvicorn is not None:
                self._uvicorn.should_exit = True
                await asyncio.to_thread(thread.join, STOP_TIMEOUT_S)
                if thread.is_alive():
                    self._uvicorn.force_exit = True
                    await asyncio.to_thread(thread.join, STOP_TIMEOUT_S)
        finally:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


def _make_accounts(path: Path, passwords: Mapping[str, str]) -> None:
    db = accounts.connect(path)
    try:
        accounts.create_users(db, passwords.items())
    finally:
        db.close()
