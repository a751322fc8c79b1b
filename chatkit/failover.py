"""Failover: try the primary transport, fall back to a second one, never duplicate.

A client with two ways to reach the server (Socket.IO, say, and plain HTTP) sends
over the primary and, when that fails, over the fallback. The danger is the send that *did* reach the server over the primary
but whose answer was lost: resend it as a new message and the chat shows it
twice. The cure is the client id. `FailoverServer` resends through the fallback
with the *same* client id, so a server that already stored the message returns
the stored copy and stores nothing new — the same idempotency that makes a
user's retry safe.

`FailoverServer` is itself a `chatkit.ChatServer`: the learner's flow cannot tell
it from a single server, and should not need to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from chatkit.model import DeliveryError, ServerMessage
from chatkit.protocols import ChatServer

T = TypeVar("T")

PRIMARY_TIMED_OUT = "no answer from the primary transport in time"


@dataclass(frozen=True, slots=True)
class Failover:
    """One switch to the fallback: which operation, which message, and why."""

    operation: str
    """``"send"`` or ``"history"``."""
    chat_id: str
    client_id: str | None
    reason: str
    """Why the primary failed."""


def both_failed(primary_reason: str, fallback_reason: str) -> str:
    """The reason a person reads when neither transport delivered."""
    return f"{primary_reason}; the fallback failed too: {fallback_reason}"


class FailoverServer:
    """A `chatkit.ChatServer` over a primary and a fallback server.

    Each call goes to ``primary`` first. If it raises `chatkit.DeliveryError`, or
    gives no answer within ``timeout`` seconds (None: wait as long as the primary
    does), the call is repeated on ``fallback`` with the same arguments — for a
    send, the same client id. If the fallback fails too, a `DeliveryError` gives
    both reasons. ``on_failover`` hears of every switch (a status line, a log).
    """

    def __init__(
        self,
        primary: ChatServer,
        fallback: ChatServer,
        *,
        timeout: float | None = None,
        on_failover: Callable[[Failover], None] | None = None,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.timeout = timeout
        self.on_failover = on_failover

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        return await self._either(
            Failover("send", chat_id, client_id, ""),
            lambda server: server.send(chat_id, client_id, body),
        )

    async def history(self, chat_id: str) -> list[ServerMessage]:
        return await self._either(
            Failover("history", chat_id, None, ""), lambda server: server.history(chat_id)
        )

    async def _either(self, what: Failover, call: Callable[[ChatServer], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self.timeout):
                return await call(self.primary)
        except DeliveryError as error:
            reason = error.reason
        except TimeoutError:
            reason = PRIMARY_TIMED_OUT
        if self.on_failover is not None:
            self.on_failover(Failover(what.operation, what.chat_id, what.client_id, reason))
        try:
            return await call(self.fallback)
        except DeliveryError as error:
            raise DeliveryError(both_failed(reason, error.reason)) from error
