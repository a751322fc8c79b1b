"""A scripted chat server: nothing happens until the script says so.

A real server answers whenever the network lets it. This one parks every send as a
`Request` and waits for the scenario to decide, step by step, when the message is
stored, when its ack and its echo arrive, whether the ack is lost or the send is
refused. That is what makes every scenario deterministic: the same order of events
on every run, and no clock involved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from chatkit.model import TIMED_OUT, DeliveryError, ServerMessage

SERVER_EPOCH = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
"""The scripted server's clock starts here and moves one second per two stored messages:
a real server stores many messages within one tick of its clock, so two messages with the
same author, words and time are still two messages."""

CLIENT_ID_TAKEN = "that client id is already used by another user's message"
"""The refusal for a client id another user already stored (the live server answers 409)."""

Listener = Callable[[ServerMessage], None]


@dataclass(eq=False)
class Request:
    """One call of `send` that reached the server and waits for the script."""

    chat_id: str
    client_id: str
    body: str
    author: str
    answer: asyncio.Future[ServerMessage] = field(repr=False)

    @property
    def answered(self) -> bool:
        """True once the ack, a refusal or a time-out has been delivered to the caller."""
        return self.answer.done()


class ScriptedServer:
    """The server's side: stored messages, chat members, and the requests waiting."""

    def __init__(self) -> None:
        self.stored: dict[str, list[ServerMessage]] = {}
        self.requests: list[Request] = []
        self._by_client_id: dict[tuple[str, str], ServerMessage] = {}
        self._members: dict[str, list[tuple[str, Listener]]] = {}
        self._next_id = 1
        self.on_request: Callable[[Request], None] | None = None
        """Called as each request arrives, inside the sender's task (the harness listens)."""

    def connect(self, user: str) -> Connection:
        """A connection signed in as ``user``: what that user's client talks to."""
        return Connection(self, user)

    def join(self, chat_id: str, user: str, listener: Listener) -> None:
        """Deliver the chat's echoes to ``listener`` from now on."""
        self._members.setdefault(chat_id, []).append((user, listener))

    # What the script decides.

    def store(self, request: Request) -> ServerMessage:
        """Store the message (once: a client id already stored returns the same copy)."""
        return self.post(request.chat_id, request.author, request.body, request.client_id)

    def post(self, chat_id: str, author: str, body: str, client_id: str) -> ServerMessage:
        """Store a message, idempotently on (chat, client id)."""
        key = (chat_id, client_id)
        existing = self._by_client_id.get(key)
        if existing is not None:
            return existing
        history = self.stored.setdefault(chat_id, [])
        message = ServerMessage(
            id=self._next_id,
            chat_id=chat_id,
            seq=len(history) + 1,
            client_id=client_id,
            author=author,
            body=body,
            created_at=SERVER_EPOCH + timedelta(seconds=(self._next_id - 1) // 2),
        )
        self._next_id += 1
        history.append(message)
        self._by_client_id[key] = message
        return message

    def ack(self, request: Request) -> ServerMessage:
        """Store the message if it is not yet, and answer the sender with it (an answer the
        flow stopped waiting for, by cancelling the request, lands nowhere)."""
        message = self.store(request)
        if not request.answer.done():
            request.answer.set_result(message)
        return message

    def refuse(self, request: Request, reason: str) -> None:
        """Answer the sender with a refusal; nothing is stored."""
        _fail(request, reason)

    def time_out(self, request: Request) -> None:
        """The sender stops waiting (its ack was lost, or is only late)."""
        _fail(request, TIMED_OUT)

    def echo(self, message: ServerMessage, to: str | None = None) -> None:
        """Broadcast a stored message to the chat's members (or to one user only)."""
        for user, listener in list(self._members.get(message.chat_id, [])):
            if to is None or user == to:
                listener(message)

    def find(self, chat_id: str, client_id: str) -> ServerMessage | None:
        """The stored copy of a client's message, if the server has it."""
        return self._by_client_id.get((chat_id, client_id))


class Connection:
    """One signed-in user's view of the scripted server: a `chatkit.ChatServer`."""

    def __init__(self, server: ScriptedServer, user: str) -> None:
        self.server = server
        self.user = user

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        loop = asyncio.get_running_loop()
        request = Request(chat_id, client_id, body, self.user, loop.create_future())
        self.server.requests.append(request)
        if self.server.on_request is not None:
            self.server.on_request(request)
        stored = self.server.find(chat_id, client_id)
        if stored is not None and stored.author != self.user:
            self.server.refuse(request, CLIENT_ID_TAKEN)
        return await request.answer

    async def history(self, chat_id: str) -> list[ServerMessage]:
        """The chat's stored messages. Like any call over the network it gives the event loop
        a turn before it answers, so a send that awaits it has given up control (rule 1)."""
        await asyncio.sleep(0)
        return list(self.server.stored.get(chat_id, []))


def _fail(request: Request, reason: str) -> None:
    """Answer a request with a failure, unless the flow cancelled it (then it lands nowhere)."""
    if not request.answer.done():
        request.answer.set_exception(DeliveryError(reason))
