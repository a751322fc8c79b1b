"""What the live tests share: a server in a subprocess, and chat members that talk to it.

Nothing here sleeps to wait for async work. A server is ready when it prints its
ready line (read with a bounded wait) and answers ``/health``; a test waits for
what it expects with `Member.until`, which wakes on every message, ack and
settled send, and gives up after a bounded timeout.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Self

from chatkit.client import ChatClient
from chatkit.failover import Failover, FailoverServer
from chatkit.live import process
from chatkit.live.transports import HttpTransport, SocketIOTransport
from chatkit.model import Message, ServerMessage, Status
from chatkit.protocols import ChatServer, Flow
from chatkit.state import ChatState
from chatkit.target import load_flow, resolve_target

WAIT_S = 10.0
"""The longest a test waits for something it expects over loopback."""

_reference: Flow | None = None


def reference_flow() -> Flow:
    """The kit's reference `send`, `reconcile` and `rollback` (loaded once)."""
    global _reference
    if _reference is None:
        _reference = load_flow(resolve_target("solution"))
    return _reference


class ServerProcess(process.ServerProcess):
    """`chatkit.live.process.ServerProcess`, which also checks ``/health`` at every start.

    ``logs`` is a folder; the server's stderr, over all its starts, goes to
    ``server.log`` in it.
    """

    def __init__(self, db: Path, logs: Path, args: list[str]) -> None:
        super().__init__(db, logs / "server.log", args)

    def start(self, *, port: int = 0) -> Self:
        """Start (or restart) on ``port`` (0: a free one); return once /health says ok."""
        super().start(port=port)
        health = get_json(f"{self.url}/health")
        assert health["status"] == "ok", health
        return self


def get_json(
    url: str, *, method: str = "GET", body: object = None, token: str | None = None
) -> dict[str, object]:
    """A blocking HTTP call for set-up and checks; errors come back as their JSON body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=WAIT_S) as response:
            reply: dict[str, object] = json.loads(response.read())
            reply["_status"] = response.status
            return reply
    except urllib.error.HTTPError as error:
        reply = json.loads(error.read())
        reply["_status"] = error.code
        return reply


WireEvent = tuple[Literal["ack", "echo"], str]


@dataclass
class Member:
    """One user's chat client against the live server, driven by the reference flow.

    Records what its wire showed, in arrival order: each ack and each echo, and
    the row's status at the moment each echo reached the flow.
    """

    url: str
    user: str
    ack_timeout: float = 5.0
    failover: bool = False
    """Send through a FailoverServer: Socket.IO first, HTTP (same session) second."""
    flow: Flow = field(default_factory=reference_flow)
    wire: list[WireEvent] = field(default_factory=list)
    status_at_echo: dict[str, Status] = field(default_factory=dict)
    echoes: list[ServerMessage] = field(default_factory=list)
    failovers: list[Failover] = field(default_factory=list)
    reconnected: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.state = ChatState(self.user)
        self.socket = SocketIOTransport(
            self.url,
            self.user,
            ack_timeout=self.ack_timeout,
            on_message=self._on_message,
            on_ack=self._on_ack,
            on_reconnect=self._on_reconnect,
        )
        self.http = HttpTransport(self.url)
        server: ChatServer = self.socket
        if self.failover:
            server = FailoverServer(self.socket, self.http, on_failover=self.failovers.append)
        self.client = ChatClient(self.flow, self.state, server)
        self._changed = asyncio.Event()

    async def start(self, *chats: str) -> Member:
        await self.socket.connect()
        self.http.token = self.socket.token
        for chat_id in chats:
            await self.socket.join(chat_id)
        return self

    async def close(self) -> None:
        await self.socket.close()
        await self.http.close()

    async def send(self, chat_id: str, body: str) -> Message:
        message = await self.client.send(chat_id, body)
        self._changed.set()
        return message

    def notify(self) -> None:
        """Something happened: wake `until` to look again."""
        self._changed.set()

    async def until(
        self, what: str, predicate: Callable[[], bool], timeout: float = WAIT_S
    ) -> None:
        """Wait, event by event, until ``predicate()`` holds; fail after ``timeout`` s."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"{self.user}: timed out waiting until {what}") from None

    def timeline(self, chat_id: str) -> list[Message]:
        return self.state.timeline(chat_id)

    def all_sent(self, chat_id: str, count: int) -> bool:
        rows = self.timeline(chat_id)
        return len(rows) == count and all(row.status is Status.SENT for row in rows)

    def _on_message(self, message: ServerMessage) -> None:
        self.wire.append(("echo", message.client_id))
        row = self.state.get(message.client_id)
        if row is not None:
            self.status_at_echo[message.client_id] = row.status
        self.echoes.append(message)
        self.client.receive(message)
        self._changed.set()

    def _on_ack(self, message: ServerMessage) -> None:
        self.wire.append(("ack", message.client_id))
        self._changed.set()

    async def _on_reconnect(self) -> None:
        self.http.token = self.socket.token
        for chat_id in sorted(self.socket.chats):
            await self.client.resync(chat_id)
        self.reconnected.set()
        self._changed.set()
