"""The server's Engine.IO connections (`LeanSocket`) decide as Engine.IO's own do.

They only wait more cheaply: frames are handled in the order sent, what is queued is
written, a silent client and a frame over the limit end the connection, and a client
that starts by polling upgrades to a WebSocket.
"""

from __future__ import annotations

import asyncio

import engineio  # type: ignore[import-untyped]
import pytest
import socketio  # type: ignore[import-untyped]
from conftest import ServerFactory
from engineio import packet

from chatkit.live.server.engine_socket import LeanSocket

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

WAIT_S = 5
SILENCE_S = 0.05
"""A test server's ping interval and ping timeout: silent for both, a client is let go."""


class _WebSocket:
    """What Engine.IO's ASGI driver hands a socket: frames in, frames out, a close."""

    def __init__(self, *frames: str | Exception) -> None:
        self.incoming: asyncio.Queue[str | Exception] = asyncio.Queue()
        for frame in frames:
            self.incoming.put_nowait(frame)
        self.sent: list[str] = []
        self.closed = False

    async def wait(self) -> str:
        frame = await self.incoming.get()
        if isinstance(frame, Exception):
            raise frame
        return frame

    async def send(self, data: str) -> None:
        self.sent.append(data)

    async def close(self) -> None:
        self.closed = True


def _engine(max_frame: int = 1000) -> tuple[engineio.AsyncServer, list[str], list[object]]:
    """A real Engine.IO server, and what its handlers heard: messages, then disconnects."""
    server = engineio.AsyncServer(
        async_mode="asgi",
        ping_interval=SILENCE_S,
        ping_timeout=SILENCE_S,
        max_http_buffer_size=max_frame,
        async_handlers=False,  # each message handled before the next frame: nothing to wait for
        logger=False,
    )
    messages: list[str] = []
    gone: list[object] = []

    async def message(sid: str, data: str) -> None:
        messages.append(data)

    async def disconnect(sid: str, reason: object) -> None:
        gone.append(reason)

    server.on("message", message)
    server.on("disconnect", disconnect)
    return server, messages, gone


async def _serve(socket: LeanSocket, ws: _WebSocket) -> None:
    async with asyncio.timeout(WAIT_S):
        await socket._websocket_handler(ws)


async def test_frames_are_handled_in_order_and_what_is_queued_is_written() -> None:
    server, messages, gone = _engine()
    socket = LeanSocket(server, "sid")
    await socket.send(packet.Packet(packet.MESSAGE, "welcome"))
    ws = _WebSocket("4first", "4second", "4third", OSError("the client left"))
    await _serve(socket, ws)
    assert messages == ["first", "second", "third"]
    assert ws.sent == ["4welcome"] and ws.closed
    assert gone == [server.reason.TRANSPORT_CLOSE]


async def test_a_silent_client_is_let_go_after_the_ping_interval_and_timeout() -> None:
    server, messages, gone = _engine()
    socket = LeanSocket(server, "sid")
    await _serve(socket, _WebSocket())  # returns by itself, or the test's deadline fails it
    assert messages == [] and gone == [server.reason.TRANSPORT_CLOSE]


async def test_a_frame_over_the_limit_ends_the_connection_unread() -> None:
    server, messages, gone = _engine(max_frame=10)
    socket = LeanSocket(server, "sid")
    await _serve(socket, _WebSocket("4short", "4" + "x" * 20, "4never read"))
    assert messages == ["short"] and gone == [server.reason.TRANSPORT_CLOSE]


async def test_poll_takes_what_is_queued_and_stops_at_the_closing_mark() -> None:
    server, _, _ = _engine()
    socket = LeanSocket(server, "sid")
    for data in ("a", "b"):
        await socket.send(packet.Packet(packet.MESSAGE, data))
    socket.queue.put_nowait(None)
    assert [queued.data for queued in await socket.poll()] == ["a", "b"]
    assert await socket.poll() == []  # the mark stays for whoever polls next


async def test_an_upgrade_without_its_probe_leaves_the_connection_polling() -> None:
    server, messages, _ = _engine()
    socket = LeanSocket(server, "sid")
    socket.connected = True  # it began by polling
    ws = _WebSocket("4not a probe")
    await _serve(socket, ws)
    assert not socket.upgraded and not socket.upgrading and messages == []


async def test_a_client_that_starts_by_polling_upgrades_and_is_answered(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(server.url, transports=["polling", "websocket"], wait_timeout=WAIT_S)
    try:
        password = server.account("alice")
        signed_in = await client.call(
            "login", {"user": "alice", "password": password}, timeout=WAIT_S
        )
        assert signed_in["ok"] is True
        assert (await client.call("join", {"chat_id": "general"}, timeout=WAIT_S))["ok"] is True
        sent = await client.call(
            "send", {"chat_id": "general", "client_id": "c1", "body": "hi"}, timeout=WAIT_S
        )
        assert sent["ok"] is True and sent["created"] is True
        assert client.transport() == "websocket"
    finally:
        await client.disconnect()
