"""Client transports: `chatkit.ChatServer` over the live server's Socket.IO and HTTP.

A learner's flow only knows ``send`` and ``history``. These adapters give it a
real server behind that interface, so the races the scenarios script by hand
happen for real: an echo that beats its ack, an ack that never comes, a
connection that drops with sends in flight.

Every failure a send can meet becomes `chatkit.DeliveryError` with a reason a
person can read, because that is what the flow catches and shows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Literal, Self, overload
from urllib.parse import quote

import httpx
import socketio  # type: ignore[import-untyped]

from chatkit.live.client.heard import HeardSeqs
from chatkit.live.wire import EVENT_FAULTS, EVENT_MESSAGE, EVENT_TYPING, codec, message_from_wire
from chatkit.model import TIMED_OUT, DeliveryError, ServerMessage

log = logging.getLogger("chatkit.live.transports")

DROPPED = "the connection to the server dropped"
NOT_CONNECTED = "not connected to the server"
UNREACHABLE = "could not reach the server"
MAX_HISTORY_PAGES = 10_000
"""A bound on the pages `history` follows: a server that always says "more" cannot loop us."""
HISTORY_PAGE = 500

MessageListener = Callable[[ServerMessage], None]
TypingListener = Callable[[str, str, bool], None]
Reconnected = Callable[[], Awaitable[None]]
FaultsListener = Callable[[dict[str, object]], None]
Disconnected = Callable[[], None]
Event = Literal["message", "ack", "typing", "faults", "reconnect", "disconnect"]
EVENTS: tuple[Event, ...] = ("message", "ack", "typing", "faults", "reconnect", "disconnect")


@dataclass
class Listeners:
    """What `SocketIOTransport.on` registered: one handler per event, or none."""

    message: MessageListener | None = None
    ack: MessageListener | None = None
    typing: TypingListener | None = None
    faults: FaultsListener | None = None
    reconnect: Reconnected | None = None
    disconnect: Disconnected | None = None


class RequestFailed(DeliveryError):
    """The server answered, and the answer was no. ``code`` says which kind of no."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.code = code


def _reply(reply: object) -> Mapping[str, object]:
    """The ack or response body if it says ok; `RequestFailed` with its reason if not."""
    if not isinstance(reply, dict):
        raise RequestFailed("the server sent an answer this client does not understand", "protocol")
    if reply.get("ok") is not True:
        reason = reply.get("error")
        code = reply.get("code")
        raise RequestFailed(
            reason if isinstance(reason, str) and reason else "the server refused the request",
            code if isinstance(code, str) else "error",
        )
    return reply


def _stored(reply: Mapping[str, object]) -> ServerMessage:
    try:
        return message_from_wire(reply.get("message"))
    except ValueError as error:
        raise RequestFailed(f"the server's answer is malformed: {error}", "protocol") from None


def _page(reply: Mapping[str, object]) -> tuple[list[ServerMessage], bool]:
    raw = reply.get("messages")
    if not isinstance(raw, list):
        raise RequestFailed("the server's history answer has no message list", "protocol")
    try:
        return [message_from_wire(item) for item in raw], reply.get("has_more") is True
    except ValueError as error:
        raise RequestFailed(f"the server's history is malformed: {error}", "protocol") from None


async def _every_page(
    fetch: Callable[[int], Awaitable[Mapping[str, object]]], after: int = 0
) -> list[ServerMessage]:
    """Follow history pages forward (``fetch(after_seq)``) until the server says no more."""
    messages: list[ServerMessage] = []
    for _ in range(MAX_HISTORY_PAGES):
        page, more = _page(await fetch(after))
        messages.extend(page)
        if not more or not page:
            return messages
        after = page[-1].seq
    raise RequestFailed("the chat's history did not end", "protocol")


class SocketIOTransport:
    """A `chatkit.ChatServer` over one Socket.IO connection, signed in as one user.

    It signs in with ``password`` (or resumes the session ``token`` names), and
    after a reconnect resumes with the token it got, falling back to the password
    if the session has expired or was signed out.

    What the server tells it goes to the handlers registered with `on`, the way
    python-socketio registers its own (``transport.on("message", client.receive)``).
    Realtime messages (``message``; wire it to `chatkit.client.ChatClient.receive`)
    are handed over one event-loop turn after they arrive, which keeps them in wire
    order relative to acks: an echo that arrived before its ack reaches the flow
    before the ack does, and one that arrived after, after. A message heard again
    after a change of server is handed over once (`chatkit.live.client.heard`).

    A send waits at most ``ack_timeout`` seconds for its ack; signing in and rejoining,
    ``connect_timeout``, like the connection itself. When the connection
    drops, every send still waiting fails at once with a reason, instead of
    sitting out its timeout. The transport reconnects by itself; it then signs in
    again, rejoins its chats and calls the ``reconnect`` handler (the place to resync,
    since messages sent meanwhile were not echoed to it). ``disconnect`` hears
    the drop the moment it happens, and ``faults`` every change of the server's
    fault switches, whoever made it.

    ``fallback_urls`` are other servers of the same chat (``--redis``, one
    database): after a drop each reconnection attempt goes to the next URL in
    turn, so a client of a server that died carries on with another.
    """

    def __init__(
        self,
        url: str,
        user: str,
        *,
        password: str | None = None,
        token: str | None = None,
        ack_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        reconnection: bool = True,
        reconnection_delay: float = 0.2,
        admin_token: str | None = None,
        fallback_urls: Sequence[str] = (),
    ) -> None:
        self.urls = (url, *fallback_urls)
        """The servers this client may connect to; `url` is the one it uses now."""
        self._at = 0
        self._attempts = 0
        self.user = user
        self.admin_token = admin_token
        """The host's token, for `set_faults`; without it the switches can only be watched."""
        self.faults: dict[str, object] = {}
        """The server's fault switches as last heard (at sign-in, then at every change)."""
        self.ack_timeout = ack_timeout
        self.connect_timeout = connect_timeout
        self.listeners = Listeners()
        """The handlers `on` registered."""
        self.password = password
        self.token = token
        self.chats: set[str] = set()
        self.heard = HeardSeqs()
        """The seqs handed on lately; its ``repeats`` counts the messages the servers sent again."""
        self._waiting: set[asyncio.Future[object]] = set()
        self._connected_before = False
        self._restoring: asyncio.Task[None] | None = None
        self.sio = socketio.AsyncClient(
            reconnection=reconnection,
            reconnection_delay=reconnection_delay,
            reconnection_delay_max=max(1.0, reconnection_delay),
            logger=False,
            engineio_logger=False,
            serializer=codec.TextPacket,
            json=codec,
        )
        self.sio.on("connect", handler=self._on_connect)
        self.sio.on("disconnect", handler=self._on_disconnect)
        self.sio.on(EVENT_MESSAGE, handler=self._on_new_message)
        self.sio.on(EVENT_TYPING, handler=self._on_typing)
        self.sio.on(EVENT_FAULTS, handler=self._on_faults)

    # Handlers.

    @overload
    def on(self, event: Literal["message", "ack"], handler: MessageListener | None) -> None: ...

    @overload
    def on(self, event: Literal["typing"], handler: TypingListener | None) -> None: ...

    @overload
    def on(self, event: Literal["faults"], handler: FaultsListener | None) -> None: ...

    @overload
    def on(self, event: Literal["reconnect"], handler: Reconnected | None) -> None: ...

    @overload
    def on(self, event: Literal["disconnect"], handler: Disconnected | None) -> None: ...

    def on(self, event: Event, handler: Callable[..., Any] | None) -> None:
        """Call ``handler`` on ``event`` from now on, in place of the one before (None: none).

        - ``message`` (a `ServerMessage`): a message stored in one of this user's chats,
          their own included, one event-loop turn after it arrives
        - ``ack`` (a `ServerMessage`): the stored message the moment a send's ack arrives,
          before the sender resumes, even if it gave up waiting (for tools that show the
          wire; the flow gets the ack from ``send`` itself)
        - ``typing`` (chat id, user, typing): someone started or stopped typing
        - ``faults`` (the switches): the server's fault switches changed
        - ``reconnect`` (no argument, awaited): signed in again after a drop, chats rejoined
        - ``disconnect`` (no argument): the connection dropped
        """
        if event not in EVENTS:
            raise ValueError(f"no event {event!r}; the events are {', '.join(EVENTS)}")
        match event:
            case "message":
                self.listeners.message = handler
            case "ack":
                self.listeners.ack = handler
            case "typing":
                self.listeners.typing = handler
            case "faults":
                self.listeners.faults = handler
            case "reconnect":
                self.listeners.reconnect = handler
            case "disconnect":
                self.listeners.disconnect = handler

    # Connecting.

    async def connect(self) -> Self:
        """Open the connection and sign in; raise `DeliveryError` if either fails."""
        try:
            await self.sio.connect(
                self._attempt_url,  # python-socketio asks it again at every reconnection
                transports=["websocket"],
                auth=self._auth,
                wait_timeout=self.connect_timeout,
            )
        except (socketio.exceptions.ConnectionError, OSError) as error:
            raise DeliveryError(f"{UNREACHABLE} at {self.url} ({error})") from None
        self._connected_before = True
        try:
            await self._login()
        except BaseException:
            await self.sio.shutdown()
            raise
        return self

    @property
    def url(self) -> str:
        """The server this client is connected to (or will try next)."""
        return self.urls[self._at]

    def _attempt_url(self) -> str:
        """The first attempt goes to ``url``; each later one to the next server in turn."""
        if self._attempts:
            self._at = (self._at + 1) % len(self.urls)
        self._attempts += 1
        return self.url

    async def close(self) -> None:
        """Disconnect for good (no reconnecting)."""
        if self._restoring is not None:
            self._restoring.cancel()
        await self.sio.shutdown()  # disconnects, or stops a reconnection in progress
        self._fail_waiting(DROPPED)

    async def __aenter__(self) -> Self:
        return await self.connect()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return bool(self.sio.connected)

    # What a chat client does.

    async def logout(self) -> None:
        """Sign the session out for good (its token stops working), then disconnect."""
        await self.call("logout", {})
        self.token = None
        await self.close()

    async def create_chat(self) -> tuple[str, str]:
        """A new private chat, joined: its id and its invite code."""
        reply = await self.call("create_chat", {})
        chat_id, code = reply.get("chat_id"), reply.get("invite_code")
        if not isinstance(chat_id, str) or not isinstance(code, str):
            raise RequestFailed("the server did not say which chat it made", "protocol")
        self.chats.add(chat_id)
        return chat_id, code

    async def invite(self, chat_id: str, user: str) -> None:
        """Invite ``user`` into a private chat this user is in: they are in once they
        accept (`join` it). The server answers the same whether or not they exist."""
        await self.call("invite", {"chat_id": chat_id, "user": user})

    async def pending_invites(self) -> list[tuple[str, str]]:
        """The chats this user is invited into and has not answered: (chat id, inviter)."""
        reply = await self.call("invites", {})
        raw = reply.get("invites")
        if not isinstance(raw, list):
            raise RequestFailed("the server did not list the invitations", "protocol")
        return [
            (item["chat_id"], item["inviter"])
            for item in raw
            if isinstance(item, dict)
            and isinstance(item.get("chat_id"), str)
            and isinstance(item.get("inviter"), str)
        ]

    async def decline_invite(self, chat_id: str) -> None:
        await self.call("decline_invite", {"chat_id": chat_id})

    async def new_invite_code(self, chat_id: str) -> str:
        reply = await self.call("new_invite", {"chat_id": chat_id})
        code = reply.get("invite_code")
        if not isinstance(code, str):
            raise RequestFailed("the server did not give an invite code", "protocol")
        return code

    async def accept_invite(self, code: str) -> str:
        """Join the private chat an invite code opens; its id."""
        reply = await self.call("accept_invite", {"code": code})
        chat_id = reply.get("chat_id")
        if not isinstance(chat_id, str):
            raise RequestFailed("the server did not say which chat the code opens", "protocol")
        self.chats.add(chat_id)
        return chat_id

    async def join(self, chat_id: str) -> None:
        await self.call("join", {"chat_id": chat_id})
        self.chats.add(chat_id)

    async def leave(self, chat_id: str) -> None:
        self.chats.discard(chat_id)
        await self.call("leave", {"chat_id": chat_id})

    async def typing(self, chat_id: str, typing: bool = True) -> None:
        await self.call("typing", {"chat_id": chat_id, "typing": typing})

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        """Deliver a message and return the server's copy (`chatkit.ChatServer.send`)."""
        reply = await self.call(
            "send",
            {"chat_id": chat_id, "client_id": client_id, "body": body},
            on_arrival=self._ack_arrived,
        )
        return _stored(reply)

    async def history(self, chat_id: str, *, after: int = 0) -> list[ServerMessage]:
        """Every stored message of the chat (past ``after``), in server order, paging forward."""
        return await _every_page(
            lambda after: self.call(
                "history", {"chat_id": chat_id, "after": after, "limit": HISTORY_PAGE}
            ),
            after,
        )

    async def older(
        self, chat_id: str, *, before: int | None = None, limit: int = HISTORY_PAGE
    ) -> tuple[list[ServerMessage], bool]:
        """One page back: the newest ``limit`` messages below seq ``before`` (or the newest
        of all), oldest first, and whether the server holds older ones still."""
        payload: dict[str, object] = {"chat_id": chat_id, "limit": limit}
        if before is not None:
            payload["before"] = before
        return _page(await self.call("history", payload))

    async def set_faults(self, **changes: object) -> dict[str, object]:
        """Change the server's fault switches (none given: read them); the host's only."""
        reply = await self.call("faults", {"admin_token": self.admin_token, **changes})
        faults = reply.get("faults")
        return dict(faults) if isinstance(faults, dict) else {}

    async def call(
        self,
        event: str,
        payload: object,
        *,
        on_arrival: Callable[[object], None] | None = None,
        timeout: float | None = None,
    ) -> Mapping[str, object]:
        """Emit an event and wait for its ack (at most ``timeout`` seconds, by default
        ``ack_timeout``).

        Not `AsyncClient.call`: that one sits out its whole timeout when the
        connection drops. Here a drop fails the wait at once. ``on_arrival`` sees
        the ack the moment it arrives, even if the caller has stopped waiting.
        """
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._waiting.add(future)
        try:
            try:
                await self.sio.emit(
                    event, payload, callback=partial(self._acked, future, on_arrival)
                )
            except (socketio.exceptions.SocketIOError, OSError):
                raise DeliveryError(NOT_CONNECTED) from None
            try:
                async with asyncio.timeout(self.ack_timeout if timeout is None else timeout):
                    reply = await future
            except TimeoutError:
                raise DeliveryError(TIMED_OUT) from None
        finally:
            self._waiting.discard(future)
        return _reply(reply)

    # Plumbing.

    def _auth(self) -> dict[str, str]:
        """Sent on every (re)connection: a known token resumes the session and its rooms."""
        return {"token": self.token} if self.token else {}

    async def _login(self) -> None:
        """Resume the session if there is one, else sign in with the password."""
        if self.token:
            try:
                reply = await self._setup_call("login", {"token": self.token})
            except RequestFailed as refused:
                if refused.code != "not_registered" or self.password is None:
                    raise
                self.token = None  # expired or signed out: sign in afresh
            else:
                self._signed_in(reply)
                return
        if self.password is None:
            raise RequestFailed("sign in first: this client has no password", "not_registered")
        credentials = {"user": self.user, "password": self.password}
        self._signed_in(await self._setup_call("login", credentials))

    async def _setup_call(self, event: str, payload: object) -> Mapping[str, object]:
        """A call of the connection's own set-up (sign-in, rejoining), bounded like the
        connection by ``connect_timeout``: a short ``ack_timeout`` is for sends, and a
        server slow to check a password must not fail the connection."""
        return await self.call(event, payload, timeout=self.connect_timeout)

    def _signed_in(self, reply: Mapping[str, object]) -> None:
        user, token = reply.get("user"), reply.get("token")
        if user != self.user:
            raise RequestFailed(f"the server signed this client in as {user!r}", "protocol")
        if not isinstance(token, str):
            raise RequestFailed("the server did not give a session token", "protocol")
        self.token = token
        self._on_faults(reply)

    @staticmethod
    def _acked(
        future: asyncio.Future[object],
        on_arrival: Callable[[object], None] | None,
        *args: object,
    ) -> None:
        reply = args[0] if args else None
        if on_arrival is not None:
            on_arrival(reply)
        if not future.done():  # the sender may have given up already
            future.set_result(reply)

    def _ack_arrived(self, reply: object) -> None:
        on_ack = self.listeners.ack
        if on_ack is None or not isinstance(reply, dict) or reply.get("ok") is not True:
            return
        try:
            message = message_from_wire(reply.get("message"))
        except ValueError:
            return  # send() reports the malformed answer to its caller
        on_ack(message)

    def _fail_waiting(self, reason: str) -> None:
        for future in list(self._waiting):
            if not future.done():
                future.set_exception(DeliveryError(reason))

    def _on_connect(self) -> None:
        if self._connected_before:  # a reconnection: sign in and rejoin, off this handler
            self._restoring = asyncio.get_running_loop().create_task(self._restore())

    def _on_disconnect(self, reason: object = None) -> None:
        self._fail_waiting(DROPPED)
        if self.listeners.disconnect is not None:
            self.listeners.disconnect()

    async def _restore(self) -> None:
        try:
            await self._login()
            for chat_id in sorted(self.chats):
                await self._setup_call("join", {"chat_id": chat_id})
            if self.listeners.reconnect is not None:
                await self.listeners.reconnect()
        except DeliveryError as error:
            log.warning("could not restore the session after reconnecting: %s", error.reason)

    def _on_new_message(self, data: object) -> None:
        try:
            message = message_from_wire(data)
        except ValueError as error:
            log.warning("ignored a malformed message from the server: %s", error)
            return
        if not self.heard.first(message.chat_id, message.seq):
            return
        if self.listeners.message is not None:
            asyncio.get_running_loop().call_soon(self.listeners.message, message)

    def _on_typing(self, data: object) -> None:
        on_typing = self.listeners.typing
        if on_typing is None or not isinstance(data, dict):
            return
        chat_id, user, typing = data.get("chat_id"), data.get("user"), data.get("typing")
        if isinstance(chat_id, str) and isinstance(user, str) and isinstance(typing, bool):
            on_typing(chat_id, user, typing)

    def _on_faults(self, data: object) -> None:
        faults = data.get("faults") if isinstance(data, Mapping) else None
        if not isinstance(faults, dict):
            return
        self.faults = dict(faults)
        if self.listeners.faults is not None:
            self.listeners.faults(dict(faults))


class HttpTransport:
    """A `chatkit.ChatServer` over the HTTP endpoints: the fallback transport.

    It carries no realtime events; pair it with a `SocketIOTransport` in a
    `chatkit.failover.FailoverServer` and give it the same session token
    (``HttpTransport(url, token=socket.token)``), so both speak for the same
    device with the same chats.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 5.0,
        client: httpx.AsyncClient | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.admin_token = admin_token
        self.timeout = timeout
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._owns_client = client is None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def login(self, user: str, password: str) -> str:
        """Sign in over HTTP alone; returns (and keeps) the session token."""
        payload = {"user": user, "password": password}
        reply = await self._request("POST", "/api/login", payload, auth=False)
        token = reply.get("token")
        if not isinstance(token, str):
            raise RequestFailed("the server did not give a session token", "protocol")
        self.token = token
        return token

    async def logout(self) -> None:
        """Sign the session out for good: its token stops working, on every transport."""
        await self._request("POST", "/api/logout")
        self.token = None

    async def join(self, chat_id: str) -> None:
        await self._request("POST", f"/api/chats/{_quote(chat_id)}/join")

    async def create_chat(self) -> tuple[str, str]:
        """A new private chat: its id and its invite code."""
        reply = await self._request("POST", "/api/chats")
        chat_id, code = reply.get("chat_id"), reply.get("invite_code")
        if not isinstance(chat_id, str) or not isinstance(code, str):
            raise RequestFailed("the server did not say which chat it made", "protocol")
        return chat_id, code

    async def invite(self, chat_id: str, user: str) -> None:
        await self._request("POST", f"/api/chats/{_quote(chat_id)}/invite", {"user": user})

    async def accept_invite(self, code: str) -> str:
        reply = await self._request("POST", "/api/invites", {"code": code})
        chat_id = reply.get("chat_id")
        if not isinstance(chat_id, str):
            raise RequestFailed("the server did not say which chat the code opens", "protocol")
        return chat_id

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        reply = await self._request(
            "POST", f"/api/chats/{_quote(chat_id)}/messages", {"client_id": client_id, "body": body}
        )
        return _stored(reply)

    async def history(self, chat_id: str) -> list[ServerMessage]:
        return await _every_page(
            lambda after: self._request(
                "GET",
                f"/api/chats/{_quote(chat_id)}/messages",
                params={"after": after, "limit": HISTORY_PAGE},
            )
        )

    async def set_faults(self, **changes: object) -> dict[str, object]:
        reply = await self._request("PUT", "/api/faults", dict(changes), bearer=self.admin_token)
        faults = reply.get("faults")
        return dict(faults) if isinstance(faults, dict) else {}

    async def _request(
        self,
        method: str,
        path: str,
        payload: object = None,
        *,
        params: Mapping[str, int] | None = None,
        auth: bool = True,
        bearer: str | None = None,
    ) -> Mapping[str, object]:
        """One request; ``bearer`` replaces the session token (the admin token, say)."""
        credential = bearer or (self.token if auth else None)
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        try:
            response = await self._client.request(
                method,
                self.base_url + path,
                json=payload,
                params=params,
                headers=headers,
                timeout=self.timeout,
            )
        except httpx.TimeoutException:
            raise DeliveryError(TIMED_OUT) from None
        except httpx.HTTPError as error:
            raise DeliveryError(f"{UNREACHABLE} ({type(error).__name__})") from None
        try:
            reply = response.json()
        except ValueError:
            raise RequestFailed(
                f"the server answered HTTP {response.status_code} without JSON", "protocol"
            ) from None
        return _reply(reply)


def _quote(part: str) -> str:
    return quote(part, safe="")
