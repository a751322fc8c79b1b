"""The design's rules, and a watcher that checks them after every event.

The scenarios and the timeline explorer both drive a client through events one at a
time. After each, `RuleWatch.check` compares what the client shows with what the
server really stored and with what the client was shown before, and raises
`RuleBroken` naming the first rule that no longer holds.
"""

from __future__ import annotations

import enum
import math
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from chatkit.blame import CREATED, Blame
from chatkit.model import Message, ServerMessage, Status
from chatkit.phone.screen import PLAIN_DATETIMES, kind_of
from chatkit.state import Chat, ChatState


class Rule(enum.Enum):
    """A rule of a correct implementation, numbered and named as in the design.

    Rules 1–14 are the design's. 15 and 16 are the kit's own, for what the design
    takes for granted: every send finishes, and an event costs the same however long
    the history.
    """

    INSTANT = (1, "Instant", "send")
    IDENTITY = (2, "Identity", "reconcile")
    EXACTLY_ONCE = (3, "Exactly once", "reconcile")
    MONOTONIC = (4, "Monotonic status", "reconcile")
    SERVER_TRUTH = (5, "The server is the truth", "reconcile")
    KEEP_WORDS = (6, "Rollback keeps the user's words", "rollback")
    LOADING_AND_ERRORS = (7, "Loading and errors", "rollback")
    IDEMPOTENT_RETRY = (8, "Retry is idempotent", "send")
    OTHERS = (9, "Others' messages", "reconcile")
    UNIQUE_IDS = (10, "Unique ids", "send")
    BAD_INPUT = (11, "Bad input", "send")
    RESYNC = (12, "Resync keeps what is unconfirmed", "reconcile")
    NO_TEXT_MATCHING = (13, "No text matching", "reconcile")
    BOOKKEEPING = (14, "Bookkeeping is cleaned", "send")
    FINISHES = (15, "Every send finishes", "send")
    FAST = (16, "Constant time per event", "reconcile")

    def __init__(self, number: int, title: str, function: str) -> None:
        self.number = number
        self.title = title
        self.function = function
        """Which of the learner's functions this rule is mostly about."""

    def __str__(self) -> str:
        return f"rule {self.number}, {self.title}"


BannerSeen = tuple[Status, str | None]
"""A row as the banner last saw it: its status and failure reason."""

STATUS_FIELDS = ("status", "error", "seq", "server_id", "created_at")
"""The fields of a row that confirming it or failing it changes."""


class RuleBroken(AssertionError):
    """A rule stopped holding. Carries what the grader needs to explain it."""

    def __init__(
        self,
        rule: Rule,
        detail: str,
        *,
        expected: list[str] | None = None,
        actual: list[str] | None = None,
        about: tuple[object, ...] = (),
        fields: tuple[str, ...] = STATUS_FIELDS,
        blame: Blame | None = None,
        function: str | None = None,
        returned: bool = False,
    ) -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule = rule
        self.detail = detail
        self.expected = expected
        self.actual = actual
        self.about = about
        """The rows and chats the rule is about: whoever changed them last is to blame."""
        self.fields = fields
        """Which of their fields count for the blame."""
        self.blame = blame
        """Where the learner's code made the bad change, once the harness knows."""
        self.function = function
        """The flow function at fault, where the harness knows which but not the line
        (without either, the rule's own function is named)."""
        self.returned = returned
        """A send that did return, with its row not settled as it should be (rule 15): the
        mistake is at its ``return``, not a send stuck waiting."""


class StateShapeError(TypeError):
    """The flow put something into the state that is not what the kit's screen shows.

    The checks read the state as plain rows, sets and strings; a look-alike (a list
    subclass, a row of another class) could tell them something other than the truth.
    Like `RuleBroken`, it says which row or chat holds it, for the harness to blame.
    """

    def __init__(
        self, detail: str, *, about: tuple[object, ...] = (), fields: tuple[str, ...] = ()
    ) -> None:
        super().__init__(detail)
        self.about = about
        self.fields = fields
        self.blame: Blame | None = None


def check_state_shape(state: ChatState) -> None:
    """Raise `StateShapeError` unless the state holds exactly the kit's own kinds of values."""
    if type(state.chats) is not dict or type(state.messages) is not dict:
        raise StateShapeError("state.chats and state.messages must stay plain dicts")
    if any(type(row) is not Message for row in state.messages.values()):
        raise StateShapeError("state.messages must map each client id to its Message row")
    for chat in state.chats.values():
        if type(chat) is not Chat or type(chat.rows) is not list or type(chat.in_flight) is not set:
            raise StateShapeError(
                "each chat must stay a Chat, with a plain list of rows and a plain set in_flight"
            )
        if chat.error is not None and type(chat.error) is not str:
            raise StateShapeError(
                "a chat's error banner must be text or None", about=(chat,), fields=("error",)
            )
        for row in chat.rows:
            if type(row) is not Message:
                raise StateShapeError(
                    f"a row must be a Message, not a {kind_of(row)}",
                    about=(chat,),
                    fields=("rows",),
                )
            wrong = _wrong_field(row)
            if wrong is not None:
                name, must = wrong
                row_name = f"the row {row.body!r}" if type(row.body) is str else "a row"
                raise StateShapeError(
                    f"{row_name} holds a {kind_of(getattr(row, name))} in {name}: it must be {must}",
                    about=(row,),
                    fields=(name,),
                )


_ROW_FIELDS: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("client_id", lambda value: type(value) is str, "a str"),
    ("chat_id", lambda value: type(value) is str, "a str"),
    ("author", lambda value: type(value) is str, "a str"),
    ("body", lambda value: type(value) is str, "a str"),
    ("status", lambda value: type(value) is Status, "a Status"),
    (
        "created_at",
        lambda value: (
            type(value) in PLAIN_DATETIMES
            and (value.tzinfo is None or type(value.tzinfo) is timezone)
        ),
        "a plain datetime, its zone a datetime.timezone (UTC, say)",
    ),
    ("server_id", lambda value: value is None or type(value) is int, "an int or None"),
    ("seq", lambda value: value is None or type(value) is int, "an int or None"),
    ("error", lambda value: value is None or type(value) is str, "a str or None"),
)
"""Each field of a row, what holds for a value of the right kind, and what that kind is."""


def _wrong_field(row: Message) -> tuple[str, str] | None:
    """The first field of ``row`` holding a value of the wrong kind, and what it must be."""
    for name, plain, must in _ROW_FIELDS:
        if not plain(getattr(row, name)):
            return name, must
    return None


def check_shown_before_first_await(
    state: ChatState, body: str, chat_id: str, retry_of: str | None, shown_before: int
) -> None:
    """Rule 1, the moment a send first gives the event loop a turn without having reached
    the server: its message must already be on screen as pending (checked in O(1)).

    A retry's row is the failed one, pending again. A new message is the newest entry of
    the state's index, which every row must be in; ``shown_before`` is the index's size
    when the send began.
    """
    row: Message | None = None
    if retry_of is not None:
        row = state.get(retry_of)
    elif len(state.messages) > shown_before:
        row = state.messages[next(reversed(state.messages))]
    chat = state.chats.get(chat_id)
    if (
        row is None
        or chat is None
        or (row.body, row.chat_id) != (body, chat_id)
        or not _shown_pending(row, chat)
    ):
        raise RuleBroken(
            Rule.INSTANT,
            f"your send of {body!r} awaited something before the message was on screen as "
            "pending; show it first, then await",
        )
    check_sending_shown(chat, row)


def _shown_pending(row: Message, chat: Chat) -> bool:
    """The row is pending and on the chat's screen (looked for from the end: a new row is
    usually last)."""
    return row.status is Status.PENDING and any(shown is row for shown in reversed(chat.rows))


def check_sending_shown(chat: Chat, row: Message) -> None:
    """Rule 7, whenever a send gives up control with its row pending: the chat says
    "sending…" (the row's client id is in ``in_flight``)."""
    if row.client_id not in chat.in_flight:
        raise RuleBroken(
            Rule.LOADING_AND_ERRORS,
            f"{row.body!r} was on screen as pending, but the chat did not say sending…: put "
            "its client id in in_flight before the send awaits anything",
            about=(chat, row),
            fields=("in_flight", "status"),
        )


def check_pending_on_screen(
    state: ChatState, client_id: str, chat_id: str, body: str, sent_body: str
) -> None:
    """Rule 1, when a send reaches the server: its row is on screen, pending, saying "sending…";
    and rule 6: the words shown and sent are exactly the ones typed (``body``)."""
    if sent_body != body:
        raise RuleBroken(
            Rule.KEEP_WORDS,
            f"you typed {body!r}, but the server was sent {sent_body!r}; send the user's "
            "words exactly as typed",
        )
    row = state.get(client_id)
    chat = state.chats.get(chat_id)
    if row is None or chat is None or not _shown_pending(row, chat):
        raise RuleBroken(
            Rule.INSTANT,
            f"when {body!r} reached the server it was not on screen as pending; "
            "show it before you await the server",
        )
    check_typed(row, body, "show the user's words exactly as typed", fields=CREATED)
    check_sending_shown(chat, row)


def check_typed(row: Message, typed: str, advice: str, *, fields: tuple[str, ...]) -> None:
    """Rule 6: ``row`` shows the words typed (``advice`` says what to do when it does not;
    ``fields`` are those whose change the story blames)."""
    if row.body != typed:
        raise RuleBroken(
            Rule.KEEP_WORDS,
            f"you typed {typed!r}, but the row shows {row.body!r}; {advice}",
            about=(row,),
            fields=fields,
        )


def check_new_id(
    body: str, earlier: str | None, *, client_id: str | None = None, sender: str = "you"
) -> None:
    """Rule 10: a new message's client id is one no earlier message used.

    ``earlier`` says which message used it first ("your earlier message 'hi'"), or is
    None if none did. ``client_id`` is shown when given: where ids are seeded, it tells
    the learner how the id was made ('msg-1' is a counter). ``sender`` names whose phone
    sent the new message: when it is not the phone of the earlier one, the clash is
    between two copies of the learner's code, which the message says.
    """
    if earlier is not None:
        which = "the client id" if client_id is None else f"client id {client_id!r}"
        sent = (
            f"{body!r} was sent with"
            if sender == "you"
            else f"{_phone_of(sender)} sent {body!r} with"
        )
        phones = sender != "you" or not earlier.startswith("your")
        raise RuleBroken(
            Rule.UNIQUE_IDS,
            f"{sent} {which} of {earlier}; every new message needs an id of its own, even "
            "with the same words"
            + (
                ". Each phone runs its own copy of your flow.py, so the id must be unique "
                "among everyone's messages, not only one phone's"
                if phones
                else ""
            ),
        )


ID_SAMPLE = 8
"""How many new ids of one phone `check_id_room` looks at together."""
ID_BITS = 60
"""The fewest bits of room a phone's ids must have: below it, ids drawn on millions of
devices meet (8 hex digits give 32 bits: 77,000 ids make a clash more likely than not).
A random 64-bit number written in decimal is counted at 63 bits."""

DEVICE_BITS = 40
"""The fewest bits of room a part every id of one phone shares needs to count as that
device's own id (drawn once, like `uuid.uuid1`'s 48-bit node): it then tells this phone's
ids from every other device's, and what varies only has to tell the phone's own apart."""
_ALPHABETS = tuple(
    frozenset(chars)
    for chars in (
        string.digits,
        string.digits + "abcdef",
        string.digits + "ABCDEF",
        string.digits + string.ascii_lowercase,
        string.digits + string.ascii_uppercase,
        string.digits + string.ascii_letters,
        string.digits + string.ascii_letters + "-_",
        string.printable,
    )
)
"""The usual alphabets of ids, smallest first (a union of chars fits the first that holds it)."""


def id_room_bits(ids: list[str], others: Sequence[str] = ()) -> float:
    """A generous estimate of how many different ids a phone's way of making them allows.

    What the ids share (a start, an end, or, in ids of one length, any run of places) is a
    device's own random id when it could be one (room for 2^`DEVICE_BITS` by itself, with
    a digit in it) and no other phone's ids (``others``) have it in the same place: a way to
    make ids unique, so it counts. Otherwise it is a tag (a name, "msg-", the chat's id, a
    constant written in the flow, the time on a frozen clock) and carries nothing. What
    varies is counted at its longest (in ids of one length, the places that vary), in the
    smallest usual alphabet that holds every character used there. It overestimates (a
    counter looks as roomy as random digits), so a phone whose ids it finds short has too
    few of them, whatever its way of making them.
    """
    if len(ids) > 1 and len(set(map(len, ids))) == 1:
        return _room_by_place(ids, others)
    start = _shared_start(ids)
    rest = [each[len(start) :] for each in ids]
    end = _shared_start([each[::-1] for each in rest])[::-1]
    varying = [each[: len(each) - len(end)] for each in rest]
    mine = [
        part
        for part, elsewhere in (
            (start, any(other.startswith(start) for other in others)),
            (end, any(other.endswith(end) for other in others)),
        )
        if part and not elsewhere
    ]
    return _room(varying) + _device_room(mine)


def _room_by_place(ids: list[str], others: Sequence[str]) -> float:
    """`id_room_bits` of ids of one length: the places that vary, and the runs of places
    that do not (but for those another phone's ids of that length have too)."""
    same_length = [other for other in others if len(other) == len(ids[0])]
    varying: list[tuple[str, ...]] = []
    runs: list[str] = []
    run, run_start = "", 0
    for place, column in enumerate(zip(*ids, strict=True)):
        if len(set(column)) > 1:
            varying.append(column)
            runs.append(_own_run(run, run_start, same_length))
            run, run_start = "", place + 1
        else:
            run += column[0]
    runs.append(_own_run(run, run_start, same_length))
    chars = "".join("".join(column) for column in varying)
    return len(varying) * _bits_per_char(chars) + _device_room(runs)


def _own_run(run: str, start: int, others: list[str]) -> str:
    """``run`` (from place ``start``), or nothing if another phone's id has it there too."""
    if any(other[start : start + len(run)] == run for other in others):
        return ""
    return run


def _device_room(parts: list[str]) -> float:
    """The room of the shared parts that could be a device's own random id."""
    return sum(_room([part]) for part in parts if _could_be_a_device(part))


def _shared_start(texts: list[str]) -> str:
    first, last = min(texts, default=""), max(texts, default="")  # they differ where all do
    pairs = enumerate(zip(first, last, strict=False))
    return first[: next((k for k, (a, b) in pairs if a != b), len(first))]


def _could_be_a_device(part: str) -> bool:
    return _room([part]) >= DEVICE_BITS and any(char.isdigit() for char in part)


def _room(texts: list[str]) -> float:
    """Bits of room in ``texts``: the longest, in the smallest usual alphabet holding them all."""
    return max(map(len, texts), default=0) * _bits_per_char("".join(texts))


def _bits_per_char(chars: str) -> float:
    """The bits of one character of the smallest usual alphabet holding all of ``chars``."""
    alphabet = next((len(usual) for usual in _ALPHABETS if set(chars) <= usual), 2**16)
    return math.log2(max(alphabet, 2))


def check_id_room(ids: list[str], others: Sequence[str] = ()) -> None:
    """Rule 10, across devices: a phone's new client ids have room for at least 2^`ID_BITS`
    values, so ids made on all the devices that write to a chat never meet. ``others``:
    the new ids other phones made, to tell a device's own id from a constant."""
    bits = id_room_bits(ids, others)
    if bits < ID_BITS:
        raise RuleBroken(
            Rule.UNIQUE_IDS,
            f"your client ids look like {ids[0]!r} and {ids[1]!r}: that way of making them "
            f"has room for about 2^{int(bits)} different ids. Every device that writes to "
            "a chat makes ids, and two of them meeting makes the server take one message "
            f"for another; an id needs room for 2^{ID_BITS} or more, like a random id of "
            "16 hex digits or more",
        )


def check_returned_row(body: str, shown: object, *, just_acked: bool) -> None:
    """Rule 15 for a send that called the server, by what its row showed the moment it
    returned (``shown``; None if it returned no row): never still pending, and, if it
    returned just after the server acked it, not failed either."""
    if shown is Status.PENDING:
        raise returned_early(body)
    if shown is Status.FAILED and just_acked:
        raise returned_unconfirmed(body)


def returned_unconfirmed(body: str) -> RuleBroken:
    """A send that got the server's ack, and returned its row as failed all the same."""
    return RuleBroken(
        Rule.FINISHES,
        f"send returned {body!r} as failed, though the server had just stored it (its ack "
        "had come): with the ack in hand, send confirms the row before it returns. Whatever "
        "awaits send is told the message did not get through, when it did",
        function="send",
        returned=True,
    )


def returned_early(body: str) -> RuleBroken:
    """A send that returned while its row still showed pending, though it called the
    server: whatever awaits it gets a row that says nothing of the delivery."""
    return RuleBroken(
        Rule.FINISHES,
        f"send returned while its message still showed pending ({body!r}): by the time it "
        "returns, the row must show sent or failed. Wait for the server's answer, then "
        "confirm the row or roll it back in send itself. A task left to finish the delivery "
        "is not the send finishing: whatever awaits send learns nothing of whether the "
        "message got through",
        function="send",
        returned=True,
    )


def check_retry_id(body: str, used: str, failed: str | None) -> None:
    """Rule 8: a retry reuses the failed message's client id."""
    if used != failed:
        raise RuleBroken(
            Rule.IDEMPOTENT_RETRY,
            f"the retry of {body!r} used a new client id; reuse the failed message's id so a "
            "server that already stored it does not store it twice",
        )


def check_reached_server(body: str, *, finished: bool, shown_as: str | None) -> None:
    """Rules 15 and 1, when a send (or a retry) never called ``server.send``: one that is
    still running waits on something else; one that finished had to send if its message
    was new or showed failed (``shown_as``: ``"new"``, ``"failed"``, or None when a retry
    found it on its way or confirmed, and so had nothing to send). A retry of a message on
    its way may wait for the attempt already out (whether it ends is checked when the
    scenario does)."""
    if not finished and shown_as is not None:
        raise RuleBroken(
            Rule.FINISHES,
            f"your send of {body!r} is stuck waiting for something, and it never called "
            "server.send",
        )
    if shown_as is not None:
        raise RuleBroken(
            Rule.INSTANT,
            f"your send of {body!r} returned without calling server.send (the message "
            f"was {shown_as}, so it had to be sent)",
        )


def describe_timeline(state: ChatState, chat_id: str) -> list[str]:
    """The chat's timeline as the screen would read, one line per row (reading changes nothing)."""
    chat = state.chats.get(chat_id)
    return [] if chat is None else [describe_row(state, row) for row in chat.timeline()]


def describe_row(state: ChatState, row: Message) -> str:
    text = row.describe()
    return text if row.author == state.user else f"{row.author}: {text}"


CLOCK_SLACK = timedelta(seconds=1)
"""How far a new row's ``created_at`` may be from the clock when it first shows: a time
made from ``time.time()`` may round its last digits (a second is far more than that, and
far less than a wrong zone or a wrong clock)."""


def _clock_time(moment: object) -> str:
    """A time of day as a clock shows it, to the microsecond (or what the value is)."""
    return f"{moment:%H:%M:%S.%f}" if isinstance(moment, datetime) else repr(moment)


@dataclass(frozen=True, slots=True)
class WatchMemory:
    """What a `RuleWatch` carries from one check to the next, by client id.

    Each row's last status (to catch regressions), each chat's expected banner,
    and the status and failure reason of each row the banner was last computed from
    (a row failed again for a new reason is a new failure). A driver that rebuilds a
    client by replaying events (the timeline explorer) saves it with
    `RuleWatch.memory` and hands it to the new watch with `RuleWatch.recall`.
    """

    last_status: tuple[tuple[str, Status], ...] = ()
    banner: tuple[tuple[str, str | None], ...] = ()
    """Per chat id (chat ids are never renamed)."""
    banner_status: tuple[tuple[str, BannerSeen], ...] = ()

    def renamed(self, rename: Callable[[str], str]) -> WatchMemory:
        """The same memory with each client id passed through ``rename``, in sorted order."""
        return WatchMemory(
            tuple(sorted((rename(client_id), status) for client_id, status in self.last_status)),
            tuple(sorted(self.banner, key=lambda item: item[0])),
            tuple(sorted((rename(client_id), status) for client_id, status in self.banner_status)),
        )


@dataclass
class RuleWatch:
    """Checks one client's state against the server's truth, event after event.

    ``sent_by_me`` holds the client ids this client sent (and did not refuse as bad
    input); ``seen`` the server messages it was told about (acks, echoes, history).
    The watcher remembers each row's last status to catch regressions, and the
    last failure per chat to check the error banner.
    """

    state: ChatState
    sent_by_me: set[str] = field(default_factory=set)
    seen: dict[str, ServerMessage] = field(default_factory=dict)
    _last_status: dict[str, Status] = field(default_factory=dict)
    _banner: dict[str, str | None] = field(default_factory=dict)
    _banner_status: dict[str, BannerSeen] = field(default_factory=dict)
    refused: dict[str, str | None] = field(default_factory=dict)
    """Client ids whose send finished with a failure (refused, or timed out), and that
    were not retried since, with the failure's reason (None: any reason will do): each
    must show as failed with that reason (or as sent, if the server had it)."""
    _resent: set[str] = field(default_factory=set)
    """Client ids the user retried."""
    _written: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    """Each message this client sent as it was written: its words and its ``created_at``
    when its send first reached the server. Its row keeps both until the server's copy
    replaces them."""
    _timed: set[str] = field(default_factory=set)
    """Client ids of the rows whose ``created_at`` was held against the clock (`check`
    with ``now``): each once, when it first shows."""

    def _check_times(self, rows_by_id: dict[str, list[Message]], now: datetime) -> None:
        """Rule 1: a message of this client's says it was created when it first showed (the
        moment the user sent it), read from the clock, whatever zone it is written in."""
        for client_id, rows in rows_by_id.items():
            if client_id in self._timed:
                continue
            self._timed.add(client_id)
            row = rows[0]
            moment = row.created_at
            if row.author != self.state.user or row.status is Status.SENT:
                continue  # the server's copy: its time is the server's
            if type(moment) is not datetime or moment.tzinfo is None:
                continue  # a time with no zone, or no time: told in its own words
            if abs(moment - now) > CLOCK_SLACK:
                raise RuleBroken(
                    Rule.INSTANT,
                    f"{row.body!r} was created at {moment.isoformat()}, but the phone's clock "
                    f"read {now.isoformat()} when it first showed: created_at is the moment "
                    "the user sent it, read from the clock (datetime.now(UTC))",
                    about=(row,),
                    fields=("created_at",),
                )

    def _vanished(self, client_id: str) -> str:
        """What to say of a message of this client's that is no longer on the screen: which
        one, as it last showed, and why it must stay."""
        written = self._written.get(client_id)
        status = self._last_status.get(client_id)
        which = f"your message {written[0]!r}" if written else "one of your messages"
        if status is Status.SENT:
            return (
                f"{which} disappeared from the screen, though it showed sent: a message "
                "the server confirmed stays, whatever arrives later"
            )
        if status is Status.PENDING:
            return (
                f"{which} disappeared from the screen while it was still on its way: it "
                "must stay, pending, until the server confirms it or it fails"
            )
        return (
            f"{which} disappeared from the screen; a failed send must stay visible as "
            "failed so it can be retried"
        )

    def sent(self, client_id: str) -> None:
        """This client sent a message with this client id (a new one, or a retry)."""
        self.sent_by_me.add(client_id)
        row = self.state.get(client_id)
        if row is not None and client_id not in self._written:
            self._written[client_id] = (row.body, row.created_at)

    def failed(self, client_id: str, reason: str | None) -> None:
        """The send of this client id finished with a failure (``DeliveryError``) for
        ``reason`` (None when any reason will do)."""
        self.refused[client_id] = reason

    def resent(self, client_id: str) -> None:
        """The user retries this client id: it may show as pending again."""
        self.refused.pop(client_id, None)
        self._resent.add(client_id)

    def told(self, message: ServerMessage) -> None:
        """This client was given the server's copy of a message (ack, echo or history)."""
        self.seen[message.client_id] = message

    def memory(self) -> WatchMemory:
        """A copy of what this watch remembers between checks (see `WatchMemory`)."""
        return WatchMemory(
            tuple(self._last_status.items()),
            tuple(self._banner.items()),
            tuple(self._banner_status.items()),
        )

    def recall(self, memory: WatchMemory) -> None:
        """Remember exactly what ``memory`` holds, as if this watch had made those checks."""
        self._last_status = dict(memory.last_status)
        self._banner = dict(memory.banner)
        self._banner_status = dict(memory.banner_status)

    def check(self, *, retrying: str | None = None, now: datetime | None = None) -> None:
        """Raise `RuleBroken` if any rule no longer holds after the latest event.

        ``retrying`` is the client id being retried in this event, the one message
        allowed to go from failed back to pending. ``now`` is the phone's clock during
        the event, if the caller knows it: a row of this client's that first shows now
        must say it was created now.
        """
        check_state_shape(self.state)
        rows_by_id: dict[str, list[Message]] = {}
        for chat in self.state.chats.values():
            for row in chat.rows:
                if row.chat_id != chat.id:
                    self._wrong_chat(row, chat)
                rows_by_id.setdefault(row.client_id, []).append(row)

        for rows in rows_by_id.values():
            if len(rows) > 1:
                chat_id = rows[0].chat_id
                raise RuleBroken(
                    Rule.EXACTLY_ONCE,
                    f"{rows[0].body!r} is shown {len(rows)} times",
                    actual=describe_timeline(self.state, chat_id),
                    about=tuple(rows),
                    fields=CREATED,
                )
        if now is not None:
            self._check_times(rows_by_id, now)
        for client_id in self.sent_by_me:
            if client_id not in rows_by_id:
                raise RuleBroken(
                    Rule.KEEP_WORDS,
                    self._vanished(client_id),
                    about=tuple(self.state.chats.values()),
                    fields=("rows",),
                )
        bodies = Counter(row.body for rows in rows_by_id.values() for row in rows)
        for client_id, incoming in self.seen.items():
            if client_id not in rows_by_id and bodies[incoming.body]:
                raise RuleBroken(
                    Rule.NO_TEXT_MATCHING,
                    f"the server's message {incoming.body!r} (#{incoming.seq}) is not on the "
                    "screen: it says the same as a message you show, but it is another message "
                    "(its client id differs); match messages by client id, never by their words",
                    actual=describe_timeline(self.state, incoming.chat_id),
                    about=tuple(rows_by_id.get(client_id, ())),
                )
            if client_id not in rows_by_id:
                raise RuleBroken(
                    Rule.OTHERS if client_id not in self.sent_by_me else Rule.EXACTLY_ONCE,
                    f"the server's message {incoming.body!r} (#{incoming.seq}) was delivered "
                    "but is not on the screen",
                    actual=describe_timeline(self.state, incoming.chat_id),
                )

        for client_id, reason in self.refused.items():
            self._check_failed(rows_by_id.get(client_id), reason)

        for client_id, rows in rows_by_id.items():
            row = rows[0]
            try:
                self._check_row(row, self.seen.get(client_id), retrying)
            except RuleBroken as broken:
                if broken.rule is Rule.SERVER_TRUTH and bodies[row.body] > 1:
                    raise RuleBroken(
                        Rule.NO_TEXT_MATCHING,
                        f"two of your messages say {row.body!r}, and the server's copy of one "
                        f"was taken for the other ({broken.detail}); match by client id, never "
                        "by the words",
                        about=broken.about,
                        fields=broken.fields,
                    ) from None
                raise

        for chat in self.state.chats.values():
            self._check_chat_flags(chat.id)

    def _check_failed(self, shown: list[Message] | None, reason: str | None) -> None:
        """Rule 6 for a send that finished with a failure: its row is failed (or sent, if
        the server had it after all), with the reason it failed for."""
        if not shown:
            return  # a row that is gone breaks rule 6 too, and says so
        row = shown[0]
        if row.status is Status.PENDING:
            why = f" (the server said {reason!r})" if reason is not None else ""
            raise RuleBroken(
                Rule.KEEP_WORDS,
                f"the send of {row.body!r} failed{why}, but {row.body!r} is still shown as "
                "pending; a failure must turn that very message failed",
                actual=describe_timeline(self.state, row.chat_id),
                about=(row,),
                fields=("status",),
            )
        if row.status is Status.FAILED and reason is not None and row.error != reason:
            raise RuleBroken(
                Rule.KEEP_WORDS,
                f"the send of {row.body!r} failed because {reason!r}, but the row says "
                f"{row.error!r}; a failed message tells the reason its send failed for",
                about=(row,),
                fields=("error", "status"),
            )

    def _wrong_chat(self, row: Message, chat: Chat) -> None:
        """Rules 9 and 2: a row is shown in the chat its ``chat_id`` names, and no other."""
        mine = row.client_id in self.sent_by_me
        raise RuleBroken(
            Rule.IDENTITY if mine else Rule.OTHERS,
            f"{describe_row(self.state, row)} belongs to chat {row.chat_id!r}, but it is shown "
            f"in chat {chat.id!r}; a message shows only in the chat it was sent to",
            actual=describe_timeline(self.state, chat.id),
            about=(chat,),
            fields=("rows",),
        )

    def _check_row(self, row: Message, truth: ServerMessage | None, retrying: str | None) -> None:
        before = self._last_status.get(row.client_id)
        now = row.status
        allowed = {
            (Status.PENDING, Status.SENT),
            (Status.PENDING, Status.FAILED),
            (Status.FAILED, Status.SENT),
        }
        if before is not None and before is not now:
            is_retry = (before, now) == (
                Status.FAILED,
                Status.PENDING,
            ) and retrying == row.client_id
            if (before, now) not in allowed and not is_retry:
                raise RuleBroken(
                    Rule.MONOTONIC,
                    f"{row.body!r} went from {before} back to {now}; "
                    f"{'sent is final' if before is Status.SENT else 'that move is not allowed'}",
                    about=(row,),
                    fields=("status",),
                )
        self._last_status[row.client_id] = now
        if now is not Status.SENT:
            self._check_unconfirmed(row)
            self._check_written(row)
        if truth is not None and now is not Status.SENT:
            raise RuleBroken(
                Rule.SERVER_TRUTH,
                f"the server confirmed {row.body!r} as #{truth.seq}, but it is still shown as {now}",
                about=(row,),
            )
        if now is Status.SENT:
            if truth is None:
                raise RuleBroken(
                    Rule.SERVER_TRUTH,
                    f"{row.body!r} is shown as sent, but the server never confirmed it to you",
                    about=(row,),
                )
            if row.error is not None:
                raise RuleBroken(
                    Rule.SERVER_TRUTH,
                    f"{row.body!r} is sent, but still shows the failure reason {row.error!r}; "
                    "a confirmed message has no failure left to tell",
                    about=(row,),
                    fields=("error", "status"),
                )
            if (row.body, row.author) != (truth.body, truth.author):
                said = (
                    ""
                    if row.author == truth.author
                    else f" by {row.author!r}, not {truth.author!r}"
                )
                raise RuleBroken(
                    Rule.SERVER_TRUTH,
                    f"the server stored {truth.body!r} (#{truth.seq}), but the screen shows "
                    f"{row.body!r}{said}; show a message exactly as the server has it",
                    about=(row,),
                    fields=(*CREATED, "body", "author"),
                )
            shown = {"id": row.server_id, "seq": row.seq, "created_at": row.created_at}
            stored = {"id": truth.id, "seq": truth.seq, "created_at": truth.created_at}
            if shown != stored:
                differ = [name for name in shown if shown[name] != stored[name]]
                raise RuleBroken(
                    Rule.SERVER_TRUTH,
                    f"{row.body!r} is sent but does not carry the server's id, sequence number "
                    "and timestamp (has "
                    + ", ".join(f"{name}={shown[name]}" for name in differ)
                    + "; the server said "
                    + ", ".join(f"{name}={stored[name]}" for name in differ)
                    + ")",
                    about=(row,),
                    fields=("server_id", "seq", "created_at"),
                )
        if now is Status.FAILED and not (row.error and row.error.strip()):
            raise RuleBroken(
                Rule.KEEP_WORDS, f"{row.body!r} failed without a readable reason", about=(row,)
            )

    def _check_written(self, row: Message) -> None:
        """Rules 6, 8 and 1: an unconfirmed message of this client's keeps the words typed
        and the time it was written (its ``created_at`` when it first reached the server),
        failed or retried."""
        if row.client_id not in self._written:
            return
        typed, written = self._written[row.client_id]
        check_typed(
            row,
            typed,
            "a message keeps the words as typed, failed or sent again, until the server's "
            "copy confirms them",
            fields=("body",),
        )
        if row.created_at == written:
            return
        if row.status is Status.FAILED:
            rule, which = Rule.KEEP_WORDS, "a failed message"
        elif row.client_id in self._resent:
            rule, which = Rule.IDEMPOTENT_RETRY, "a message sent again"
        else:
            rule, which = Rule.INSTANT, "a message"
        raise RuleBroken(
            rule,
            f"{row.body!r} was written at {_clock_time(written)}, but its row now says "
            f"{_clock_time(row.created_at)}; {which} keeps the time it was written, until the "
            "server's copy gives it the server's time",
            about=(row,),
            fields=("created_at",),
        )

    @staticmethod
    def _check_unconfirmed(row: Message) -> None:
        """Rules 1 and 7 for a row not confirmed yet: its time says its time zone, and a row
        on its way (pending) tells no failure."""
        if row.created_at.tzinfo is None:
            raise RuleBroken(
                Rule.INSTANT,
                f"{row.body!r} was created at {row.created_at}, a time with no time zone: on "
                "a phone in another zone it reads as another moment, and the server's times "
                "all say theirs. Make created_at say its time zone",
                about=(row,),
                fields=(*CREATED, "created_at"),
            )
        if row.status is Status.PENDING and row.error is not None:
            raise RuleBroken(
                Rule.LOADING_AND_ERRORS,
                f"{row.body!r} is pending (on its way again), but still shows the failure "
                f"reason {row.error!r}; a message being sent has no failure to tell yet",
                about=(row,),
                fields=("error", "status"),
            )

    def _check_chat_flags(self, chat_id: str) -> None:
        chat = self.state.chat(chat_id)
        mine = [row for row in chat.rows if row.client_id in self.sent_by_me]
        pending = {row.client_id for row in mine if row.status is Status.PENDING}
        stale = chat.in_flight - pending
        if stale:
            bodies = sorted(
                repr(row.body) for row in chat.rows if row.client_id in stale
            ) or sorted(stale)
            raise RuleBroken(
                Rule.BOOKKEEPING,
                f"in_flight still holds {', '.join(bodies)} although that send is settled",
                about=tuple(row for row in chat.rows if row.client_id in stale),
            )
        if chat.sending != bool(pending):
            raise RuleBroken(
                Rule.LOADING_AND_ERRORS,
                f"the chat shows sending={chat.sending} while "
                f"{len(pending)} of your sends are unsettled",
                about=(chat, *mine),
                fields=("in_flight", *STATUS_FIELDS),
            )
        missing = pending - chat.in_flight
        if missing:
            bodies = sorted(repr(row.body) for row in mine if row.client_id in missing)
            raise RuleBroken(
                Rule.LOADING_AND_ERRORS,
                f"{', '.join(bodies)} is pending, but in_flight no longer holds it: the chat "
                "stops saying sending… when another send settles. Add each send's client id "
                "to in_flight, and take out only its own",
                about=(chat,),
                fields=("in_flight",),
            )
        expected = self._expected_banner(chat_id, mine)
        if chat.error != expected:
            raise RuleBroken(
                Rule.LOADING_AND_ERRORS,
                f"the error banner reads {chat.error!r}; "
                + ("it should be gone" if expected is None else f"it should read {expected!r}"),
                about=(chat, *mine),
                fields=("error", "status"),
            )

    def _expected_banner(self, chat_id: str, mine: list[Message]) -> str | None:
        banner = self._banner.get(chat_id)
        for row in mine:
            before = self._banner_status.get(row.client_id)
            now = (row.status, row.error)
            if before != now:  # a new status, or failed again for another reason
                if row.status is Status.FAILED:
                    banner = row.error
                elif row.status is Status.SENT:
                    banner = None
                self._banner_status[row.client_id] = now
        self._banner[chat_id] = banner
        return banner


def _phone_of(sender: str) -> str:
    """Whose phone sent a message, as the story says it: "bob's phone", "your new phone"."""
    return sender if sender.endswith("phone") else f"{sender}'s phone"
