"""A deadline for an HTTP request's headers, so slow clients cannot hold connections.

uvicorn waits for a request's headers as long as the client keeps the socket
open, so a few hundred connections that send one header byte a minute
("slowloris") would hold a server's connections for ever. `with_header_deadline`
returns uvicorn's HTTP protocol with a timer: a connection whose next request's
headers are not complete ``timeout`` seconds after it opened (or after its last
response) is closed. WebSocket connections are unaffected once upgraded, and a
request body has its own deadline in the HTTP side (`chatkit.live.http_api`).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol


class _DeadlineProtocol(H11Protocol):
    header_timeout_s = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
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


def with_header_deadline(timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing connections whose headers take over ``timeout`` s."""
    return type("HeaderDeadlineProtocol", (_DeadlineProtocol,), {"header_timeout_s": timeout})
