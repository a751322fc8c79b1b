"""Deadlines and bounds for HTTP clients, so slow or idle ones cannot hold connections.

uvicorn waits for a request's headers as long as the client keeps the socket
open, so a few hundred connections that send one header byte a minute
("slowloris") would hold a server's connections for ever. `with_header_deadline`
returns uvicorn's HTTP protocol with a timer: a connection whose next request's
headers are not complete ``timeout`` seconds after it opened (or after its last
response) is closed. WebSocket connections are unaffected once upgraded, and a
request body has its own deadline in the HTTP side (`chatkit.live.server.http_api`).
The same protocol counts every connection in a `ConnectionGate` the moment it is
accepted, and answers one too many from an address (or in all) with a 503.

`PollingDeadline` bounds the Engine.IO polling requests: a POST is answered within
``request_timeout_s``, and a long-poll GET within the ping interval and that. Engine.IO
itself can wait for ever (a POST carrying a client's PING waits for a GET that may never
come), and a request that waits for ever holds its connection for ever.
"""

from __future__ import annotations

import asyncio
import json
import logging

from uvicorn.protocols.http.h11_impl import H11Protocol

from chatkit.live.server.connections import ConnectionGate, refusal_bytes
from chatkit.live.server.errors import TooSlow
from chatkit.live.server.frames import ASGIApp, Message, Receive, Scope, Send, is_engine_io

log = logging.getLogger("chatkit.live")

TOO_MANY = "too many connections are open from this address (or in all); close some first"


class _DeadlineProtocol(H11Protocol):
    header_timeout_s = 10.0
    gate: ConnectionGate | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()
        if self.gate is not None and not self.gate.admit(transport):
            transport.write(refusal_bytes(TOO_MANY))
            transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.gate is not None:
            self.gate.release(self.transport)
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._expired, self.cycle)

    def _disarm(self) -> None:
        deadline: asyncio.TimerHandle | None = getattr(self, "_deadline", None)
        if deadline is not None:
            deadline.cancel()

    def _expired(self, cycle_when_armed: object) -> None:
        """Close the connection if no request's headers arrived since the timer was armed."""
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # closed already, or upgraded to a WebSocket
        if self.cycle is cycle_when_armed and (self.cycle is None or self.cycle.response_complete):
            self.transport.close()


def with_header_deadline(timeout: float, gate: ConnectionGate | None = None) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing connections whose headers take over ``timeout`` s
    (and, given a ``gate``, connections one too many)."""
    return type(
        "HeaderDeadlineProtocol", (_DeadlineProtocol,), {"header_timeout_s": timeout, "gate": gate}
    )


class PollingDeadline:
    """ASGI middleware: an Engine.IO polling request is answered, or cut off, in time."""

    def __init__(self, app: ASGIApp, *, post_s: float, poll_s: float) -> None:
        self.app = app
        self.post_s = post_s
        self.poll_s = poll_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_engine_io(scope["path"]):
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        deadline = self.poll_s if scope["method"] == "GET" else self.post_s
        try:
            async with asyncio.timeout(deadline):
                await self.app(scope, receive, watched)
        except TimeoutError:
            log.info("cut off a polling request after %g s", deadline)
            if not started:
                error = TooSlow(f"the server did not answer this request within {deadline:g} s")
                await _send_json(send, error.status, error.to_json())


async def _send_json(send: Send, status: int, payload: dict[str, object]) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
