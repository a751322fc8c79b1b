"""The scale family's work on the phone: long histories, batches of events, one traced.

A scale scenario asks whether one event costs the same on a chat of 1,000 messages
and on one of 200,000. The phone builds each history once (kit rows, built directly)
and runs the batches of events the judge asks for — Bob's new and repeated messages
(``echoes``), Bob's older messages arriving late, each older than all the chat shows
(``older``), your own pending messages confirmed or rolled back (``own``), or your
own messages sent, each answered at once (``sends``) — with the collector paused. The
judge times each batch from its side (the phone's word on its own speed is not asked
for): its round trip, less that of an empty batch.

When a history turns out dearer, the judge asks the phone to trace one event on a
history of `TRACED` messages: the learner's line where the time goes comes back. And
it asks what the flow keeps outside the state (`chatkit.phone.kept`), by name.
"""

from __future__ import annotations

import asyncio
import gc
import linecache
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import count
from types import FrameType
from typing import Any

from chatkit.blame import Blame, blame_frame
from chatkit.client import ServerView
from chatkit.code_folder import CodeFolder
from chatkit.limits import MAX_YIELDS
from chatkit.model import TIMED_OUT, DeliveryError, Message, ServerMessage, Status
from chatkit.phone.kept import kept_values
from chatkit.protocols import Flow
from chatkit.state import ChatState

CHAT = "general"
EPOCH = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
FIRST_NEW = 10_000_000
"""Numbers of new messages start here, past any history."""
OLDER_TOP = 5_000_000
"""In the ``older`` job the history's first message has this number, and the older
messages that arrive late count down from the one below it."""
LOOPING = 1_000
"""A line run this often in one event is a loop over the history."""

Event = Callable[[], object]
_TURN = {"echoes": 2, "own": 4, "sends": 8}
"""How many events one turn of each job has (`ScaleBench.trace` traces one turn)."""
STUCK = object()
"""What an event that did not finish returns (a send waiting for what never comes)."""


def server_copy(
    n: int, *, author: str = "bob", client_id: str | None = None, body: str | None = None
) -> ServerMessage:
    """The server's message number ``n`` of the chat."""
    return ServerMessage(
        id=n,
        chat_id=CHAT,
        seq=n,
        client_id=client_id or f"{author}-{n}",
        author=author,
        body=body or f"message {n}",
        created_at=EPOCH + timedelta(seconds=n),
    )


BUSY = "the server is busy"
"""Why the scale family's servers refuse a message."""
OLD_FAILED = 20
"""Your failed messages at the start of the ``sends`` job's history, retried now and then."""


def old_failed(k: int) -> tuple[str, str]:
    """The client id and words of your ``k``-th old failed message."""
    return f"old-mine-{k}", f"old mine {k}"


def history_of(size: int, first: int = 1, failed: int = 0) -> ChatState:
    """Your client after scrolling through ``size`` confirmed messages of Bob's, numbered
    from ``first``, after ``failed`` of your own that failed long ago (built directly, with
    the collector paused: building 200,000 rows is the slow part)."""
    state = ChatState("you")
    gc.disable()
    try:
        rows = [
            Message(client_id, CHAT, "you", body, EPOCH, Status.FAILED, error=BUSY)
            for client_id, body in map(old_failed, range(failed))
        ]
        rows += [
            Message(f"bob-{n}", CHAT, "bob", f"message {n}", EPOCH, Status.SENT, n, n)
            for n in range(first, first + size)
        ]
        state.chat(CHAT).rows.extend(rows)  # what `ChatState.add` does, row after row
        state.messages.update((row.client_id, row) for row in rows)
    finally:
        gc.enable()
    return state


class InstantServer:
    """A server that answers every message at once, numbered past any history: a send's
    cost is then the flow's own. It stores each message, but for the words it is told to
    refuse the first time (`refuse_once`)."""

    def __init__(self, numbers: count[int]) -> None:
        self._numbers = numbers
        self.refuse_once: set[str] = set()
        self.refuse_always: set[str] = set()
        self.client_ids: dict[str, str] = {}
        """The client id each message was sent with, by its words."""

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        self.client_ids[body] = client_id
        if body in self.refuse_always:
            raise DeliveryError(BUSY)
        if body in self.refuse_once:
            self.refuse_once.discard(body)
            raise DeliveryError(BUSY)
        return self.stored(client_id, body)

    def stored(self, client_id: str, body: str) -> ServerMessage:
        return server_copy(next(self._numbers), author="you", client_id=client_id, body=body)

    async def history(self, chat_id: str) -> list[ServerMessage]:
        return []


class HeldServer:
    """A server that holds every message it is sent until it is told to answer it."""

    def __init__(self, numbers: count[int], loop: asyncio.AbstractEventLoop) -> None:
        self._numbers = numbers
        self._loop = loop
        self.held: dict[str, tuple[str, asyncio.Future[ServerMessage]]] = {}
        """Each message waiting for its answer, by its words: its client id, and the answer."""
        self._failed = 0

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        answer: asyncio.Future[ServerMessage] = self._loop.create_future()
        self.held[body] = (client_id, answer)
        return await answer

    async def history(self, chat_id: str) -> list[ServerMessage]:
        return []

    def answer(
        self, body: str, ack: bool, echo: Callable[[ServerMessage], object] | None = None
    ) -> bool:
        """Ack (or fail) the message with these words, its stored copy handed to ``echo``
        first if given (the echo beat the ack, or a failure: the server had it, and its
        answer was lost); False if it never came."""
        held = self.held.pop(body, None)
        if held is None:
            return False
        client_id, answer = held
        if ack or echo is not None:
            stored = server_copy(next(self._numbers), author="you", client_id=client_id, body=body)
            if echo is not None:
                echo(stored)
        if answer.done():  # the flow cancelled the request: the answer lands nowhere
            return True
        if ack:
            answer.set_result(stored)
        else:  # refused, or (every other one) timed out: a flow's own time-out runs out then
            self._failed += 1
            timed_out = echo is not None or self._failed % 2 == 0
            answer.set_exception(DeliveryError(TIMED_OUT if timed_out else "x"))
        return True


class ScaleBench:
    """One phone's histories, and the batches of events run on them."""

    def __init__(self, flow: Flow, folder: str, loop: asyncio.AbstractEventLoop) -> None:
        self.flow = flow
        self.folder = folder
        self._loop = loop
        self._states: dict[tuple[str, int], ChatState] = {}
        self._fresh = count(FIRST_NEW)
        self._old = count()
        """Which old failed message the ``sends`` job retries next."""
        self._older = count(OLDER_TOP - 1, -1)
        self._ready: dict[tuple[str, int, int, str], list[Event]] = {}
        """The events `prepare` made for the next batch of each job."""

    def prepare(self, job: str, size: int, batch: int, only: str = "") -> None:
        """Make the events of the next batch of ``job`` (build the history if need be; send
        the messages its acks and failures answer): the judge times only their running."""
        self._ready[(job, size, batch, only)] = self.events(job, size, batch, only)

    def run(self, job: str, size: int, batch: int, only: str = "") -> int:
        """Run one batch of ``job``'s events (those `prepare` made, or made now), with the
        collector paused (a collection in one batch and not another is noise). Returns how
        many of its sends did not finish (`_send`)."""
        events = self._ready.pop((job, size, batch, only), None)
        if events is None:
            events = self.events(job, size, batch, only)
        stuck = 0
        gc.disable()
        try:
            for event in events:
                stuck += event() is STUCK
        finally:
            gc.enable()
        return stuck

    def events(self, job: str, size: int, batch: int, only: str = "") -> list[Event]:
        state = self._states.get((job, size))
        if state is None:
            first = OLDER_TOP if job == "older" else 1
            failed = OLD_FAILED if job == "sends" else 0
            state = self._states[(job, size)] = history_of(size, first, failed)
        if job == "echoes":
            return self._echoes(state, size, batch)
        if job == "older":
            return self._older_ones(state, batch)
        if job == "sends":
            return self._sends(state, batch)
        return self._own(state, batch, only)

    def _echoes(self, state: ChatState, size: int, batch: int) -> list[Event]:
        """New messages from Bob, and old ones repeated, spread over the history."""
        step = max(1, size // max(1, batch // 2))
        repeats = [server_copy(n) for n in range(step, size + 1, step)][: batch // 2]
        news = [server_copy(next(self._fresh)) for _ in range(batch - len(repeats))]
        reconcile = self.flow.reconcile
        return [partial(reconcile, state, incoming) for incoming in (*news, *repeats)]

    def _older_ones(self, state: ChatState, batch: int) -> list[Event]:
        """Bob's messages from before the history, arriving late (a history page loaded on
        a reconnect): each is older than every message the chat shows."""
        older = [server_copy(next(self._older)) for _ in range(batch)]
        reconcile = self.flow.reconcile
        return [partial(reconcile, state, incoming) for incoming in older]

    def _own(self, state: ChatState, batch: int, only: str) -> list[Event]:
        """Your messages, sent by your flow to a server that holds them: each waits, pending
        at the bottom, until its event answers it, half with an ack (every other one after
        its echo), half with a failure (refused, or timed out, every other one after its
        echo); or all with ``only``'s: ``reconcile`` acks (every other one after its echo),
        ``rollback`` fails (none after its echo).
        The flow's own send takes the answer from there, as in a scenario."""
        server = HeldServer(self._fresh, self._loop)
        view = ServerView(server)
        bodies = [f"mine {next(self._fresh)}" for _ in range(batch)]
        sends = [self._loop.create_task(self.flow.send(state, view, CHAT, body)) for body in bodies]
        self._loop.run_until_complete(_reached(server, len(bodies)))
        events: list[Event] = []
        for k, (body, send) in enumerate(zip(bodies, sends, strict=True)):
            ack = only == "reconcile" or (k % 2 == 1 and only != "rollback")
            echo_first = k % 4 == 3 if ack else (k % 4 == 0 and not only)
            echo = partial(self.flow.reconcile, state) if echo_first else None
            events.append(partial(self._answer, server, body, send, ack, echo))
        return events

    def _answer(
        self,
        server: HeldServer,
        body: str,
        send: asyncio.Task[Any],
        ack: bool,
        echo: Callable[[ServerMessage], object] | None,
    ) -> object:
        """The server answers one held message (an ack after ``echo`` when given); its send
        is given the turns of the loop a scenario gives it (`MAX_YIELDS`) to take the
        answer, or told as `STUCK`."""
        if not server.answer(body, ack, echo):  # it never reached the server
            if send.done():
                send.result()  # what it raised, raised
            send.cancel()
            return STUCK
        self._loop.run_until_complete(_finished(send))
        if not send.done():
            send.cancel()
            return STUCK
        return send.result()

    def _sends(self, state: ChatState, batch: int) -> list[Event]:
        """Your new messages, sent to a server that answers each at once, in turns: one is
        acked, and retry is tapped on it again (it is already sent: nothing to do); one is
        refused, and retried (and acked); one is refused, and then its echo
        arrives late (the server had it after all); one is refused, and left failed. And
        one of your messages that failed long ago, at the start of the history, is retried
        and refused again. Each send, retry and echo is an event."""
        server = InstantServer(self._fresh)
        server.refuse_always |= {body for _, body in map(old_failed, range(OLD_FAILED))}
        view = ServerView(server)
        events: list[Event] = []
        while len(events) < batch:
            client_id, body = old_failed(next(self._old) % OLD_FAILED)
            events.append(partial(self._send, state, view, body, client_id))
            acked, retried, echoed, left = (f"mine {next(self._fresh)}" for _ in range(4))
            server.refuse_once |= {retried, echoed, left}
            events += [
                partial(self._send, state, view, acked),
                partial(self._retry, state, view, server, acked),
                partial(self._send, state, view, retried),
                partial(self._retry, state, view, server, retried),
                partial(self._send, state, view, echoed),
                partial(self._late_echo, state, server, echoed),
                partial(self._send, state, view, left),
            ]
        return events[:batch]

    def _retry(
        self, state: ChatState, view: ServerView, server: InstantServer, body: str
    ) -> object:
        return self._send(state, view, body, server.client_ids[body])

    def _late_echo(self, state: ChatState, server: InstantServer, body: str) -> None:
        self.flow.reconcile(state, server.stored(server.client_ids[body], body))

    def _send(
        self, state: ChatState, server: ServerView, body: str, client_id: str | None = None
    ) -> object:
        """One send (a retry, with ``client_id``), given the turns of the loop a scenario
        gives it (`MAX_YIELDS`): a send still running then is stuck, cancelled and told as
        `STUCK` (waiting for it would hang the phone); what it raised is raised."""
        sending = self.flow.send(state, server, CHAT, body, client_id=client_id)
        send = self._loop.create_task(sending)
        self._loop.run_until_complete(_finished(send))
        if not send.done():
            send.cancel()
            return STUCK
        return send.result()

    def check(self, job: str, size: int) -> dict[str, Any]:
        """What the history looks like now, for the judge's exactly-once and cleanup checks."""
        state = self._states[(job, size)]
        chat = state.chat(CHAT)
        rows = chat.rows
        mine = [row for row in rows if getattr(row, "author", None) == "you"]
        return {
            "rows": len(rows),
            "distinct": len({getattr(row, "client_id", None) for row in rows}),
            "in_flight": len(chat.in_flight),
            "pending": sum(getattr(row, "status", None) is Status.PENDING for row in mine),
        }

    def kept(self) -> dict[str, int]:
        """What the flow keeps for itself, outside the state, by the name that holds it
        (`kept_values`)."""
        return kept_values(self.flow, self.folder, self._states.values())

    def trace(self, job: str, size: int, only: str, function: str) -> Blame | None:
        """The learner's line where the events of one turn of ``job`` (a new message and a
        repeat; an ack or a failure; a send, a retry, a late echo…) on a history of ``size``
        spend most time."""
        events = self.events(job, size, _TURN.get(job, 1), only)
        return hottest_line(lambda: [event() for event in events], function, self.folder)


async def _reached(server: HeldServer, count: int) -> None:
    """Give the sends up to `MAX_YIELDS` turns of the loop to reach ``server``."""
    for _ in range(MAX_YIELDS):
        if len(server.held) >= count:
            return
        await asyncio.sleep(0)


async def _finished(task: asyncio.Task[Any]) -> None:
    """Give ``task`` up to `MAX_YIELDS` turns of the loop to finish."""
    for _ in range(MAX_YIELDS):
        if task.done():
            return
        await asyncio.sleep(0)


def hottest_line(event: Event, function: str, folder: str) -> Blame | None:
    """The line of the learner's code where one event spends most of its time, blamed on
    the innermost flow function around it (``reconcile``, when a ``send`` calls it), or
    on ``function`` when none of the three is.

    A loop in Python over the history runs its lines thousands of times: the first
    (topmost) of the lines run most often is named, so the same code is always pointed
    at the same line. Without such a loop the time is in a call into C (``list.remove``,
    ``sorted``): time between two line events goes to the first line, and the line with
    the most time is named (it dwarfs the others, so the answer does not move either).
    """
    spent: Counter[tuple[FrameType, int]] = Counter()
    runs: Counter[tuple[FrameType, int]] = Counter()
    places: dict[tuple[str, int], tuple[FrameType, int]] = {}
    owners: dict[tuple[FrameType, int], str | None] = {}
    """The flow function around each place, found when the place is first run."""
    learners = CodeFolder(folder)
    last: list[Any] = [None, 0.0]

    def on_line(frame: FrameType, what: str, _: object) -> Callable[..., Any]:
        now = time.perf_counter()
        if last[0] is not None:
            spent[last[0]] += now - last[1]
        last[0] = None
        if what == "line":
            where = (frame.f_code.co_filename, frame.f_lineno)
            place = places.get(where)
            if place is None:
                place = places[where] = (frame, frame.f_lineno)
                around = blame_frame(frame, folder)
                owners[place] = around.function if around is not None else None
            last[0] = place
            runs[place] += 1
        last[1] = time.perf_counter()
        return on_line

    def on_call(frame: FrameType, what: str, _: object) -> Callable[..., Any] | None:
        return on_line if learners.holds(frame.f_code) else None

    sys.settrace(on_call)
    try:
        event()
    finally:
        sys.settrace(None)
    if not spent:
        return None
    most = max(runs.values(), default=0)
    if most >= LOOPING:
        frame, line = min((place for place, n in runs.items() if n == most), key=_line_of)
    else:
        frame, line = max(spent, key=spent.__getitem__)
    return Blame(
        owners.get((frame, line)) or function,
        frame.f_code.co_filename,
        line,
        linecache.getline(frame.f_code.co_filename, line).strip(),
        frame.f_code.co_name,
    )


def _line_of(place: tuple[FrameType, int]) -> tuple[str, int]:
    return place[0].f_code.co_filename, place[1]
