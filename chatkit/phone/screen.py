"""The screen as plain data: what a phone shows, written by the phone, read by the judge.

The phone writes its `ChatState` as a diff against what it wrote last: the rows that
are new or changed (a row is known by a number, one per row object, so two rows with
the same fields stay two rows and one row shown twice stays one), the chats whose
rows, in-flight set or banner changed, and the index when it changed. Every value is
written as what it is: text, a whole number, ``None``, a status, a moment with its
offset; anything else (a subclass, a look-alike, a list where a set belongs) is
written as ``{"$": "its type"}``, and the judge's mirror holds an `Unplain` there, which
the state-shape check refuses with that name.

The judge's `ScreenReader` keeps a mirror `ChatState` of the phone's: real kit rows and
chats built from validated fields, so every check reads plain values the judge made.
Whatever the phone says, the mirror is a screen; a frame that is not one ends the
phone's turn with `ScreenError`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone
from itertools import chain, islice
from typing import Any

from freezegun.api import FakeDatetime

from chatkit.model import MAX_BODY_CHARS, Message, Status
from chatkit.state import Chat, ChatState

ROW_FIELDS = (
    "client_id", "chat_id", "author", "body", "created_at", "status", "server_id", "seq", "error"
)  # fmt: skip
_TEXT_FIELDS = frozenset({"client_id", "chat_id", "author", "body", "error"})
_INT_FIELDS = frozenset({"server_id", "seq"})
MAX_TEXT = 16 * MAX_BODY_CHARS
"""The longest text the phone writes as it is; longer is written as ``{"$": "str"}``."""
_TZINFO = datetime.tzinfo.__get__
_row_values: Callable[[Message], tuple[Any, ...]] = operator.attrgetter(*ROW_FIELDS)


PLAIN_DATETIMES = (datetime, FakeDatetime)
"""What a row's ``created_at`` may be: a plain datetime (freezegun's, when a scenario froze
time), never a subclass of the flow's whose comparisons could say anything."""


class ScreenError(ValueError):
    """A phone wrote something that is not a screen."""


class Unplain:
    """In the judge's mirror, a value the phone's state held that is not plain data."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<a {self.kind}>"


def kind_of(value: object) -> str:
    """The type name a check reports for ``value``: the phone's, for an `Unplain`."""
    return value.kind if isinstance(value, Unplain) else type(value).__name__


# The phone's side.


MAX_WHOLE = 2**63
"""The largest whole number (either side of zero) a row's field crosses the wire as: a
server's ids and seqs are far smaller, and a number longer than JSON may write is not one."""


def plain(value: object) -> object:
    """One value as the wire carries it: text, whole number, None, or ``{"$": type}``."""
    kind = type(value)
    if value is None:
        return value
    if kind is int:
        return value if -MAX_WHOLE <= value <= MAX_WHOLE else {"$": "number too long to read"}  # type: ignore[operator]
    if kind is str:
        return value if len(value) <= MAX_TEXT else {"$": "str"}  # type: ignore[arg-type]
    return {"$": kind.__name__}


def _moment(value: object) -> object:
    """A moment as ``{"t": ISO 8601}``: only the kit's plain datetimes, read by the real
    class's own methods (a look-alike never speaks for itself here)."""
    if type(value) in PLAIN_DATETIMES:
        zone = _TZINFO(value)
        if zone is None or type(zone) is timezone:
            return {"t": datetime.isoformat(value)}  # type: ignore[arg-type]
    return {"$": type(value).__name__}


def _row(row: object, values: tuple[Any, ...] | None) -> list[object] | dict[str, str]:
    if values is None:
        return {"$": type(row).__name__}
    encoded: list[object] = []
    for name, value in zip(ROW_FIELDS, values, strict=True):
        if name == "created_at":
            encoded.append(_moment(value))
        elif name == "status":
            encoded.append(value.value if type(value) is Status else {"$": type(value).__name__})
        else:
            encoded.append(plain(value))
    return encoded


class ScreenWriter:
    """Writes one phone's state as diffs: only what changed since the last one."""

    def __init__(self, state: ChatState) -> None:
        self.state = state
        self._rows: dict[int, tuple[int, object, tuple[Any, ...] | None]] = {}
        """Each row object seen, by ``id``: its number, the object (kept, so no other object
        takes its ``id``), and the field values last written."""
        self._chat_ids: dict[int, tuple[str, object]] = {}
        self._last: dict[int, tuple[object, object, set[str] | None]] = {}
        """Each chat as last written: the chat, its banner, its in-flight set."""
        self._order: list[str] = []
        self._index_ids: tuple[dict[Any, Any], list[str], list[int]] | None = None
        """The index as last read: the dict, its keys, its rows' ids."""
        self._row_lists: dict[int, tuple[list[object], list[int], list[int]]] = {}
        """Each chat's rows as last read: the list, its rows' ids, and their numbers."""
        self._touched: dict[int, object] = {}
        self._flat: dict[int, tuple[list[object], list[object]]] = {}
        """Each chat's rows' fields, flat, as last compared (`_check_fields`)."""
        self._shape: str | None = None
        self._cut_short = False
        """Whether the last diff stopped half-way (`diff`)."""

    def number(self, row: object) -> int | None:
        """The number a row object was written under, or None if it never was."""
        entry = self._rows.get(id(row))
        return entry[0] if entry is not None and entry[1] is row else None

    def key(self, target: object) -> str | None:
        """The judge's name for a row or chat object (for blame), if it was written."""
        number = self.number(target)
        if number is not None:
            return f"r{number}"
        chat = self._chat_ids.get(id(target))
        return f"c{chat[0]}" if chat is not None and chat[1] is target else None

    def touched(self, target: object) -> None:
        """A row's or a chat's field was set: look at it in the next diff."""
        self._touched[id(target)] = target

    def diff(self, *, everything: bool = True) -> dict[str, Any]:
        """What changed since the last diff (`_diff`).

        A diff cut short — by a flow's object that raised as it was read, or by a flow
        calling the server at the very edge of its stack — was never sent, so nothing it
        had noted as written may stand: the next diff writes the whole screen again.
        """
        if self._cut_short:  # no handler for this: it could itself be cut short
            self._forget()
        self._cut_short = True
        written = self._diff(everything)
        self._cut_short = False
        return written

    def just_the_row(self, row: object) -> tuple[int, dict[str, Any]]:
        """A row's number, and a diff that writes just that row as it is now (when it is new
        or changed): what the judge needs of one moment about one row, without reading the
        whole screen (a burst of thousands of sends returns thousands of times)."""
        if self._cut_short:
            self._forget()
        self._cut_short = True
        rows: list[list[object]] = []
        number = self._write(row, rows)
        self._cut_short = False
        return number, ({"rows": rows} if rows else {})

    def _forget(self) -> None:
        """Forget what the judge was last sent (but not the rows' numbers): the next diff
        writes every chat, row and index entry again."""
        self._rows = {key: (number, row, None) for key, (number, row, _) in self._rows.items()}
        self._last.clear()
        self._row_lists.clear()
        self._flat.clear()
        self._index_ids = None
        self._order = []
        self._shape = None

    def _diff(self, everything: bool) -> dict[str, Any]:
        """What changed since the last diff.

        Chats, their row lists, the index and the in-flight sets are compared whole every
        time. With ``everything`` off — a moment within a command, such as a send reaching
        the server — a row's fields are written only if it was touched (`touched`); the
        diff that ends a command (``everything`` on) compares every row's fields again, so
        nothing a flow did, however it did it, is missing from the screen the judge checks
        after each step.
        """
        state = self.state
        chats, index = state.chats, state.messages
        if type(chats) is not dict or type(index) is not dict:
            shape = f"{type(chats).__name__} chats, {type(index).__name__} index"
            if shape == self._shape:
                return {}
            self._shape = shape
            return {"shape": shape}
        self._shape = None
        out: dict[str, Any] = {}
        rows: list[list[object]] = []
        changed: dict[str, object] = {}
        order = list(chats)
        for chat_id, chat in chats.items():
            if type(chat_id) is not str:
                return {"shape": f"a chat keyed by a {type(chat_id).__name__}"}
            encoded = self._chat(chat, rows, everything)
            if encoded:
                changed[chat_id] = encoded
        added_entries = self._index_added(index)
        if added_entries is None:
            return {"shape": "an index keyed by something other than text"}
        if added_entries:
            start, entries = added_entries
            out["index_added" if start else "index"] = [
                [key, self._write(row, rows)] for key, row in entries
            ]
        for target in self._touched.values():
            if self.number(target) is not None:
                self._write(target, rows)
        self._touched.clear()
        if rows:
            out["rows"] = rows
        if changed:
            out["chats"] = changed
        if order != self._order:
            self._order = out["order"] = order
        return out

    def _index_added(
        self, index: dict[Any, Any]
    ) -> tuple[int, list[tuple[str, object]]] | tuple[()] | None:
        """The index entries to write: ``(0, all)`` when it changed other than at its end,
        ``(start, new ones)`` when entries were only added, ``()`` when nothing changed;
        None when a key is not text. Always checked against every entry: a flow may have
        taken one out and put two in, at any moment of a command."""
        known = self._index_ids
        keys_now, objects_now = list(index), list(map(id, index.values()))
        if known is not None and known[0] is index and (keys_now, objects_now) == known[1:]:
            return ()
        if set(map(type, keys_now)) - {str}:
            return None
        start = 0
        if known is not None and known[0] is index:
            size = len(known[1])
            if keys_now[:size] == known[1] and objects_now[:size] == known[2]:
                start = size
        self._index_ids = (index, keys_now, objects_now)
        return start, list(islice(index.items(), start, None))

    def _chat(self, chat: object, rows: list[list[object]], everything: bool) -> object:
        """What changed in one chat: its rows, its in-flight set (as what came and went),
        its banner; or ``{"$": type}`` for something that is not a chat."""
        if type(chat) is not Chat:
            return {"$": type(chat).__name__}
        self._chat_ids[id(chat)] = (chat.id, chat)
        shown, flying, banner = chat.rows, chat.in_flight, chat.error
        last = self._last.get(id(chat))
        encoded: dict[str, object] = {}
        if last is None or last[0] is not chat or banner is not last[1]:
            encoded["error"] = plain(banner)
        if type(shown) is list:
            encoded.update(self._rows_of(id(chat), shown, rows, everything))
        else:
            encoded["rows"] = {"$": type(shown).__name__}
        before = last[2] if last is not None and last[0] is chat else None
        now: set[str] | None = None
        if type(flying) is set:
            if before is None:
                if set(map(type, flying)) <= {str}:
                    now = set(flying)
                    encoded["in_flight"] = sorted(now)
            else:
                came, went = flying - before, before - flying
                if set(map(type, came)) <= {str}:
                    now = before
                    if came or went:
                        now -= went
                        now |= came
                        encoded["in_flight_added"] = sorted(came)
                        encoded["in_flight_gone"] = sorted(went)
        if now is None:
            encoded["in_flight"] = {"$": type(flying).__name__}
        self._last[id(chat)] = (chat, banner, now)
        return encoded

    def _rows_of(
        self, key: int, shown: list[Any], rows: list[list[object]], everything: bool
    ) -> dict[str, object]:
        """A chat's row numbers: the whole list, only the rows added at its end, or nothing
        when it did not change (checked against every row, in C: a flow may have taken one
        out and put two in at any moment of a command)."""
        known = self._row_lists.get(key)
        ids = list(map(id, shown))
        start = 0
        if known is not None and known[0] is shown and ids[: len(known[1])] == known[1]:
            start = len(known[1])
        if everything and start:
            self._check_fields(shown[:start], rows)
        numbers = [self._write(row, rows) for row in shown[start:]]
        all_numbers = (known[2] if start and known else []) + numbers
        self._row_lists[key] = (shown, ids, all_numbers)
        if not start:
            return {"rows": list(all_numbers)}  # a copy: the kept list grows later
        return {"added": numbers, "from": start} if numbers else {}

    def _check_fields(self, shown: list[object], rows: list[list[object]]) -> None:
        """Write again every row whose fields changed, however they were changed.

        Every field of every row is compared by identity in one pass of C (the values
        last written are kept, so an identical object is the same value); only when one
        differs are the rows looked at one by one.
        """
        try:
            flat = list(chain.from_iterable(map(_row_values, shown)))  # type: ignore[arg-type]
        except AttributeError:  # a row that is not a Message: look at each
            flat = None
        known = self._flat.get(id(shown))
        if flat is not None and known is not None and known[0] is shown:
            before = known[1]
            if len(before) <= len(flat) and all(map(operator.is_, flat, before)):
                self._flat[id(shown)] = (shown, flat)
                return
        if flat is not None:
            self._flat[id(shown)] = (shown, flat)
        now = [_row_values(row) if type(row) is Message else None for row in shown]
        for row, values in zip(shown, now, strict=True):
            if values is None:
                continue
            entry = self._rows.get(id(row))
            if entry is None or entry[2] is None or not all(map(operator.is_, values, entry[2])):
                self._write(row, rows)

    def _write(self, row: object, rows: list[list[object]]) -> int:
        """The row's number; its fields go in ``rows`` when new or changed."""
        entry = self._rows.get(id(row))
        values = _row_values(row) if isinstance(row, Message) and type(row) is Message else None
        if entry is not None and entry[1] is row:
            number, _, before = entry
            if values is None or (before is not None and all(map(operator.is_, values, before))):
                return number
        else:
            number = len(self._rows) + 1
        self._rows[id(row)] = (number, row, values)
        rows.append([number, _row(row, values)])
        return number


# The judge's side.


class ScreenReader:
    """The judge's mirror of one phone's state, kept up to date from its diffs."""

    def __init__(self, user: str) -> None:
        self.state = ChatState(user)
        self._rows: dict[int, Message | Unplain] = {}
        self._keys: dict[int, str] = {}

    def row(self, number: object) -> Message | Unplain:
        """The mirror row the phone numbered ``number``."""
        if type(number) is not int or number not in self._rows:
            raise ScreenError(f"a row number the phone never wrote: {number!r}")
        return self._rows[number]

    def status_of(self, number: object) -> object:
        """What the mirror row the phone numbered ``number`` shows (a `Status`, or what
        stands for a status that is not one); None for a row that is not a row."""
        row = self.row(number)
        return row.status if isinstance(row, Message) else None

    def key(self, target: object) -> str | None:
        """The phone's name for a mirror row or chat (how blame names them)."""
        return self._keys.get(id(target))

    def apply(self, diff: object) -> None:
        """Bring the mirror up to the moment ``diff`` was written."""
        if not diff:
            return
        if type(diff) is not dict:
            raise ScreenError("a screen that is not a mapping")
        state = self.state
        shape = diff.get("shape")
        if shape is not None:
            state.chats = Unplain(_text(shape))  # type: ignore[assignment]
            return
        if type(state.chats) is not dict:
            state.chats, state.messages = {}, {}
        for number, fields in _items(diff.get("rows", [])):
            self._apply_row(number, fields)
        chats = diff.get("chats", {})
        if type(chats) is not dict:
            raise ScreenError("chats that are not a mapping")
        for chat_id, encoded in chats.items():
            self._apply_chat(chat_id, encoded)
        order = diff.get("order")
        if order is not None:
            if type(order) is not list or any(chat_id not in state.chats for chat_id in order):
                raise ScreenError("an order of chats that are not all known")
            state.chats = {chat_id: state.chats[chat_id] for chat_id in order}
        index = diff.get("index")
        if index is not None:
            state.messages = {_text(cid): self.row(num) for cid, num in _items(index)}  # type: ignore[misc]
        added = diff.get("index_added")
        if added is not None:
            for client_id, number in _items(added):
                if _text(client_id) in state.messages:
                    raise ScreenError("an index entry added twice")
                state.messages[client_id] = self.row(number)  # type: ignore[index,assignment]

    def _apply_row(self, number: object, fields: object) -> None:
        if type(number) is not int or number <= 0:
            raise ScreenError("a row without a number")
        if type(fields) is dict:
            self._rows[number] = Unplain(_text(fields.get("$")))
            self._keys[id(self._rows[number])] = f"r{number}"
            return
        if type(fields) is not list or len(fields) != len(ROW_FIELDS):
            raise ScreenError("a row that is not one")
        values = [_field(name, value) for name, value in zip(ROW_FIELDS, fields, strict=True)]
        row = self._rows.get(number)
        if isinstance(row, Message):
            for name, value in zip(ROW_FIELDS, values, strict=True):
                setattr(row, name, value)
            return
        row = self._rows[number] = Message(*values)  # type: ignore[arg-type]
        self._keys[id(row)] = f"r{number}"

    def _apply_chat(self, chat_id: object, encoded: object) -> None:
        name = _text(chat_id)
        if type(encoded) is dict and "$" in encoded:
            self.state.chats[name] = Unplain(_text(encoded["$"]))  # type: ignore[assignment]
            return
        if type(encoded) is not dict:
            raise ScreenError("a chat that is not one")
        chat = self.state.chats.get(name)
        if not isinstance(chat, Chat):
            chat = self.state.chats[name] = Chat(name)
            self._keys[id(chat)] = f"c{name}"
        numbers, added = encoded.get("rows"), encoded.get("added")
        if type(added) is list:
            start = encoded.get("from")
            if type(chat.rows) is not list or start != len(chat.rows):
                raise ScreenError("rows added to a chat the judge does not have so")
            chat.rows.extend(self.row(number) for number in added)  # type: ignore[misc]
        elif type(numbers) is list:
            chat.rows = [self.row(number) for number in numbers]  # type: ignore[misc]
        elif numbers is not None:
            chat.rows = _unplain(numbers)  # type: ignore[assignment]
        if "in_flight" in encoded:
            flying = encoded["in_flight"]
            chat.in_flight = (
                {_text(item) for item in flying} if type(flying) is list else _unplain(flying)  # type: ignore[assignment]
            )
        for name, change in (
            ("in_flight_added", set.update),
            ("in_flight_gone", set.difference_update),
        ):
            items = encoded.get(name)
            if items is not None:
                if type(items) is not list or type(chat.in_flight) is not set:
                    raise ScreenError("a change to an in-flight set the judge does not have")
                change(chat.in_flight, map(_text, items))
        if "error" in encoded:
            chat.error = _field("error", encoded["error"])  # type: ignore[assignment]


def _items(pairs: object) -> Iterable[tuple[object, object]]:
    if type(pairs) is not list:
        raise ScreenError("a list that is not one")
    for pair in pairs:
        if type(pair) is not list or len(pair) != 2:
            raise ScreenError("a pair that is not one")
        yield pair[0], pair[1]


def _text(value: object) -> str:
    if type(value) is not str:
        raise ScreenError(f"text expected, not {type(value).__name__}")
    return value


def _unplain(value: object) -> Unplain:
    if type(value) is dict and type(value.get("$")) is str:
        return Unplain(value["$"])
    raise ScreenError("a value that is not one")


def _field(name: str, value: object) -> object:
    """One field of a row, as the judge's mirror holds it."""
    if type(value) is dict:
        if name == "created_at" and type(value.get("t")) is str:
            return _parse_moment(value["t"])
        return _unplain(value)
    if name == "status":
        try:
            return Status(_text(value))
        except ValueError:
            raise ScreenError(f"no such status: {value!r}") from None
    if value is None and name in ("error", "server_id", "seq"):
        return None
    if name in _TEXT_FIELDS and type(value) is str:
        return value
    if name in _INT_FIELDS and type(value) is int:
        return value
    raise ScreenError(f"a row's {name} of the wrong kind")


def _parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ScreenError(f"not a moment: {text!r}") from None
    zone = moment.tzinfo
    if zone is not None:  # rebuilt, so the mirror holds the kit's own kind of offset
        offset = zone.utcoffset(moment) or timedelta(0)
        moment = moment.replace(tzinfo=UTC if not offset else timezone(offset))
    return moment
