"""The Socket.IO client under `SocketIOTransport`, reading frames without a task apiece.

python-engineio's client waits for every WebSocket frame through `asyncio.wait_for`,
which (before Python 3.12) wraps the wait in a task of its own and arms a timer: three
of them for each message a chat member sends (its ack, its echo, the other member's
copy), on a client that may share its machine with the server. `LeanClient` reads the
same frames with aiohttp's own receive timeout instead (a timer, no task), and yields
to the event loop once a frame, as Engine.IO's loop did. What it
decides is Engine.IO's: the same silence that ends a connection, the same handling of
each packet, the same end of the connection; everything else is python-socketio's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import engineio  # type: ignore[import-untyped]
import socketio  # type: ignore[import-untyped]
from engineio import base_client, packet


class LeanEngineClient(engineio.AsyncClient):  # type: ignore[misc]
    """`engineio.AsyncClient`, reading WebSocket frames without a task per frame."""

    async def _read_loop_websocket(self) -> None:
        while self.state == "connected" and self.write_loop_task:
            data = await self._frame()
            if data is None:
                await self.queue.put(None)  # ends the write loop
                break
            try:
                decoded = packet.Packet(encoded_packet=data)
            except Exception as error:
                self.logger.info('Unexpected error decoding packet: "%s", aborting', error)
                await self.queue.put(None)
                break
            await self._receive_packet(decoded)
            # One event-loop turn a frame, as Engine.IO's own loop gives: what a frame's
            # handlers schedule runs before the next frame is read (an echo is heard
            # before the ack behind it, as it was sent).
            await asyncio.sleep(0)
        if self.write_loop_task:
            await self.write_loop_task
        if self.state == "connected":
            await self._trigger_event("disconnect", self.reason.TRANSPORT_ERROR, run_async=False)
            if self in base_client.connected_clients:
                base_client.connected_clients.remove(self)
            await self._reset()

    async def _frame(self) -> Any:
        """The next frame's text or bytes; None when the connection is over (closed, broken,
        or silent past the ping interval and timeout)."""
        try:
            message = await self.ws.receive(timeout=self.ping_interval + self.ping_timeout)
        except TimeoutError:
            self.logger.warning("Server has stopped communicating, aborting")
            return None
        except Exception as error:  # ServerDisconnectedError among them
            self.logger.info('Unexpected error receiving packet: "%s", aborting', error)
            return None
        if not isinstance(message.data, str | bytes):  # a close, or an error
            self.logger.warning("Server sent %s, aborting", message.type)
            return None
        return message.data


class LeanClient(socketio.AsyncClient):  # type: ignore[misc]
    """`socketio.AsyncClient` over `LeanEngineClient`."""

    def _engineio_client_class(self) -> type[LeanEngineClient]:
        return LeanEngineClient
