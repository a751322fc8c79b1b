"""The chat itself, whatever the transport: join, invite, send, history.

Socket.IO handlers and HTTP routes are thin: they parse a payload, find the
session, and call this. So the rules — a sender is its session's user, only
members read and post, a private chat is entered only by invitation, a send is
stored before it is acked and broadcast to the room, faults are rolled once per
send — are written once and hold on both transports alike.

Public chats are open: joining one makes you a member. A private chat is made
with `create_chat`, gets an unguessable id (``private-...``) and invite code, and
lets in only those who bring the code, or whom a member invited by name and who
accepted (by joining it). An invite asks; it never adds anyone: it waits, counts
against none of the invitee's chats, and is answered the same whether or not the
account exists. Whether a private chat exists is never told to someone outside
it: every refusal reads the same as for a chat that does not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from chatkit.live.server.admin import require_host
from chatkit.live.server.cluster.fanout import Fanout
from chatkit.live.server.errors import BadRequest, Conflict, NotFound, Refused, Unavailable
from chatkit.live.server.faults import FaultInjector, Via
from chatkit.live.server.payloads import HistoryRequest, SendRequest
from chatkit.live.server.sessions import Session, SessionRegistry, not_member
from chatkit.live.server.settings import ServerSettings
from chatkit.live.storage.accounts import PRIVATE_PREFIX, PrivateChat
from chatkit.live.storage.messages import MessageStore, Page, StoreError
from chatkit.model import ServerMessage

log = logging.getLogger("chatkit.live")

REFUSED_REASON = "the server refused the message (an injected fault)"


class Rooms(Protocol):
    """The realtime side: who hears a chat's messages. Implemented over Socket.IO rooms."""

    async def enter(self, session: Session, chat_id: str) -> None: ...

    async def leave(self, session: Session, chat_id: str) -> None: ...

    async def drop(self, sids: list[str], chat_ids: set[str]) -> None:
        """These connections stop hearing these chats (their session was signed out)."""
        ...

    async def broadcast(self, message: ServerMessage) -> None: ...

    async def invited(self, user: str, chat_id: str, inviter: str) -> None:
        """Tell the user's connections (on this process) that they were invited."""
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
        fanout: Fanout | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.faults = faults
        self.fanout = fanout or Fanout(faults)
        """How a fault change reaches every server process and connection (and typing)."""
        self.sessions = sessions
        self.rooms: Rooms | None = None
        """Set by the realtime side once it exists (it needs the service too)."""
        self._background: set[asyncio.Task[None]] = set()

    async def join(self, session: Session, chat_id: str) -> None:
        """Listen to a chat; a public one makes you a member, a private one needs you to be."""
        if chat_id not in session.account.chats:
            with self._room_for(session):
                if not chat_id.startswith(PRIVATE_PREFIX):
                    await self.sessions.store.add_member(chat_id, session.user)
                elif not await self.sessions.store.take_invite(chat_id, session.user):
                    raise not_member(chat_id)
                session.account.chats.add(chat_id)
        await self._listen(session, chat_id)

    async def leave(self, session: Session, chat_id: str) -> None:
        """Stop listening and stop being a member (a private chat then needs a new invite)."""
        if chat_id in session.account.chats:
            await self.sessions.store.remove_member(chat_id, session.user)
            session.account.chats.discard(chat_id)
        for device in self.sessions.sessions_of(session.user):  # every device stops hearing it
            device.rooms.discard(chat_id)
            if self.rooms is not None:
                await self.rooms.leave(device, chat_id)

    async def logout(self, session: Session) -> None:
        """Revoke the session for good; its connections stop hearing its chats."""
        sids = await self.sessions.logout(session)
        if self.rooms is not None:
            await self.rooms.drop(sids, session.rooms)

    async def watch_sessions(self) -> None:
        """Every ``session_recheck_s``, apply what other processes changed in the database
        to this one's connections (see `chatkit.live.server.sessions`). Runs until cancelled."""
        while True:
            await asyncio.sleep(self.settings.session_recheck_s)
            try:
                found = await self.sessions.recheck()
            except Exception:  # the database is away: try again next time
                log.exception("could not recheck the sessions")
                continue
            if self.rooms is None:
                continue
            for session, sids in found.revoked:
                await self.rooms.drop(sids, session.rooms)
            for session, chat_id in found.left:
                await self.rooms.leave(session, chat_id)

    async def create_chat(self, session: Session) -> PrivateChat:
        """A new private chat, with its creator in it and listening."""
        with self._room_for(session):
            chat = await self.sessions.store.create_private_chat(session.user)
            session.account.chats.add(chat.chat_id)
        await self._listen(session, chat.chat_id)
        return chat

    async def invite(self, session: Session, chat_id: str, user: str) -> None:
        """A member of a private chat invites someone by name. The same answer whether the
        account exists, is in already, or was invited already: an invite is no way to
        find out who has an account."""
        session.require_member(chat_id)
        if not chat_id.startswith(PRIVATE_PREFIX):
            raise BadRequest("a public chat needs no invite: anyone may join it")
        self.sessions.limits.invites.charge(session.user)
        added = await self.sessions.store.add_invite(chat_id, user, session.user)
        if added and self.rooms is not None:
            await self.rooms.invited(user, chat_id, session.user)

    async def pending_invites(self, session: Session) -> list[dict[str, str]]:
        """The invites waiting for this user's answer, oldest first."""
        pending = await self.sessions.store.pending_invites(session.user)
        return [{"chat_id": chat_id, "inviter": inviter} for chat_id, inviter in pending]

    async def sign_in_answer(self, session: Session, token: str) -> dict[str, object]:
        """What signing in answers, over HTTP and Socket.IO alike: who, the token, the chats,
        the invites waiting and the fault switches."""
        return {
            "ok": True,
            "user": session.user,
            "token": token,
            "chats": sorted(session.account.chats),
            "invites": await self.pending_invites(session),
            "faults": self.current_faults(),
        }

    async def decline_invite(self, session: Session, chat_id: str) -> None:
        await self.sessions.store.decline_invite(chat_id, session.user)

    async def new_invite_code(self, session: Session, chat_id: str) -> str:
        """A fresh invite code for a private chat (the old one stops working)."""
        session.require_member(chat_id)
        if not chat_id.startswith(PRIVATE_PREFIX):
            raise BadRequest("a public chat needs no invite code: anyone may join it")
        return await self.sessions.store.new_invite_code(chat_id)

    async def accept_invite(self, session: Session, code: str) -> str:
        """Join the private chat an invite code opens; its id."""
        with self._room_for(session):
            chat_id = await self.sessions.store.redeem_invite(code, session.user)
            if chat_id is None:
                raise NotFound("this invite code opens no chat (it may have been replaced)")
            session.account.chats.add(chat_id)
        await self._listen(session, chat_id)
        return chat_id

    async def _listen(self, session: Session, chat_id: str) -> None:
        session.rooms.add(chat_id)
        if self.rooms is not None:
            await self.rooms.enter(session, chat_id)

    @contextlib.contextmanager
    def _room_for(self, session: Session) -> Iterator[None]:
        """Hold a place for one more chat of ``session``'s account while it is joined."""
        account, limit = session.account, self.settings.max_chats_per_session
        if len(account.chats) + account.joining >= limit:
            raise BadRequest(f"one person can be in at most {limit} chats; leave one first")
        account.joining += 1
        try:
            yield
        finally:
            account.joining -= 1

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

    async def update_faults(
        self, admin_token: object, changes: Mapping[str, object]
    ) -> dict[str, object]:
        """Change some fault switches (none: just read them); the next send sees the change.

        Only the host may, with the admin token. A change is announced to every
        connection, whoever made it and over whichever transport, so no client
        shows switches that are no longer true; with ``--redis`` it reaches every
        server process (`chatkit.live.server.cluster.fanout`).
        """
        require_host(self.settings.admin_token, admin_token)
        if changes:
            if not self.settings.allow_fault_control:
                raise BadRequest("this server does not let clients change its fault switches")
            try:
                await self.fanout.change_faults(changes)
            except ValueError as error:
                raise BadRequest(str(error)) from None
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
