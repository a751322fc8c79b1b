"""Socket.IO rooms whose broadcasts are written without a task per member.

python-socketio's `AsyncManager.emit` encodes a broadcast once, then starts a task for
each member to hand it to that member's Engine.IO queue, and waits for them all. The
hand-over never waits for the network (the queue is unbounded; each connection's own
writer task drains it), so the tasks buy nothing, and on the hot path (every stored
message goes to its chat's room) they cost an event-loop turn each. `DirectManager`
hands the encoded packet to each member in turn instead; everything else, the rooms
included, is python-socketio's own.
"""

from __future__ import annotations

from typing import Any

import socketio  # type: ignore[import-untyped]
from engineio import packet as eio_packet  # type: ignore[import-untyped]
from socketio import packet as sio_packet


class DirectManager(socketio.AsyncManager):  # type: ignore[misc]
    """`socketio.AsyncManager`, with emits to many connections written in one pass."""

    async def emit(
        self,
        event: str,
        data: object,
        namespace: str,
        room: str | None = None,
        skip_sid: str | list[str] | None = None,
        callback: object = None,
        to: str | None = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:  # a packet per member, each with its own ack id
            await super().emit(event, data, namespace, room, skip_sid, callback, to, **kwargs)
            return
        if namespace not in self.rooms:
            return
        # python-socketio's convention: a tuple is many arguments, None is none
        arguments = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        skipped = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        encoded = self.server.packet_class(
            sio_packet.EVENT, namespace=namespace, data=[event, *arguments]
        ).encode()
        packets = [
            eio_packet.Packet(eio_packet.MESSAGE, part)
            for part in (encoded if isinstance(encoded, list) else [encoded])
        ]
        for sid, eio_sid in self.get_participants(namespace, to or room):
            if sid not in skipped:
                for part in packets:
                    await self.server._send_eio_packet(eio_sid, part)
