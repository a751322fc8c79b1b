"""Engine.IO connections that wait for packets without a task and a timer per packet.

Engine.IO's `AsyncSocket` waits for each frame a client sends, and for each batch of
packets it writes, through `asyncio.wait_for`, which (before Python 3.12) wraps the
wait in a task of its own and arms a timer; its reader starts one more task a frame.
A stored message passes three such waits on the hot path (the send in; its ack and
its echo out). `LeanSocket` waits the same way under `asyncio.timeout` (a timer, no
task), takes a packet already queued without waiting at all, and yields to the event
loop once a frame, as Engine.IO's loop did. With it, a server carried 13% more
messages a second at ten clients (`benchmarks/live_server.py`'s load, two servers
measured in turns). What it decides is Engine.IO's: the same upgrade from polling,
the same silence that ends a connection, the same limit on a frame; pings, closing
and everything else are Engine.IO's own code.

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
        if first is None:
            return []
        packets = [first]
        while not queue.empty():
            queued = queue.get_nowait()
            queue.task_done()
            if queued is None:  # closing: leave the mark for the next poll
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
        writer = asyncio.ensure_future(self._write(ws))
        self.server.logger.info("%s: Upgrade to websocket successful", self.sid)
        await self._read(ws)
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

    async def _read(self, ws: Any) -> None:
        while (data := await self._frame(ws)) is not None:
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

    async def _write(self, ws: Any) -> None:
        while True:
            try:
                packets = await self.poll()
            except exceptions.QueueEmpty:
                break
            if not packets:
                break
            try:
                for queued in packets:
                    await ws.send(queued.encode())
            except (Exception, asyncio.CancelledError):  # the WebSocket is gone: close it
                break
        await ws.close()
