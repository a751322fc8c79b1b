"""The chat state a screen renders: rows, an index by client id, and per-chat flags.

This is deliberately a plain container. It stores what it is told and never
deduplicates, reorders statuses or cleans up by itself — deciding those is the
learner's job in `send`, `reconcile` and `rollback`, and the scenarios check the
result through `Chat.timeline`, `Chat.sending` and `Chat.error`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chatkit.model import Message, Sealed, Status, seal


@seal
@dataclass(slots=True)
class Chat(metaclass=Sealed):
    """One conversation as the client holds it."""

    id: str
    rows: list[Message] = field(default_factory=list)
    """Every row shown for this chat, in the order they were added."""
    in_flight: set[str] = field(default_factory=set)
    """Client ids of this chat's sends that are not settled yet (neither sent nor failed)."""
    error: str | None = None
    """The error banner: the latest failure's reason, until a later send succeeds."""

    @property
    def sending(self) -> bool:
        """True while any send in this chat is unsettled: the "sending…" indicator."""
        return bool(self.in_flight)

    def timeline(self) -> list[Message]:
        """The rows as the screen shows them.

        Confirmed messages first, in server order; then the unconfirmed ones
        (pending or failed) in the order they were added.
        """
        return sorted(self.rows, key=_timeline_key)


def _timeline_key(message: Message) -> tuple[int, int]:
    if message.status is Status.SENT and message.seq is not None:
        return (0, message.seq)
    return (1, 0)  # sorted() is stable, so unconfirmed rows keep the order they were added


@seal
class ChatState(metaclass=Sealed):
    """Everything one signed-in user's client shows, across all their chats."""

    __slots__ = ("chats", "messages", "user")

    def __init__(self, user: str) -> None:
        self.user = user
        """The signed-in user: the author of every message this client sends."""
        self.chats: dict[str, Chat] = {}
        self.messages: dict[str, Message] = {}
        """The index: every row, by client id. Looking a message up here is O(1)."""

    def chat(self, chat_id: str) -> Chat:
        """The chat with this id, created empty the first time it is asked for."""
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = self.chats[chat_id] = Chat(chat_id)
        return chat

    def get(self, client_id: str) -> Message | None:
        """The row with this client id, or None if the client has never shown it."""
        return self.messages.get(client_id)

    def add(self, message: Message) -> None:
        """Show a new row in its chat and index it by client id.

        `add` does not check for an existing row with the same client id: call it
        only for a message the client is not showing yet.
        """
        self.chat(message.chat_id).rows.append(message)
        self.messages[message.client_id] = message

    def drop_confirmed(self, chat_id: str) -> None:
        """Forget a chat's confirmed rows, before reloading its history from the server."""
        chat = self.chat(chat_id)
        for row in chat.rows:
            if row.status is Status.SENT:
                self.messages.pop(row.client_id, None)
        chat.rows = [row for row in chat.rows if row.status is not Status.SENT]

    def timeline(self, chat_id: str) -> list[Message]:
        """Shorthand for ``state.chat(chat_id).timeline()``."""
        return self.chat(chat_id).timeline()
