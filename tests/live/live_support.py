"""What the live tests share: a server in a subprocess, and chat members that talk to it.

Nothing here sleeps to wait for async work. A server is ready when it prints its
ready line (read with a bounded wait) and answers ``/health``; a test waits for
what it expects with `Member.until`, which wakes on every message, ack and
settled send, and gives up after a bounded timeout.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Self

import pytest
import websockets.asyncio.client

from chatkit.client import ChatClient
from chatkit.failover import Failover, FailoverServer
from chatkit.kit_home import TargetError
from chatkit.live.client.transports import HttpTransport, SocketIOTransport
from chatkit.live.server.cluster.secret import new_secret_file
from chatkit.live.tools import process
from chatkit.model import Message, ServerMessage, Status
from chatkit.protocols import ChatServer, Flow
from chatkit.state import ChatState
from chatkit.target import load_flow, resolve_target

WAIT_S = 10.0
"""The longest a test waits for something it expects over loopback."""

_reference: Flow | None = None


def reference_flow() -> Flow:
    """The kit's reference `send`, `reconcile` and `rollback` (loaded once).

    A learner's copy of the kit (``chatkit classroom``) has no reference, so the tests
    whose clients run it are skipped there, saying why."""
    global _reference
    if _reference is None:
        try:
            path = resolve_target("solution")
        except TargetError:
            pytest.skip("its clients run the reference solution, which a learner's copy leaves out")
        _reference = load_flow(path)
    return _reference


def login(server: process.ServerProcess, user: str) -> str:
    """Sign ``user`` in over HTTP (making the account if need be); the session token."""
    reply = get_json(
        f"{server.url}/api/login",
        method="POST",
        body={"user": user, "password": server.account(user)},
    )
    assert reply["ok"] is True, reply
    return str(reply["token"])


class ServerProcess(process.ServerProcess):
    """`chatkit.live.tools.process.ServerProcess`, which also checks ``/health`` at every start.

    ``logs`` is a folder; the server's stderr, over all its starts, goes to
    ``server.log`` in it.
    """

    def __init__(self, db: Path | str, logs: Path, args: list[str]) -> None:
        super().__init__(db, logs / "server.log", args)

    def start(self, *, port: int = 0) -> Self:
        """Start (or restart) on ``port`` (0: a free one); return once /health says ok."""
        super().start(port=port)
        health = get_json(f"{self.url}/health")
        assert health["status"] == "ok", health
        return self


def get_json(
    url: str,
    *,
    method: str = "GET",
    body: object = None,
    token: str | None = None,
    tls: ssl.SSLContext | None = None,
) -> dict[str, object]:
    """A blocking HTTP call for set-up and checks; errors come back as their JSON body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=WAIT_S, context=tls) as response:
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
    """One user's chat client against the live server, driven by the reference flow,
    signed in with an account made for it (`ServerProcess.account`).

    Records what its wire showed, in arrival order: each ack and each echo, and
    the row's status at the moment each echo reached the flow.
    """

    server: ServerProcess
    user: str
    ack_timeout: float = 5.0
    failover: bool = False
    """Send through a FailoverServer: Socket.IO first, HTTP (same session) second."""
    admin_token: str | None = None
    """The host's token, for members that turn the fault switches."""
    fallback_urls: tuple[str, ...] = ()
    """Other servers of the same chat (``--redis``) the socket reconnects to, in turn."""
    http_url: str | None = None
    """The HTTP fallback's server (default: the socket's); another one, with ``--redis``."""
    flow: Flow = field(default_factory=reference_flow)
    wire: list[WireEvent] = field(default_factory=list)
    status_at_echo: dict[str, Status] = field(default_factory=dict)
    echoes: list[ServerMessage] = field(default_factory=list)
    failovers: list[Failover] = field(default_factory=list)
    reconnected: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._changed = asyncio.Event()
        self.url = self.server.url
        self.state = ChatState(self.user)
        self.socket = SocketIOTransport(
            self.url,
            self.user,
            password=self.server.account(self.user),
            ack_timeout=self.ack_timeout,
            admin_token=self.admin_token,
            fallback_urls=self.fallback_urls,
        )
        self.socket.on("message", self._on_message)
        self.socket.on("ack", self._on_ack)
        self.socket.on("reconnect", self._on_reconnect)
        self.socket.on("faults", lambda faults: self._changed.set())
        self.http = HttpTransport(self.http_url or self.url)
        server: ChatServer = self.socket
        if self.failover:
            server = FailoverServer(self.socket, self.http, on_failover=self.failovers.append)
        self.client = ChatClient(self.flow, self.state, server)

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

    @property
    def repeats(self) -> int:
        """Messages a server delivered to this member again (its transport dropped them)."""
        return self.socket.heard.repeats

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


class RawSocket:
    """A Socket.IO connection spoken by hand over a WebSocket, to send frames no client
    library would: deeply nested JSON, oversized or malformed packets, unknown events.
    ``receive_buffer`` shrinks the socket's receive buffer, for a reader that stalls."""

    def __init__(
        self,
        url: str,
        *,
        max_queue: int = 64,
        receive_buffer: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        base = url.replace("https://", "wss://").replace("http://", "ws://")
        self.url = base + "/socket.io/?EIO=4&transport=websocket"
        self.tls = tls
        self.max_queue = max_queue
        self.receive_buffer = receive_buffer
        self.ws: websockets.asyncio.client.ClientConnection | None = None
        self._next_id = 0

    async def connect(self, auth: dict[str, object] | None = None) -> RawSocket:
        sock = None
        if self.receive_buffer is not None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
            host, port = self.url.split("//")[1].split("/")[0].split(":")
            sock.connect((host, int(port)))
        self.ws = await websockets.asyncio.client.connect(
            self.url,
            max_queue=self.max_queue,
            max_size=None,
            compression=None,
            ping_interval=None,
            sock=sock,
            ssl=self.tls,
        )
        opened = await self.frame()
        assert opened.startswith("0{"), opened
        await self.ws.send("40" + (json.dumps(auth) if auth else ""))
        connected = await self.frame()
        assert connected.startswith("40"), connected
        return self

    async def frame(self, timeout: float = WAIT_S) -> str:
        """The next frame from the server, answering engine.io pings on the way."""
        assert self.ws is not None
        async with asyncio.timeout(timeout):
            while True:
                data = await self.ws.recv()
                text = data if isinstance(data, str) else data.decode()
                if text == "2":
                    await self.ws.send("3")
                    continue
                return text

    async def send_raw(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send(text)

    async def call_raw(self, body: str) -> object:
        """Send ``42<id>`` + ``body`` (an event's JSON list, as text); return its ack's data."""
        self._next_id += 1
        ack_id = self._next_id
        await self.send_raw(f"42{ack_id}{body}")
        prefix = f"43{ack_id}"
        while True:
            text = await self.frame()
            if text.startswith(prefix):
                return json.loads(text[len(prefix) :])[0]

    async def call(self, event: str, payload: object) -> dict[str, object]:
        reply = await self.call_raw(json.dumps([event, payload]))
        assert isinstance(reply, dict), reply
        return reply

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def server_log(server: ServerProcess) -> str:
    return server.log.read_text()


def rss_mb(server: ServerProcess) -> float:
    """The server process's resident memory, in MiB (Linux)."""
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def cluster_secret(folder: Path) -> Path:
    """The cluster secret file of a test's servers that share Redis (made once, in its
    folder): every ``--redis`` server a test starts gets it unless told otherwise."""
    path = folder / "cluster.secret"
    if not path.exists():
        new_secret_file(path)
    return path
