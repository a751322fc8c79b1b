"""What travels between the live server and its clients, written down once for both.

The names of the events the server emits, the message as one JSON object (the same
over Socket.IO and HTTP), and the one check for a whole number in a JSON payload;
`codec` is the JSON every Socket.IO packet is written in, on both sides.
Both the server and the client transports import this package and nothing of each
other's, so a client never loads the server's storage. Times travel as integer
milliseconds since the Unix epoch (UTC): exact, sortable, and free of time-zone
spelling differences.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TypeGuard

from chatkit.model import ServerMessage

EVENT_MESSAGE = "new_message"
"""A stored message, sent to its chat's room (the sender's own connections included)."""
EVENT_TYPING = "typing"
"""Someone started or stopped typing in a chat."""
EVENT_FAULTS = "faults"
"""The fault switches changed; sent to every connection."""
EVENT_INVITED = "invited"
"""``{"chat_id", "inviter"}``: someone invited this user into a chat; they are in once they
accept (``join`` it, or ``accept_invite {"chat_id"}``), and never without."""
EVENT_DELIVERY = "delivery"
"""Messages from other server processes are delayed (``{"degraded": true, "reason"}``),
or every one missed has now been delivered (``"degraded": false``); ``--redis`` only."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def whole_number(value: object) -> TypeGuard[int]:
    """Whether a JSON value is an integer. ``true`` is not 1 here, though Python's
    ``bool`` is an ``int``: a payload saying ``"limit": true`` is a mistake to report."""
    return isinstance(value, int) and not isinstance(value, bool)


def ms_to_datetime(ms: int) -> datetime:
    """The UTC datetime of a millisecond timestamp, without float rounding."""
    return _EPOCH + timedelta(milliseconds=ms)


_MILLISECOND = timedelta(milliseconds=1)


def datetime_to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (the inverse of `ms_to_datetime`)."""
    return (moment - _EPOCH) // _MILLISECOND


def now_ms() -> int:
    """Milliseconds since the epoch, now: how the server stamps messages, sessions and invites."""
    return time.time_ns() // 1_000_000


def message_to_wire(message: ServerMessage) -> dict[str, object]:
    """The JSON object for a stored message."""
    return {
        "id": message.id,
        "chat_id": message.chat_id,
        "seq": message.seq,
        "client_id": message.client_id,
        "author": message.author,
        "body": message.body,
        "created_at": datetime_to_ms(message.created_at),
    }


def message_from_wire(data: object) -> ServerMessage:
    """Parse a stored message the server sent; raise ValueError if it is not one.

    A client must not trust the wire blindly either: a malformed message becomes a
    clear error here rather than a confusing one deep inside the learner's code.
    """
    if not isinstance(data, dict):
        raise ValueError(f"expected a message object, got {type(data).__name__}")
    fields = _exact_fields(data)
    if fields is not None:  # every message a server sends: no check below can fail
        id_, chat_id, seq, client_id, author, body, created_at = fields
        return ServerMessage(id_, chat_id, seq, client_id, author, body, ms_to_datetime(created_at))
    ints = {name: data.get(name) for name in ("id", "seq", "created_at")}
    texts = {name: data.get(name) for name in ("chat_id", "client_id", "author", "body")}
    for name, value in ints.items():
        if not whole_number(value):
            raise ValueError(f"message field {name!r} must be an integer")
    for name, value in texts.items():
        if not isinstance(value, str):
            raise ValueError(f"message field {name!r} must be text")
    return ServerMessage(
        id=int(data["id"]),
        chat_id=str(data["chat_id"]),
        seq=int(data["seq"]),
        client_id=str(data["client_id"]),
        author=str(data["author"]),
        body=str(data["body"]),
        created_at=ms_to_datetime(int(data["created_at"])),
    )


def _exact_fields(data: dict[object, object]) -> tuple[int, str, int, str, str, str, int] | None:
    """A message's fields if each is exactly an ``int`` or a ``str`` as it must be, else
    None (`message_from_wire` then says what is wrong): every client reads every message
    through here, and checking each field by type alone is a fraction of the cost."""
    id_, seq, created_at = data.get("id"), data.get("seq"), data.get("created_at")
    chat_id, client_id = data.get("chat_id"), data.get("client_id")
    author, body = data.get("author"), data.get("body")
    if (
        type(id_) is int
        and type(seq) is int
        and type(created_at) is int
        and type(chat_id) is str
        and type(client_id) is str
        and type(author) is str
        and type(body) is str
    ):
        return id_, chat_id, seq, client_id, author, body, created_at
    return None
