"""The chat itself, whatever the transport: register, join, send, history.

Socket.IO handlers and HTTP routes are thin: they parse a payload, find the
session, and call this. So the rules — a sender is its session's user, only
members read and post, a send is stored before it is acked and broadcast to the
room, faults are rolled once per send — are written once and hold on both
transports alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Protocol

from chatkit.live.admin import require_host
from chatkit.live.errors import BadRequest, Conflict, Refused, Unavailable
from chatkit.live.faults import FaultInjector, Via
from chatkit.live.payloads import HistoryRequest, SendRequest
from chatkit.live.sessions import Session, SessionRegistry
from chatkit.live.settings import ServerSettings
from chatkit.live.storage import MessageStore, Page, StoreError
from chatkit.model import ServerMessage

log = logging.getLogger("chatkit.live")

REFUSED_REASON = "the server refused the message (an injected fault)"


class Rooms(Protocol):
    """The realtime side: who hears a chat's messages. Implemented over Socket.IO rooms."""

    async def enter(self, session: Session, chat_id: str) -> None: ...

    async def leave(self, session: Session, chat_id: str) -> None: ...

    async def broadcast(self, message: ServerMessage) -> None: ...

    async def faults_changed(self, faults: Mapping[str, object]) -> None:
        """Tell every connection the fault switches changed (one client turned one)."""
        ...


@dataclass(frozen=True, slots=True)
class SendResult:
    message: ServerMessage
    created: bool
    """False when the client id was already stored: a retry, or a failover's second try."""
    ack_lost: bool
    """An injected fault: stored and broadcast, but the sender must not get its ack."""


class ChatService:
    def __init__(
        self,
        settings: ServerSettings,
        store: MessageStore,
        faults: FaultInjector,
        sessions: SessionRegistry,
    ) -> None:
        self.settings = settings
        self.store = store
        self.faults = faults
        self.sessions = sessions
        self.rooms: Rooms | None = None
        """Set by the realtime side once it exists (it needs the service too)."""
        self._background: set[asyncio.Task[None]] = set()

    async def join(self, session: Session, chat_id: str) -> None:
        if chat_id not in session.chats:
            if len(session.chats) >= self.settings.max_chats_per_session:
                raise BadRequest(
                    f"a session can be in at most {self.settings.max_chats_per_session} chats; "
                    "leave one first"
                )
            session.chats.add(chat_id)
        if self.rooms is not None:
            await self.rooms.enter(session, chat_id)

    async def leave(self, session: Session, chat_id: str) -> None:
        session.chats.discard(chat_id)
        if self.rooms is not None:
            await self.rooms.leave(session, chat_id)

    async def send(self, session: Session, request: SendRequest, via: Via) -> SendResult:
        """Store a message once, broadcast it to its room, and say how to answer the sender.

        With ``echo_first`` the broadcast is finished before this returns, so the
        sender's echo is queued ahead of its ack. Otherwise the broadcast runs as a
        task after the caller has queued the ack. Sequence numbers come from the
        store, because concurrent handlers may reach this in any order.
        """
        session.require_member(request.chat_id)
        decision = self.faults.decide(via)
        if decision.latency_s > 0:
            await asyncio.sleep(decision.latency_s)  # the injected slow network
        if decision.refuse:
            raise Refused(REFUSED_REASON)
        try:
            appended = await self.store.append(
                request.chat_id, request.client_id, session.user, request.body
            )
        except StoreError as error:
            log.error("send failed: %s", error)
            raise Unavailable("the server could not store the message; try again") from error
        message = appended.message
        if message.author != session.user:
            raise Conflict(
                f"client id {request.client_id!r} is already used by another user's message "
                "in this chat; use a fresh one"
            )
        if appended.created and self.rooms is not None:
            if decision.echo_first:
                await self.rooms.broadcast(message)
            else:
                self._spawn(self.rooms.broadcast(message))
        return SendResult(message, appended.created, decision.lose_ack)

    async def history(self, session: Session, request: HistoryRequest) -> Page:
        session.require_member(request.chat_id)
        try:
            return await self.store.page(
                request.chat_id, after=request.after, before=request.before, limit=request.limit
            )
        except StoreError as error:
            raise Unavailable("the server could not read the history; try again") from error

    def current_faults(self) -> dict[str, object]:
        """The switches as everyone may see them (in the sign-in answer and announcements)."""
        return self.faults.settings.to_json()

    def update_faults(
        self, admin_token: object, changes: Mapping[str, object]
    ) -> dict[str, object]:
        """Change some fault switches (none: just read them); the next send sees the change.

        Only the host may, with the admin token. A change is announced to every
        connection, whoever made it and over whichever transport, so no client
        shows switches that are no longer true.
        """
        require_host(self.settings.admin_token, admin_token)
        if changes:
            if not self.settings.allow_fault_control:
                raise BadRequest("this server does not let clients change its fault switches")
            try:
                self.faults.update(changes)
            except ValueError as error:
                raise BadRequest(str(error)) from None
            if self.rooms is not None:
                self._spawn(self.rooms.faults_changed(self.faults.settings.to_json()))
        return self.faults.settings.to_json()

    async def drain(self) -> None:
        """Wait for broadcasts still running (at shutdown)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _spawn(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a broadcast failed", exc_info=task.exception())
