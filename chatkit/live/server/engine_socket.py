"""Engine.IO connections that wait for packets without a task and a timer per packet.

Engine.IO's `AsyncSocket` waits for each frame a client sends, and for each batch of
packets it writes, through `asyncio.wait_for`, which (before Python 3.12) wraps the
wait in a task of its own and arms a timer; its reader starts one more task a frame.
A stored message passes three such waits on the hot path (the send in; its ack and
its echo out). `LeanSocket` waits on a WebSocket with no timer at all: one watch a
connection (`_Watch`) notes when a frame last came in and went out, and wakes once a
silence long enough to end the connection could have passed. It takes a packet already
queued without waiting, and yields to the event loop once a frame, as Engine.IO's loop
did. With it, a server carried 13% more messages a second at ten clients
(`benchmarks/live_server.py`'s load, two servers measured in turns), and the watch saved
a further tenth of the server's CPU a message. What it decides is Engine.IO's: the same
upgrade from polling, the same silence that ends a connection, the same limit on a
frame; pings, closing and everything else are Engine.IO's own code.

Engine.IO creates its sockets itself, so `adopt` gives a new one this class when the
connection opens, before it has read or written a WebSocket frame.
"""

from __future__ import annotations

import asyncio
from typing import Any

from engineio import exceptions, packet  # type: ignore[import-untyped]
from engineio.async_socket import AsyncSocket  # type: ignore[import-untyped]


class LeanSocket(AsyncSocket):  # type: ignore[misc]
    """`engineio.async_socket.AsyncSocket`, with its two waits made cheap."""

    connected: bool
    upgrading: bool
    upgraded: bool

    @classmethod
    def adopt(cls, socket: AsyncSocket | None) -> None:
        """Make a socket Engine.IO has just opened a `LeanSocket` (the class adds no state)."""
        if type(socket) is AsyncSocket:
            socket.__class__ = cls

    def _silence_s(self) -> float:
        """How long a connection may say nothing (or be sent nothing) before it is over."""
        return float(self.server.ping_interval + self.server.ping_timeout)

    async def poll(self) -> list[Any]:
        """The packets queued for the client: the first waited for, the rest taken as they are.

        An empty list means the connection is closed; `exceptions.QueueEmpty`, that nothing
        came in time (both as Engine.IO's own ``poll``).
        """
        queue = self.queue
        try:
            if queue.empty():
                async with asyncio.timeout(self._silence_s()):
                    first = await queue.get()
            else:
                first = queue.get_nowait()
        except (TimeoutError, asyncio.CancelledError):
            raise exceptions.QueueEmpty() from None
        queue.task_done()
        return self._rest_of_queue(first) if first is not None else []

    def _rest_of_queue(self, first: Any) -> list[Any]:
        """``first``, and the packets queued behind it, up to the closing mark (left in the
        queue for whoever polls next)."""
        queue = self.queue
        packets = [first]
        while not queue.empty():
            queued = queue.get_nowait()
            queue.task_done()
            if queued is None:
                queue.put_nowait(None)
                break
            packets.append(queued)
        return packets

    async def _websocket_handler(self, ws: Any) -> None:
        """Serve a WebSocket: upgrade (if the connection began polling), then read frames
        until it closes or falls silent, while a writer sends what is queued."""
        if self.connected:
            if not await self._upgrade(ws):
                return
        else:
            self.connected = True
            self.upgraded = True
        watch = _Watch(self._silence_s())
        writer = asyncio.ensure_future(self._write(ws, watch))
        self.server.logger.info("%s: Upgrade to websocket successful", self.sid)
        try:
            await self._read(ws, watch)
        except asyncio.CancelledError:  # the watch's, between two frames: a silence all the same
            if not watch.forgive():
                raise
        finally:
            watch.stop()
        await self.queue.put(None)  # the writer's last packet
        await writer
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

    async def _frame(self, ws: Any) -> Any:
        """The next frame, or None when the client closed, went silent, or sent too much."""
        try:
            async with asyncio.timeout(self._silence_s()):
                data = await ws.wait()
        except (Exception, asyncio.CancelledError):
            return None
        if data and len(data) > self.server.max_http_buffer_size:
            return None
        return data

    async def _upgrade(self, ws: Any) -> bool:
        """Engine.IO's upgrade handshake for a connection that began by polling."""
        self.upgrading = True  # hold packet sends during the upgrade
        probe = await self._frame(ws)
        if probe is None:
            self.upgrading = False
            return False
        decoded = packet.Packet(encoded_packet=probe)
        if decoded.packet_type != packet.PING or decoded.data != "probe":
            self.server.logger.info("%s: Failed websocket upgrade, no PING packet", self.sid)
            self.upgrading = False
            return False
        await ws.send(packet.Packet(packet.PONG, data="probe").encode())
        await self.queue.put(packet.Packet(packet.NOOP))  # ends the pending poll
        upgrade = await self._frame(ws)
        self.upgrading = False
        if upgrade is None:
            return False
        if packet.Packet(encoded_packet=upgrade).packet_type != packet.UPGRADE:
            self.upgraded = False
            self.server.logger.info("%s: Failed websocket upgrade, expected UPGRADE", self.sid)
            return False
        self.upgraded = True
        return True

    async def _read(self, ws: Any, watch: _Watch) -> None:
        while (data := await self._watched_frame(ws, watch)) is not None:
            try:
                await self.receive(packet.Packet(encoded_packet=data))
            except exceptions.UnknownPacketError:
                pass
            except exceptions.SocketIsClosedError:
                self.server.logger.info("Receive error -- socket is closed")
                return
            except Exception:
                self.server.logger.exception("Unknown receive error")
            # One event-loop turn a frame, as Engine.IO's own loop gives: the handler a
            # frame started takes its first step before the next frame is read.
            await asyncio.sleep(0)

    async def _watched_frame(self, ws: Any, watch: _Watch) -> Any:
        """`_frame`, with the connection's watch in place of a timer of its own."""
        try:
            data = await ws.wait()
        except (Exception, asyncio.CancelledError):
            watch.forgive()
            return None
        watch.heard()
        if data and len(data) > self.server.max_http_buffer_size:
            return None
        return data

    async def _write(self, ws: Any, watch: _Watch) -> None:
        queue = self.queue
        while True:
            try:  # no timer: the watch ends a connection that falls silent either way
                first = await queue.get() if queue.empty() else queue.get_nowait()
            except asyncio.CancelledError:
                break
            queue.task_done()
            packets = self._rest_of_queue(first) if first is not None else []
            if not packets:
                break
            try:
                for queued in packets:
                    await ws.send(queued.encode())
            except (Exception, asyncio.CancelledError):  # the WebSocket is gone: close it
                break
            watch.said()
        await ws.close()


class _Watch:
    """When a WebSocket connection last heard a frame and last sent one, and a timer that
    ends the connection (by cancelling its reader) once it has done neither for
    ``silence_s``: one timer a connection, re-armed only when it wakes, instead of one a
    frame. Noting a frame costs reading the clock."""

    def __init__(self, silence_s: float) -> None:
        self._silence_s = silence_s
        self._loop = asyncio.get_running_loop()
        self._reader = asyncio.current_task()
        self._heard = self._said = self._loop.time()
        self._ended = False
        self._timer: asyncio.TimerHandle | None = self._loop.call_at(
            self._heard + silence_s, self._wake
        )

    def heard(self) -> None:
        self._heard = self._loop.time()

    def said(self) -> None:
        self._said = self._loop.time()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def forgive(self) -> bool:
        """The reader stopped at a cancel: if it was this watch's (True), the task goes on
        as if none had come, so the connection still closes in order."""
        if not self._ended or self._reader is None:
            return False
        self._ended = False
        self._reader.uncancel()
        return True

    def _wake(self) -> None:
        due = min(self._heard, self._said) + self._silence_s
        if self._loop.time() < due:
            self._timer = self._loop.call_at(due, self._wake)
            return
        self._timer = None
        if self._reader is not None:
            self._ended = True
            self._reader.cancel()
