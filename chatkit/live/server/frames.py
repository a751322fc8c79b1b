"""Socket.IO frames the server will not read, and connections that will not read.

python-socketio decodes every frame before any handler sees it, and it treats a
frame it cannot use as the end of the connection, or as a traceback in the log.
`GuardedServer` looks at each frame first, so that bad input gets an answer:

- a frame over ``max_payload_bytes`` is answered ``{"ok": false, "code":
  "too_large"}`` without being decoded (frames over ``max_frame_bytes`` never
  get this far: the WebSocket layer closes the connection with code 1009);
- JSON nested too deeply to decode, a frame that is not a Socket.IO packet, an
  event with no name or with the name of one of the server's own handlers
  (``connect``, ``disconnect``, and ``*``, the catch-all's), binary attachments: answered
  the same way, or, when the frame carries no ack id to answer, with an ``error`` event.
  An event with binary data is answered once, and the attachment frames that follow
  it are dropped unanswered (they are part of the event already refused);

`FrameGuard` does the same a layer down, for WebSocket frames that are not even
Engine.IO packets (empty, or not starting with a packet type), which Engine.IO
would answer by dropping the connection with a traceback, and for polling POST
bodies Engine.IO cannot use (not UTF-8, broken base64, an empty packet, too many,
or a packet a client does not send, such as a PING, which left the request hanging):
those are answered 400 with a reason, before Engine.IO reads them; and
`shed_slow_readers` disconnects a connection whose outgoing queue has grown
past ``max_queued_packets`` — a client that stopped reading — dropping what it
would never read, so one stalled reader cannot grow the server's memory. It
looks at this process's connections only (python-socketio's rooms are each
process's own, also with a Redis manager), which are the only ones it can close.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import socketio  # type: ignore[import-untyped]
from socketio import packet as sio_packet

from chatkit.live.server.connections import AddressCounts, client_address
from chatkit.live.server.engine_socket import LeanSocket
from chatkit.live.server.errors import BadRequest, ChatError, TooLarge, UnknownEvent

log = logging.getLogger("chatkit.live")

EVENT_ERROR = "error"
"""Sent to a connection when a frame it sent was refused and carried no ack id."""
EVENT_CLOSING = "closing"
"""Sent (as the last packet) to a connection the server disconnects, with the reason."""

RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "*"})
"""Names python-socketio gives its own handlers: sent by a client, they would call them
(a forged ``disconnect`` event signed a connection out; ``*`` called the catch-all
handler without the event's name)."""

_HEAD = re.compile(r"^(?P<type>\d)(?:(?P<namespace>/[^,]{0,64}),)?(?P<id>\d+)?")
"""The start of a Socket.IO packet: its type, namespace and ack id (all its digits, as
python-socketio reads it: an answer under a cut-off id would reach no one, or someone
else), read without decoding."""
_ACK_DIGITS = 4000
"""The longest ack id answered as an ack (Python reads no longer number as text); a
frame with a longer one is answered with an ``error`` event."""


class GuardedServer(socketio.AsyncServer):  # type: ignore[misc]
    """A Socket.IO server that answers a frame it refuses instead of dropping it, bounds
    the Engine.IO sessions of each address, and closes those that do not sign in."""

    def __init__(
        self,
        *,
        max_payload_bytes: int,
        sessions: AddressCounts | None = None,
        sign_in_timeout_s: float | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.max_payload_bytes = max_payload_bytes
        self._attachments_due: dict[str, int] = {}
        """Per connection, the binary frames still to come of an event already refused."""
        self.open_sessions = sessions
        """Engine.IO sessions, polling and WebSocket alike, per client address."""
        self.sign_in_timeout_s = sign_in_timeout_s
        self.signed_in: Callable[[str], bool] = lambda sid: True
        """Whether a Socket.IO connection has signed in (the realtime side sets this)."""
        self._sign_in_due: dict[str, asyncio.TimerHandle] = {}

    async def _handle_eio_connect(self, eio_sid: str, environ: object) -> object:
        """Refuse a session over its address's bound; give it ``sign_in_timeout_s`` to sign in;
        make its socket a `LeanSocket`, before it has read or written a frame."""
        address = client_address(environ)
        if self.open_sessions is not None and not self.open_sessions.add(eio_sid, address):
            log.info("refused a connection from %s: too many open", address)
            return False
        self._arm_sign_in(eio_sid)
        LeanSocket.adopt(self.eio.sockets.get(eio_sid))
        return await super()._handle_eio_connect(eio_sid, environ)

    def expect_sign_in(self, sid: str) -> None:
        """Give a connection that was just signed out ``sign_in_timeout_s`` to sign in
        again, as a new one gets: signing out does not leave a stranger's connection open."""
        eio_sid = self.manager.eio_sid_from_sid(sid, "/")
        if eio_sid is not None:
            self._arm_sign_in(eio_sid)

    def keep_sign_in_deadline(self, sid: str) -> None:
        """A connection that joined the namespace not signed in keeps the deadline it has;
        one whose deadline passed while it was signed in (it left and joined again) gets a
        new one: leaving and joining is no way to stay open as a stranger."""
        eio_sid = self.manager.eio_sid_from_sid(sid, "/")
        if eio_sid is not None and eio_sid not in self._sign_in_due:
            self._arm_sign_in(eio_sid)

    def _arm_sign_in(self, eio_sid: str) -> None:
        if self.sign_in_timeout_s is None:
            return
        previous = self._sign_in_due.pop(eio_sid, None)
        if previous is not None:
            previous.cancel()
        self._sign_in_due[eio_sid] = asyncio.get_running_loop().call_later(
            self.sign_in_timeout_s, self._check_signed_in, eio_sid
        )

    def _check_signed_in(self, eio_sid: str) -> None:
        self._sign_in_due.pop(eio_sid, None)
        sid = self.manager.sid_from_eio_sid(eio_sid, "/")
        if sid is None or not self.signed_in(sid):
            self.start_background_task(self._close_stranger, eio_sid, sid)

    async def _close_stranger(self, eio_sid: str, sid: str | None) -> None:
        """Say why, then close: the Engine.IO session, and the WebSocket under it (Engine.IO
        alone would keep that open until the client next spoke or missed a ping). A
        WebSocket hears the reason in its close frame: the ``closing`` event, queued behind
        it, may not be written before the socket goes."""
        socket = self.eio.sockets.get(eio_sid)
        if socket is None or socket.closed:
            return
        reason = f"disconnected: not signed in within {self.sign_in_timeout_s:g} s"
        if sid is not None:
            await self.emit(EVENT_CLOSING, {"reason": reason}, to=sid, ignore_queue=True)
        log.info("%s (connection %s)", reason, eio_sid)
        environ = self.environ.get(eio_sid)
        await socket.close(wait=False)
        scope = environ.get("asgi.scope") if isinstance(environ, dict) else None
        close = scope.get(CLOSE_WEBSOCKET) if isinstance(scope, dict) else None
        if close is not None:
            await close(reason)

    async def _handle_eio_message(self, eio_sid: str, data: object) -> None:
        """Check a frame before python-socketio's own dispatch (which it overrides)."""
        if not isinstance(data, str):
            due = self._attachments_due.get(eio_sid, 0)
            if due > 0:  # part of an event answered already
                self._attachments_due[eio_sid] = due - 1
                return
            await self._refuse(eio_sid, "", BadRequest("binary frames are not accepted"))
            return
        if len(data) > self.max_payload_bytes // 4 and len(data.encode()) > self.max_payload_bytes:
            await self._refuse(
                eio_sid,
                data,
                TooLarge(f"the event is larger than {self.max_payload_bytes} bytes"),
            )
            return
        try:
            pkt = self.packet_class(encoded_packet=data)
        except RecursionError:
            await self._refuse(eio_sid, data, BadRequest("the event is nested too deeply"))
            return
        except (ValueError, TypeError, IndexError):
            await self._refuse(eio_sid, data, BadRequest("the frame is not a Socket.IO packet"))
            return
        kind = pkt.packet_type
        if kind in (sio_packet.BINARY_EVENT, sio_packet.BINARY_ACK):
            self._attachments_due[eio_sid] = pkt.attachment_count
            ack_id = pkt.id if kind == sio_packet.BINARY_EVENT else None
            refusal = BadRequest("binary data is not accepted; send text in JSON")
            await self._answer(eio_sid, pkt.namespace or "/", ack_id, refusal)
            return
        if kind == sio_packet.EVENT:
            if not isinstance(pkt.data, list) or not pkt.data or not isinstance(pkt.data[0], str):
                await self._refuse(
                    eio_sid, data, BadRequest("an event must be a list that starts with its name")
                )
                return
            if pkt.data[0] in RESERVED_EVENTS:
                reason = f"{pkt.data[0]!r} is the server's own event; a client cannot send it"
                await self._refuse(eio_sid, data, UnknownEvent(reason))
                return
            await self._handle_event(eio_sid, pkt.namespace, pkt.id, pkt.data)
            return
        if kind not in (sio_packet.CONNECT, sio_packet.DISCONNECT, sio_packet.ACK):
            await self._refuse(eio_sid, data, BadRequest("the server does not take this packet"))
            return
        await super()._handle_eio_message(eio_sid, data)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: object = None) -> None:
        self._attachments_due.pop(eio_sid, None)
        if self.open_sessions is not None:
            self.open_sessions.remove(eio_sid)
        due = self._sign_in_due.pop(eio_sid, None)
        if due is not None:
            due.cancel()
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def _refuse(self, eio_sid: str, data: str, error: ChatError) -> None:
        """Answer a refused frame: as its ack if it asked for one, else with an error event."""
        head = _HEAD.match(data)
        namespace = (head["namespace"] if head else None) or "/"
        digits = head["id"] if head and head["type"] == "2" else None
        ack_id = int(digits) if digits and len(digits) <= _ACK_DIGITS else None
        await self._answer(eio_sid, namespace, ack_id, error)

    async def _answer(
        self, eio_sid: str, namespace: str, ack_id: int | None, error: ChatError
    ) -> None:
        log.info("refused a frame from %s: %s", eio_sid, error.reason)
        if ack_id is not None:
            reply = self.packet_class(
                sio_packet.ACK, namespace=namespace, id=ack_id, data=[error.to_json()]
            )
        else:
            reply = self.packet_class(
                sio_packet.EVENT, namespace=namespace, data=[EVENT_ERROR, error.to_json()]
            )
        await self._send_packet(eio_sid, reply)

    async def shed_slow_readers(self, limit: int, room: str | None = None) -> list[str]:
        """Disconnect every connection (in ``room``, or anywhere) with more than ``limit``
        packets waiting to be written; return their sids."""
        slow = []
        for sid, eio_sid in self.manager.get_participants("/", room):
            socket = self.eio.sockets.get(eio_sid)
            if socket is not None and not socket.closed and socket.queue.qsize() > limit:
                slow.append((sid, socket))
        for sid, socket in slow:
            dropped = _empty(socket.queue)
            reason = f"disconnected: {dropped} messages were waiting unread; reconnect to catch up"
            log.warning("%s (connection %s)", reason, sid)
            await self.emit(EVENT_CLOSING, {"reason": reason}, to=sid, ignore_queue=True)
            await socket.close(wait=False)
        return [sid for sid, _ in slow]


def _empty(queue: asyncio.Queue[object]) -> int:
    """Drop everything waiting in a queue; how many there were."""
    dropped = 0
    while True:
        try:
            queue.get_nowait()
        except asyncio.QueueEmpty:
            return dropped
        queue.task_done()
        dropped += 1


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DIGITS = frozenset("0123456789")
CLIENT_PACKETS = frozenset("1345")
"""The Engine.IO packets a client sends in a polling POST: close, pong, message, upgrade."""
MAX_POLLING_PACKETS = 16
"""Engine.IO's own bound on the packets in one POST (``Payload.max_decode_packets``)."""


def polling_payload_error(body: bytes) -> str | None:
    """Why Engine.IO could not use a polling POST body, or None if it can."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "a polling body must be UTF-8 text"
    if not text:
        return None
    if text.startswith("d="):
        return "JSONP polling is not served"
    packets = text.split("\x1e")
    if len(packets) > MAX_POLLING_PACKETS:
        return f"at most {MAX_POLLING_PACKETS} packets may travel in one polling request"
    for packet in packets:
        if packet.startswith("b"):
            try:
                base64.b64decode(packet[1:], validate=True)
            except ValueError:
                return "a binary packet's base64 is broken"
        elif packet and packet[0] not in CLIENT_PACKETS:
            return f"{packet[:1]!r} is not a packet a client sends (close, pong, message, upgrade)"
        elif (error := engine_io_error(packet)) is not None:
            return error
    return None


def engine_io_error(packet: str) -> str | None:
    """Why a text packet is not one Engine.IO can take safely, or None.

    Engine.IO decodes the data after a packet's type as JSON unless it starts with a
    digit, so ``4[[[...`` nested deep enough is a RecursionError (and a traceback)
    before any guard of Socket.IO's sees it. A client's packets never carry JSON there:
    a Socket.IO message starts with its own digit, and a ping or pong carries ``probe``.
    """
    if not packet or packet[0] not in ENGINE_IO_TYPES:
        return "not an Engine.IO packet"
    data = packet[1:]
    if data and data[0] not in DIGITS and data != "probe":
        return "an Engine.IO packet carries a Socket.IO packet (a digit first) or 'probe'"
    return None


CLOSE_WEBSOCKET = "chatkit.close_websocket"
"""Where `FrameGuard` leaves, in a WebSocket's ASGI scope, a coroutine that closes it."""
ENGINE_IO_TYPES = frozenset("0123456")
"""The first character of every Engine.IO packet (open, close, ping, pong, message...)."""


def is_engine_io(path: str) -> bool:
    """Whether a request is Engine.IO's: it answers ``/socket.io`` as ``/socket.io/``, so
    every guard in front of it must take both for its own."""
    return path == "/socket.io" or path.startswith("/socket.io/")


def _asks_for_jsonp(scope: Scope) -> bool:
    """Whether a polling request asks to be answered as a script (``j=`` in its query):
    script tags send no ``Origin``, so such answers get past the origin check."""
    query = scope.get("query_string", b"")
    return any(part.startswith(b"j=") for part in query.split(b"&"))


async def _refuse_request(send: Send, error: ChatError) -> None:
    """Answer an HTTP request with ``error``, as JSON."""
    answer = json.dumps(error.to_json()).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


class FrameGuard:
    """ASGI middleware: answer a WebSocket text frame that is no Engine.IO packet with an
    ``error`` event, and keep it from Engine.IO, so the connection lives on; answer a
    polling POST body Engine.IO cannot use with a 400 (`polling_payload_error`)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = 1024 * 1024) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        polling = scope["type"] == "http" and is_engine_io(scope["path"])
        if polling and _asks_for_jsonp(scope):
            await _refuse_request(send, BadRequest("JSONP polling is not served"))
            return
        if polling and scope["method"] == "POST":
            await self._polling_post(scope, receive, send)
            return
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        closed = False

        async def guarded_send(message: Message) -> None:
            nonlocal closed
            if closed:
                return  # closed by the server already: Engine.IO's last words go nowhere
            closed = message["type"] == "websocket.close"
            await send(message)

        async def close(reason: str) -> None:
            """Close with code 1008 (policy violation), the reason in the close frame."""
            await guarded_send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})

        scope[CLOSE_WEBSOCKET] = close

        async def checked() -> Message:
            while True:
                message = await receive()
                text = message.get("text") if message["type"] == "websocket.receive" else None
                if text is None or engine_io_error(text) is None:
                    return message
                refusal = BadRequest("the frame is not an Engine.IO packet").to_json()
                log.info("refused a frame that is not Engine.IO")
                await guarded_send(
                    {"type": "websocket.send", "text": "42" + json.dumps([EVENT_ERROR, refusal])}
                )

        await self.app(scope, checked, guarded_send)

    async def _polling_post(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body (bounded), refuse what Engine.IO cannot use, hand on the rest."""
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                error: ChatError | None = TooLarge(
                    f"a polling body can be at most {self.max_body_bytes} bytes"
                )
                break
            if not message.get("more_body", False):
                reason = polling_payload_error(bytes(body))
                error = None if reason is None else BadRequest(reason)
                break
        if error is not None:
            log.info("refused a polling body: %s", error.reason)
            await _refuse_request(send, error)
            return
        whole: Message = {"type": "http.request", "body": bytes(body), "more_body": False}
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return whole

        await self.app(scope, replay, send)
