"""The Socket.IO side of the server: events in, acks and broadcasts out.

Events a client emits, each with one JSON object and each answered by an ack:

- ``login {"user", "password"}`` or ``login {"token"}`` (resume a session) →
  ``{"ok", "user", "token", "chats", "faults"}``; ``logout {}`` revokes the session
- ``join {"chat_id"}`` and ``leave {"chat_id"}`` → ``{"ok", "chat_id"}``
- ``create_chat {}`` → ``{"ok", "chat_id", "invite_code"}``: a private chat
- ``invite {"chat_id", "user"}`` → ``{"ok"}``, the same whether or not the account
  exists: an invitation the user accepts (``join``, or ``accept_invite {"chat_id"}``)
  or declines (``decline_invite {"chat_id"}``); ``invites {}`` → ``{"ok", "invites"}``
  lists those waiting (``[{"chat_id", "inviter"}]``, also in the sign-in answer);
  ``new_invite {"chat_id"}`` → ``{"ok", "invite_code"}``; ``accept_invite {"code"}`` →
  ``{"ok", "chat_id"}``
- ``send {"chat_id", "client_id", "body"}`` → ``{"ok", "message", "created"}``
- ``typing {"chat_id", "typing"?}`` → ``{"ok"}``
- ``history {"chat_id", "after"?, "before"?, "limit"?}`` → ``{"ok", "messages", "has_more"}``
- ``faults {"admin_token", switch: value, ...}`` (no switch: read them) → ``{"ok", "faults"}``;
  only the host, with the admin token, may (``not_host`` otherwise)

Anything wrong is answered ``{"ok": false, "code", "error"}`` and the connection
stays up: a payload that breaks a rule, an event the server does not have
(``unknown_event``, ``*`` included), one over 64 KiB, JSON nested too deeply, binary
data, too many requests (``rate_limited``). A frame over 1 MiB closes the connection (WebSocket code 1009),
and so does falling more than ``max_queued_packets`` behind on reading (the
``closing`` event says why). Events the server emits: ``new_message`` (a stored message, to the
chat's room, the sender included) and ``typing`` (``{"chat_id", "user",
"typing"}``, to the room except the typist's own connections) and ``faults``
(``{"faults"}``, to every connection, whenever a switch changes, so every
client's panel shows the switches as they are), ``invited`` (``{"chat_id",
"inviter"}``, to the invitee's connections on this server process) and ``delivery``
(``{"degraded", "reason"}``, with ``--redis``: messages from other servers are
delayed because Redis is away, and later that every one missed was delivered).

With ``--redis`` the server is one of several: messages, typing notices and
fault changes cross between them through `chatkit.live.server.cluster.fanout`, so each
connection hears each of them once, whichever process it is connected to. Each
process's Socket.IO rooms are its own.

A python-socketio handler's return value is its ack, sent after the handler
returns. So a broadcast awaited inside the handler reaches the sender before the
ack (echo first), and one started as a task after it arrives after (ack first).
The ``echo_first`` fault switch picks which.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from chatkit.live.server.cluster.fanout import Typing
from chatkit.live.server.connections import AddressCounts, client_address
from chatkit.live.server.errors import INTERNAL_ERROR, BadRequest, ChatError, UnknownEvent
from chatkit.live.server.faults import FaultSettings
from chatkit.live.server.frames import GuardedServer
from chatkit.live.server.payloads import (
    parse_chat_id,
    parse_code,
    parse_history,
    parse_invite,
    parse_login,
    parse_send,
    parse_typing,
    single_payload,
)
from chatkit.live.server.room_emit import DirectManager
from chatkit.live.server.service import ChatService
from chatkit.live.server.sessions import Session
from chatkit.live.server.settings import ServerSettings
from chatkit.live.wire import (
    EVENT_DELIVERY,
    EVENT_FAULTS,
    EVENT_INVITED,
    EVENT_MESSAGE,
    EVENT_TYPING,
    codec,
    message_to_wire,
)
from chatkit.model import ServerMessage

log = logging.getLogger("chatkit.live")

DEGRADED = (
    "messages from people on other servers are delayed: this server cannot reach them "
    "(Redis is away). Yours are stored; they reach the others when it is back"
)
RESTORED = "every server is reachable again: every message missed meanwhile has been delivered"
DRAIN_WAIT_S = 5.0
"""How long a catch-up waits for a connection to write out what waits for it; one that
cannot by then is a slow reader, and is shed as any other."""

Ack = dict[str, object]
Work = Callable[[str, Mapping[str, object]], Awaitable[object]]


def room_of(chat_id: str) -> str:
    return f"chat:{chat_id}"


def delivery_notice(*, degraded: bool) -> dict[str, object]:
    """The ``delivery`` event's payload."""
    return {"degraded": degraded, "reason": DEGRADED if degraded else RESTORED}


class Realtime:
    """The Socket.IO server, its handlers, and the rooms the service broadcasts to."""

    def __init__(self, settings: ServerSettings, service: ChatService) -> None:
        self.settings = settings
        self.service = service
        self.sessions = service.sessions
        self.fanout = service.fanout
        self.sio = GuardedServer(
            max_payload_bytes=settings.max_payload_bytes,
            sessions=AddressCounts(settings.max_connections_per_address, settings.max_connections),
            sign_in_timeout_s=settings.sign_in_timeout_s,
            async_mode="asgi",
            client_manager=DirectManager(),
            serializer=codec.TextPacket,
            json=codec,
            ping_interval=settings.ping_interval_s,
            ping_timeout=settings.ping_timeout_s,
            max_http_buffer_size=settings.max_frame_bytes,
            logger=False,
            engineio_logger=False,
        )
        self._addresses: dict[str, str] = {}
        """Each connection's client address: what it does before signing in is charged
        there, and so are its password attempts."""
        self.sio.signed_in = lambda sid: self.sessions.bound(sid) is not None
        self._no_ack = self.sio.not_handled
        """python-socketio sends no ack at all for a handler that returns this sentinel
        (see AsyncServer._handle_event_internal): how a lost ack is injected."""
        self.sio.on("connect", handler=self._connect)
        self.sio.on("disconnect", handler=self._disconnect)
        handlers: dict[str, Work] = {
            "login": self._login,
            "logout": self._logout,
            "join": self._join,
            "create_chat": self._create_chat,
            "invite": self._invite,
            "new_invite": self._new_invite,
            "accept_invite": self._accept_invite,
            "decline_invite": self._decline_invite,
            "invites": self._invites,
            "leave": self._leave,
            "send": self._send,
            "typing": self._typing,
            "history": self._history,
            "faults": self._faults,
        }
        for event, work in handlers.items():
            self.sio.on(event, handler=self._answering(event, work))
        self.known_events = sorted(handlers)
        self.sio.on("*", handler=self._unknown)
        service.rooms = self
        self.fanout.listen(self)

    async def open(self) -> None:
        """Hear the other servers before the first connection (with ``--redis``);
        raise OSError if Redis cannot be reached."""
        await self.fanout.open()

    async def close(self) -> None:
        await self.fanout.close()

    # Rooms, for the service.

    async def enter(self, session: Session, chat_id: str) -> None:
        for sid in list(session.sids):
            await self._enter(sid, chat_id)

    async def leave(self, session: Session, chat_id: str) -> None:
        for sid in list(session.sids):
            await self.sio.leave_room(sid, room_of(chat_id))

    async def drop(self, sids: list[str], chat_ids: set[str]) -> None:
        for sid in sids:
            for chat_id in chat_ids:
                await self.sio.leave_room(sid, room_of(chat_id))
            self.sio.expect_sign_in(sid)

    async def broadcast(self, message: ServerMessage) -> None:
        """A message this process stored: to its chat's members, on every process."""
        await self.fanout.message(message)

    async def _enter(self, sid: str, chat_id: str) -> None:
        """Put a connection in a chat's room; the process starts following the chat
        (`Fanout.watch`) if it is the room's first."""
        room = room_of(chat_id)
        fresh = not self.has_members(chat_id)
        await self.sio.enter_room(sid, room)
        await self.fanout.watch(chat_id, fresh=fresh)

    # What the fanout delivers to this process's connections (`chatkit.live.server.cluster.fanout.Listener`).

    def has_members(self, chat_id: str) -> bool:
        return bool(self.sio.manager.rooms.get("/", {}).get(room_of(chat_id)))

    async def deliver(self, message: ServerMessage) -> None:
        room = room_of(message.chat_id)
        await self.sio.emit(EVENT_MESSAGE, message_to_wire(message), room=room)
        await self.sio.shed_slow_readers(self.settings.max_queued_packets, room)

    async def drained(self, chat_id: str) -> None:
        """Wait until the connections in a chat's room that have more than half their
        limit of packets waiting have written them out (at most `DRAIN_WAIT_S`): a burst
        of missed messages delivered at once must not count them as slow readers."""
        queues = []
        for _, eio_sid in self.sio.manager.get_participants("/", room_of(chat_id)):
            socket = self.sio.eio.sockets.get(eio_sid)
            if socket is not None and socket.queue.qsize() > self.settings.max_queued_packets // 2:
                queues.append(socket.queue)
        if queues:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN_WAIT_S):
                    await asyncio.gather(*(queue.join() for queue in queues))

    async def faults_changed(self, faults: FaultSettings) -> None:
        """Tell this process's connections (each process tells its own)."""
        await self.sio.emit(EVENT_FAULTS, {"faults": faults.to_json()})
        await self.sio.shed_slow_readers(self.settings.max_queued_packets)

    async def link_changed(self, up: bool) -> None:
        """Tell this process's connections that cross-server delivery is degraded, or back."""
        await self.sio.emit(EVENT_DELIVERY, delivery_notice(degraded=not up))
        await self.sio.shed_slow_readers(self.settings.max_queued_packets)

    async def typing_heard(self, notice: Typing) -> None:
        """Tell this process's connections in the chat, but not the typist's own."""
        room = room_of(notice.chat_id)
        typist = [
            sid
            for sid, _ in self.sio.manager.get_participants("/", room)
            if (bound := self.sessions.bound(sid)) is not None and bound.key == notice.session
        ]
        await self.sio.emit(
            EVENT_TYPING,
            {"chat_id": notice.chat_id, "user": notice.user, "typing": notice.typing},
            room=room,
            skip_sid=typist,
        )
        await self.sio.shed_slow_readers(self.settings.max_queued_packets, room)

    # Connection life.

    async def _connect(self, sid: str, environ: object, auth: object = None) -> None:
        """Accept everyone the Engine.IO layer let in (`GuardedServer` bounds them per
        address and closes those not signed in in time); a token in the auth data resumes
        that session and its rooms."""
        address = self._addresses[sid] = client_address(environ)
        token = auth.get("token") if isinstance(auth, dict) else None
        if self.fanout.degraded:
            await self.sio.emit(EVENT_DELIVERY, delivery_notice(degraded=True), to=sid)
        if token is None:
            self.sio.keep_sign_in_deadline(sid)
            return
        try:
            session = await self.sessions.by_token(token, address)
        except ChatError:  # a stale token, or too many: the connection signs in by hand
            self.sio.keep_sign_in_deadline(sid)
            return
        if sid not in self._addresses:  # it closed while the token was looked up
            return
        self.sessions.bind(sid, session)
        for chat_id in session.rooms:
            await self._enter(sid, chat_id)

    async def _disconnect(self, sid: str, reason: object = None) -> None:
        self.sessions.unbind(sid)
        self._addresses.pop(sid, None)

    # Handlers: each gets the connection's sid and the payload, and returns the ack.

    def _answering(self, event: str, work: Work) -> Callable[..., Awaitable[object]]:
        """Wrap a handler so that no payload, however wrong, costs the connection."""

        async def handle(sid: str, *args: object) -> object:
            try:
                self._charge(sid)
                return await work(sid, single_payload(args))
            except ChatError as error:
                return error.to_json()
            except Exception:
                log.exception("the %r handler failed", event)
                return dict(INTERNAL_ERROR)

        return handle

    def _charge(self, sid: str) -> None:
        """Count a request against its session's rate (or its connection's, before sign-in)."""
        session = self.sessions.bound(sid)
        if session is not None:
            self.sessions.charge(session)
        else:
            self.sessions.charge_stranger(self._addresses.get(sid, ""))

    async def _unknown(self, event: str, sid: str, *args: object) -> Ack:
        """Any event without a handler: answered, so a typo does not wait for a timeout."""
        try:
            self._charge(sid)
        except ChatError as error:
            return error.to_json()
        known = ", ".join(self.known_events)
        return UnknownEvent(f"there is no event {event[:64]!r}; the events are: {known}").to_json()

    async def _login(self, sid: str, payload: Mapping[str, object]) -> Ack:
        request = parse_login(payload, self.settings)
        current = self.sessions.bound(sid)
        address = self._addresses.get(sid, "")
        if request.token is not None:
            token = request.token
            session = await self.sessions.by_token(token, address)
        else:
            assert request.user is not None and request.password is not None
            if current is not None and current.user != request.user:
                raise BadRequest(f"this connection is signed in as {current.user!r}; log out first")
            session, token = await self.sessions.login(request.user, request.password, address)
        if current is not None and current.user != session.user:
            raise BadRequest(f"this connection is signed in as {current.user!r}; log out first")
        if sid not in self._addresses:  # it closed while the password was checked
            raise BadRequest("this connection closed before it was signed in")
        previous = self.sessions.bind(sid, session)
        if previous is not None and previous is not session:  # switched sessions: its rooms go
            for chat_id in previous.rooms - session.rooms:
                await self.sio.leave_room(sid, room_of(chat_id))
        for chat_id in session.rooms:
            await self._enter(sid, chat_id)
        return await self.service.sign_in_answer(session, token)

    async def _logout(self, sid: str, payload: Mapping[str, object]) -> Ack:
        """Revoke this connection's session for good; its connections are signed out."""
        await self.service.logout(self.sessions.by_sid(sid))
        return {"ok": True}

    async def _create_chat(self, sid: str, payload: Mapping[str, object]) -> Ack:
        chat = await self.service.create_chat(self.sessions.by_sid(sid))
        return {"ok": True, "chat_id": chat.chat_id, "invite_code": chat.invite_code}

    async def _invite(self, sid: str, payload: Mapping[str, object]) -> Ack:
        session = self.sessions.by_sid(sid)
        chat_id, user = parse_invite(payload, self.settings)
        await self.service.invite(session, chat_id, user)
        return {"ok": True, "chat_id": chat_id, "user": user}

    async def _new_invite(self, sid: str, payload: Mapping[str, object]) -> Ack:
        session = self.sessions.by_sid(sid)
        code = await self.service.new_invite_code(session, parse_chat_id(payload, self.settings))
        return {"ok": True, "invite_code": code}

    async def _accept_invite(self, sid: str, payload: Mapping[str, object]) -> Ack:
        """By code (``{"code"}``), or an invitation by name (``{"chat_id"}``, as ``join``)."""
        session = self.sessions.by_sid(sid)
        if "code" not in payload and "chat_id" in payload:
            return await self._join(sid, payload)
        chat_id = await self.service.accept_invite(session, parse_code(payload))
        return {"ok": True, "chat_id": chat_id}

    async def _decline_invite(self, sid: str, payload: Mapping[str, object]) -> Ack:
        session = self.sessions.by_sid(sid)
        chat_id = parse_chat_id(payload, self.settings)
        await self.service.decline_invite(session, chat_id)
        return {"ok": True, "chat_id": chat_id}

    async def _invites(self, sid: str, payload: Mapping[str, object]) -> Ack:
        session = self.sessions.by_sid(sid)
        return {"ok": True, "invites": await self.service.pending_invites(session)}

    async def invited(self, user: str, chat_id: str, inviter: str) -> None:
        for session in self.sessions.sessions_of(user):
            for sid in list(session.sids):
                notice = {"chat_id": chat_id, "inviter": inviter}
                await self.sio.emit(EVENT_INVITED, notice, to=sid)

    async def _join(self, sid: str, payload: Mapping[str, object]) -> Ack:
        session = self.sessions.by_sid(sid)
        chat_id = parse_chat_id(payload, self.settings)
        await self.service.join(session, chat_id)
        return {"ok": True, "chat_id": chat_id}

    async def _leave(self, sid: str, payload: Mapping[str, object]) -> Ack:
        session = self.sessions.by_sid(sid)
        chat_id = parse_chat_id(payload, self.settings)
        await self.service.leave(session, chat_id)
        return {"ok": True, "chat_id": chat_id}

    async def _send(self, sid: str, payload: Mapping[str, object]) -> object:
        session = self.sessions.by_sid(sid)
        request = parse_send(payload, self.settings)
        result = await self.service.send(session, request, via="socketio")
        if result.ack_lost:
            return self._no_ack
        return {"ok": True, "message": message_to_wire(result.message), "created": result.created}

    async def _typing(self, sid: str, payload: Mapping[str, object]) -> Ack:
        session = self.sessions.by_sid(sid)
        request = parse_typing(payload, self.settings)
        session.require_member(request.chat_id)
        await self.fanout.typing(Typing(request.chat_id, session.user, request.typing, session.key))
        return {"ok": True}

    async def _history(self, sid: str, payload: Mapping[str, object]) -> Ack:
        session = self.sessions.by_sid(sid)
        page = await self.service.history(session, parse_history(payload, self.settings))
        return {
            "ok": True,
            "messages": [message_to_wire(message) for message in page.messages],
            "has_more": page.has_more,
        }

    async def _faults(self, sid: str, payload: Mapping[str, object]) -> Ack:
        changes = {name: value for name, value in payload.items() if name != "admin_token"}
        faults = await self.service.update_faults(payload.get("admin_token"), changes)
        return {"ok": True, "faults": faults}
