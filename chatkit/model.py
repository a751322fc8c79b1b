"""The message model: what the client shows, what the server answers, what can go wrong.

A `Message` is one row of the timeline as the *client* sees it. It is mutable on
purpose: reconciling a pending message with the server's copy updates the same row,
so the screen never shows the message twice.

A `ServerMessage` is the server's authoritative copy, from an ack or a realtime echo.
It is frozen: the client never edits the server's word, it only merges it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

_Class = TypeVar("_Class", bound=type)


class Sealed(type):
    """The metaclass of the kit's state classes: once sealed (`seal`), a class cannot change.

    The checks read the state through these classes (`Chat.timeline`, `Message.describe`,
    `ChatState.get`). A flow that replaced one of them would change what the checks see
    rather than what the chat shows, so they refuse to be changed.
    """

    def __setattr__(cls, name: str, value: object) -> None:
        if "_sealed" in cls.__dict__:
            raise TypeError(f"the kit's {cls.__name__} cannot be changed; change your flow instead")
        super().__setattr__(name, value)

    def __delattr__(cls, name: str) -> None:
        if "_sealed" in cls.__dict__:
            raise TypeError(f"the kit's {cls.__name__} cannot be changed; change your flow instead")
        super().__delattr__(name)


def seal(cls: _Class) -> _Class:
    """Class decorator: from now on ``cls`` cannot be changed (see `Sealed`)."""
    type.__setattr__(cls, "_sealed", True)
    return cls


MAX_BODY_CHARS = 2000
"""The longest body a message may have, in characters."""


class Status(enum.StrEnum):
    """Where a message is on its way to the server.

    The only moves are ``pending → sent``, ``pending → failed`` and ``failed → sent``
    (a late ack or echo proves the server stored it after all). ``sent`` is final.
    A retry puts a ``failed`` message back to ``pending`` on purpose.
    """

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@seal
@dataclass(frozen=True, slots=True)
class ServerMessage(metaclass=Sealed):
    """The server's stored copy of a message.

    ``client_id`` is the id the sending client chose; the server echoes it back in
    the ack and in the realtime event, which is how a client recognises its own
    message. ``seq`` orders the messages of one chat.
    """

    id: int
    chat_id: str
    seq: int
    client_id: str
    author: str
    body: str
    created_at: datetime


@seal
@dataclass(slots=True)
class Message(metaclass=Sealed):
    """One row of the client's timeline."""

    client_id: str
    chat_id: str
    author: str
    body: str
    created_at: datetime
    status: Status = Status.PENDING
    server_id: int | None = None
    seq: int | None = None
    error: str | None = None

    @classmethod
    def from_server(cls, incoming: ServerMessage) -> Message:
        """A confirmed row built from the server's copy (someone else's message, say)."""
        return cls(
            client_id=incoming.client_id,
            chat_id=incoming.chat_id,
            author=incoming.author,
            body=incoming.body,
            created_at=incoming.created_at,
            status=Status.SENT,
            server_id=incoming.id,
            seq=incoming.seq,
        )

    def confirm(self, incoming: ServerMessage) -> None:
        """Take the server's id, sequence and timestamp, and mark the row ``sent``."""
        self.server_id = incoming.id
        self.seq = incoming.seq
        self.created_at = incoming.created_at
        self.status = Status.SENT
        self.error = None

    def describe(self) -> str:
        """One line for stories and reports: ``'hi' sent #3`` or ``'hi' failed (offline)``."""
        text = f"{self.body!r} {self.status}"
        if self.status is Status.SENT and self.seq is not None:
            text += f" #{self.seq}"
        if self.status is Status.FAILED:
            text += f" ({self.error or 'no reason given'})"
        return text


TIMED_OUT = "no answer from the server in time"
"""The reason a client gives when it stops waiting for an ack (scripted and live alike)."""


class DeliveryError(Exception):
    """A send did not reach the server, or its answer did not come back in time.

    ``reason`` is written for the person using the chat: it ends up on screen.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidMessage(ValueError):
    """A message body the client refuses to send (empty, blank or too long)."""


def check_body(body: object) -> str:
    """Return ``body`` if it may be sent; raise `InvalidMessage` saying why if not."""
    if not isinstance(body, str):
        raise InvalidMessage(f"a message body must be text, not {type(body).__name__}")
    if not body.strip():
        raise InvalidMessage("a message cannot be empty")
    if len(body) > MAX_BODY_CHARS:
        raise InvalidMessage(
            f"a message can be at most {MAX_BODY_CHARS} characters (this one has {len(body)})"
        )
    return body
