"""A run's canonical state: what decides its future, without the random client ids.

Two runs of the same world at the same point (the same events consumed) whose keys
are equal behave the same from there on, so the explorer checks what follows only
once. The judge's key (`CanonicalState`) holds what it saw and knows: the server's
stored messages (as the sends they belong to), the phone's rows, index, flags and
banner as the phone showed them, what the rule watch remembers, and where each send
is. What only the phone can see — where each unfinished send is suspended and what its
locals point at (a row, by its place on screen, or a stale copy, by value), and what the
flow keeps in its modules (values, objects, classes, functions' defaults and closures, and
what it set on chatkit's own classes) — the phone renders the same way
(`chatkit.engine.timelines.hidden.HiddenState`) and numbers: equal numbers for equal hidden
states. Client ids become
the send they belong to (``s0``, ``s1``…, ``bob``), a client clock timestamp becomes
"the client's clock", a server timestamp the id of the server message that carries it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime
from typing import Protocol

from chatkit.engine.rules import WatchMemory
from chatkit.engine.scripted import Request, ScriptedServer
from chatkit.model import Message
from chatkit.state import ChatState

USER = "you"
OTHER = "bob"
CHAT = "general"
OTHER_CLIENT_ID = f"{OTHER}-device-1"
REFUSAL = "the server refused it"


class Names:
    """Client ids as the sends they belong to, rows as their places, server times as ids."""

    def __init__(self) -> None:
        self.sends: dict[str, str] = {OTHER_CLIENT_ID: OTHER}
        """Each client id seen, by the send it belongs to (``s0``, ``s1``…, ``bob``)."""
        self._positions: dict[int, tuple[str, int]] = {}
        self._times: dict[datetime, int] = {}

    def name(self, client_id: str, send: str) -> None:
        """``client_id`` belongs to ``send`` from now on."""
        self.sends[client_id] = send

    def _rename(self, client_id: str) -> str:
        return self.sends.get(client_id, client_id)

    def _screen(
        self, state: ChatState, server: ScriptedServer
    ) -> tuple[tuple[object, ...], tuple[object, ...], tuple[object, ...]]:
        """The chats, the index and the server's stored messages, renamed; notes where each
        row is shown and which server message each server time belongs to."""
        rename = self._rename
        self._times = {
            message.created_at: message.id
            for stored in server.stored.values()
            for message in stored
        }
        positions: dict[int, tuple[str, int]] = {}
        chats = []
        for chat in state.chats.values():
            rows = []
            for number, row in enumerate(chat.rows):
                positions[id(row)] = (chat.id, number)
                rows.append(self._row_key(row))
            flight = tuple(sorted(rename(client_id) for client_id in chat.in_flight))
            chats.append((chat.id, tuple(rows), flight, chat.error))
        index = tuple(
            sorted(
                (rename(client_id), positions.get(id(message)) or self._row_key(message))
                for client_id, message in state.messages.items()
            )
        )
        self._positions = positions
        stored = tuple(
            (chat_id, tuple(rename(message.client_id) for message in messages))
            for chat_id, messages in server.stored.items()
        )
        return tuple(chats), index, stored

    def _row_key(self, row: Message) -> tuple[object, ...]:
        return (
            self._rename(row.client_id),
            row.chat_id,
            row.author,
            row.body,
            row.status,
            row.server_id,
            row.seq,
            row.error,
            self._time(row.created_at),
        )

    def _time(self, moment: datetime) -> object:
        """A server message's id if ``moment`` is its timestamp, else the client's clock."""
        return self._times.get(moment, "the client's clock")


class AttemptLike(Protocol):
    """What the judge's key needs to know of a send (`chatkit.engine.timelines.run`)."""

    @property
    def send(self) -> int: ...

    @property
    def retry(self) -> bool: ...

    @property
    def where(self) -> str: ...

    @property
    def request(self) -> Request | None: ...


class CanonicalState(Names):
    """The judge's canonical state of a run, kept beside it (`Run.canon`) as the run goes.

    It learns which send each client id belongs to as the phone's requests name them
    (`name`), and reads the rest from the judge's mirror, server and watch.
    """

    def key(
        self,
        state: ChatState,
        server: ScriptedServer,
        memory: WatchMemory,
        attempts: Sequence[AttemptLike],
        hidden: object,
    ) -> Hashable:
        """Everything that decides what happens next, minus the random client ids.

        ``memory`` is the watch's, renamed (`WatchMemory.renamed`); ``hidden`` the phone's
        number for what only it can see (`HiddenState`).
        """
        chats, index, stored = self._screen(state, server)
        sends = tuple(
            (attempt.send, attempt.retry, attempt.request is not None, attempt.where)
            for attempt in attempts
        )
        return (chats, index, stored, memory, sends, hidden)

    def rename(self, client_id: str) -> str:
        """The send ``client_id`` belongs to (``s0``…), or the id itself if none."""
        return self._rename(client_id)
