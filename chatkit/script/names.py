"""The names the judge and the phones give what a timeline is about: the two people and the
chat of the explorer's small worlds, and `Names`, which writes a run's client ids as the
sends they belong to, rows as their places, and server times as the messages that carry
them. The judge's key (`chatkit.engine.timelines.canon`) and the phone's
(`chatkit.phone.hidden`) both start from it, so equal runs get equal keys on both sides.
"""

from __future__ import annotations

from datetime import datetime, timezone

from chatkit.model import Message
from chatkit.script.server import ScriptedServer
from chatkit.state import ChatState

_PLAIN_ZONES = (type(None), timezone)
"""The zones whose offsets Python itself works out (no code of a flow's runs)."""

CLIENT_CLOCK = "the client's clock"
"""How a key writes a time no server message carries: one the client stamped itself."""

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
        """A server message's id if ``moment`` is its timestamp, else the client's clock.

        Only a plain datetime, in UTC or a fixed zone, is looked up: hashing anything else
        would run its class's code, or its zone's."""
        if type(moment) is not datetime or type(moment.tzinfo) not in _PLAIN_ZONES:
            return CLIENT_CLOCK
        return self._times.get(moment, CLIENT_CLOCK)
