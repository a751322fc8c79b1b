"""Scale: handling one event costs the same with a short or a very long history.

A chat client lives for months; a busy chat holds hundreds of thousands of
messages. Every ack, echo and failure must be handled in constant time: find the
message through the index by client id (``state.get``), never by walking the
timeline. These scenarios time the target's ``reconcile`` and ``rollback`` on a
history of 1,000 messages and on one of 200,000, and compare the cost per event.

They compare the two sizes by a ratio, on the same machine in the same run, so a
slow computer does not matter; an implementation that scans the history is about a
hundred times slower on the long one, a correct one about as fast.
"""

import ast
import gc
import linecache
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import count
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from chatkit import ChatState, Message, ServerMessage, Status
from chatkit.blame import Blame
from chatkit.engine.rules import Rule, RuleBroken
from chatkit.protocols import Flow

pytestmark = pytest.mark.family("scale")

SMALL = 1_000
LARGE = 200_000
SMALL_BATCH = 400
"""Events timed per repeat on the short history (cheap, so many, for a steady measure)."""
LARGE_BATCH = 50
"""Events timed per repeat on the long history (few, so a scanning flow still ends soon)."""
REPEATS = 5
QUICK_BATCH = 10
"""Events per batch when a failed comparison times reconcile and rollback apart."""
ONE_LOOK = float("inf")
"""As ``stop_below``: every cost is below it, so timing stops after one measured batch."""
TRACED = 5_000
"""The history one event runs on, traced, to find where the time goes: long enough for
a scan to stand out, short enough that tracing it stays well within the hang watch."""
BOUND = 10.0
"""How many times dearer an event may be on the long history: generous on purpose."""

CHAT = "general"
EPOCH = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

Event = Callable[[], None]
RecordProperty = Callable[[str, object], None]
"""pytest's ``record_property``: what was measured goes in the report."""


def server_copy(n: int, *, author: str = "bob", client_id: str | None = None) -> ServerMessage:
    """The server's message number ``n`` of the chat."""
    return ServerMessage(
        id=n,
        chat_id=CHAT,
        seq=n,
        client_id=client_id or f"{author}-{n}",
        author=author,
        body=f"message {n}",
        created_at=EPOCH + timedelta(seconds=n),
    )


def history_of(size: int) -> ChatState:
    """Your client after scrolling through ``size`` confirmed messages of Bob's.

    The rows are built directly (confirmed rows like those `Message.from_server` makes),
    with the collector paused: building 200,000 rows is the slow part of the family.
    """
    state = ChatState("you")
    gc.disable()
    try:
        for n in range(1, size + 1):
            state.add(Message(f"bob-{n}", CHAT, "bob", f"message {n}", EPOCH, Status.SENT, n, n))
    finally:
        gc.enable()
    return state


def best_cost_per_event(
    batches: Iterator[list[Event]], *, stop_below: float = 0.0, stop_above: float = float("inf")
) -> float:
    """The cheapest seconds per event over ``REPEATS`` batches (plus a warm-up).

    The best of a few repeats filters out the moments the machine was busy with
    something else. Garbage collection is paused while timing, since a long history
    makes each collection slow and would blame the flow for it. Timing stops early
    once the cost is clearly below ``stop_below``, or clearly above ``stop_above``
    in two batches running (a scan of the whole history: no need to time it six times).
    """
    best = float("inf")
    slow = 0
    for repeat in range(REPEATS + 1):
        batch = next(batches)
        gc.disable()
        try:
            start = time.perf_counter()
            for event in batch:
                event()
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        if repeat > 0:  # the first batch only warms up
            best = min(best, elapsed / len(batch))
            slow = slow + 1 if best > stop_above else 0
            if best < stop_below or slow == 2:
                break
    return best


def compare(
    what: str, small: float, large: float, record_property: RecordProperty, slow: Event
) -> None:
    """Fail when the long history makes events much dearer, naming the line that costs.

    ``slow`` is one event of ``what`` on a history of `TRACED` messages: it runs traced,
    to find the learner's line where the time goes. The costs go in the report as what was
    measured, not in the verdict: they differ a little on every run, and the verdict
    must not.
    """
    ratio = large / small
    record_property(
        "cost per event",
        f"{small * 1e6:.1f} µs with {SMALL:,} messages, {large * 1e6:.1f} µs with {LARGE:,} "
        f"({ratio:.1f}×)",
    )
    if ratio > BOUND:
        hot = hottest_line(slow, what)
        raise RuleBroken(
            Rule.FAST,
            f"{what} got more than {BOUND:g} times slower per event with {LARGE:,} messages "
            f"on screen than with {SMALL:,}. {advice(hot)}",
            expected=[f"at most {BOUND:g} times slower"],
            actual=[f"more than {BOUND:g} times slower"],
            blame=hot,
            function=what,
        )


def hottest_line(event: Event, function: str) -> Blame | None:
    """The line of the learner's code where one event spends most of its time.

    A loop in Python over the history runs its lines thousands of times: the first
    (topmost) of the lines run most often is named, so the same code is always pointed
    at the same line. Without such a loop the time is in a call into C (``list.remove``,
    ``sorted``): time between two line events goes to the first line, and the line with
    the most time is named (it dwarfs the others, so the answer does not move either).
    """
    spent: Counter[tuple[FrameType, int]] = Counter()
    runs: Counter[tuple[FrameType, int]] = Counter()
    places: dict[tuple[str, int], tuple[FrameType, int]] = {}
    last: list[Any] = [None, 0.0]

    def on_line(frame: FrameType, what: str, _: object) -> Callable[..., Any]:
        now = time.perf_counter()
        if last[0] is not None:
            spent[last[0]] += now - last[1]
        where = (frame.f_code.co_filename, frame.f_lineno)
        last[0] = places.setdefault(where, (frame, frame.f_lineno)) if what == "line" else None
        if last[0] is not None:
            runs[last[0]] += 1
        last[1] = time.perf_counter()
        return on_line

    def on_call(frame: FrameType, what: str, _: object) -> Callable[..., Any] | None:
        return on_line if frame.f_code.co_filename.startswith(folder) else None

    code = getattr(getattr(event, "func", None), "__code__", None)
    if code is None:
        return None
    folder = os.path.dirname(code.co_filename) + os.sep
    sys.settrace(on_call)
    try:
        event()
    finally:
        sys.settrace(None)
    if not spent:
        return None
    most = max(runs.values(), default=0)
    if most >= LOOPING:
        frame, line = min((place for place, count in runs.items() if count == most), key=_line_of)
    else:
        frame, line = max(spent, key=spent.__getitem__)
    return Blame(
        function,
        frame.f_code.co_filename,
        line,
        linecache.getline(frame.f_code.co_filename, line).strip(),
        frame.f_code.co_name,
    )


LOOPING = 1_000
"""A line run this often in one event is a loop over the history."""


def _line_of(place: tuple[FrameType, int]) -> tuple[str, int]:
    return place[0].f_code.co_filename, place[1]


def _in_a_loop(file: str, line: int) -> bool:
    """True when ``line`` of ``file`` is a loop, or inside one."""
    try:
        tree = ast.parse(Path(file).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    loops = (ast.For, ast.AsyncFor, ast.While, ast.comprehension)
    return any(
        isinstance(node, loops) and node_lines(node)[0] <= line <= node_lines(node)[1]
        for node in ast.walk(tree)
    )


def node_lines(node: ast.AST) -> tuple[int, int]:
    """The first and last line of a node (a comprehension's, from its target and iterable)."""
    if isinstance(node, ast.comprehension):
        parts = [node.target, node.iter, *node.ifs]
        return min(p.lineno for p in parts), max(p.end_lineno or p.lineno for p in parts)
    start = getattr(node, "lineno", 0)
    return start, getattr(node, "end_lineno", None) or start


def advice(hot: Blame | None) -> str:
    """What to do about the line where the time went, from what the line does."""
    code = hot.code if hot is not None else ""
    if re.search(r"\.(remove|index|insert|pop)\(", code):
        return (
            "That line searches or shifts the whole timeline for one row (a list's remove, "
            "index, insert and pop walk it): leave the row in its place and change its fields."
        )
    if re.search(r"\bsort(ed)?\(", code):
        return "That line sorts the whole timeline for one event: change only the one row."
    if hot is not None and (re.search(r"\bin\b", code) or _in_a_loop(hot.file, hot.line)):
        return (
            "That line walks the timeline for one row: find it with state.get(client_id), "
            "a dictionary look-up."
        )
    return (
        "Each event should touch only its own row: find it with state.get(client_id), and "
        "change nothing that grows with the history."
    )


@pytest.mark.budget(30)
async def test_echoes_cost_the_same_with_a_long_history(
    flow: Flow, record_property: RecordProperty
) -> None:
    """Bob's chat with you holds 1,000 messages on one phone and 200,000 on
    another. On both, new messages from Bob arrive, and some old ones are
    echoed again after a reconnect. Showing a new message, or recognising a
    repeat, must not get slower as the history grows: each event should cost
    about the same on both phones."""
    reconcile = flow.reconcile
    fresh = count(LARGE + 1)

    def echoes(state: ChatState, size: int, batch: int) -> Iterator[list[Event]]:
        step = size // (batch // 2)  # half the batch: old messages, spread over the history
        repeats = [server_copy(n) for n in range(step, size + 1, step)]
        while True:
            news = [server_copy(next(fresh)) for _ in range(batch - len(repeats))]
            events = [*news, *repeats]
            yield [partial(reconcile, state, incoming) for incoming in events]

    small_state = history_of(SMALL)
    small = best_cost_per_event(echoes(small_state, SMALL, SMALL_BATCH))
    large_state = history_of(LARGE)
    large = best_cost_per_event(
        echoes(large_state, LARGE, LARGE_BATCH),
        stop_below=small * BOUND / 2,
        stop_above=small * BOUND * 4,
    )

    for state, size in ((small_state, SMALL), (large_state, LARGE)):
        rows = state.chat(CHAT).rows
        if len(rows) <= size or len({row.client_id for row in rows}) != len(rows):
            raise RuleBroken(
                Rule.EXACTLY_ONCE,
                "new messages should be added once each and repeats not at all",
            )
    slow = next(echoes(history_of(TRACED), TRACED, 2))[0]
    compare("reconcile", small, large, record_property, slow)


@pytest.mark.budget(30)
@pytest.mark.timeout(60)
async def test_acks_and_failures_cost_the_same_with_a_long_history(
    flow: Flow, record_property: RecordProperty
) -> None:
    """Your own messages are pending at the bottom of a chat with 1,000
    messages, and of one with 200,000. Half of them are confirmed by their
    acks, half fail and are rolled back. Finding your pending row must not
    mean walking past every older message first."""

    fresh = count(LARGE + 1)

    def own_sends(state: ChatState, batch: int, only: str = "") -> Iterator[list[Event]]:
        chat = state.chat(CHAT)
        while True:
            events: list[Event] = []
            for k in range(batch):
                n = next(fresh)
                pending = Message(f"you-{n}", CHAT, "you", f"mine {n}", EPOCH)
                state.add(pending)
                chat.in_flight.add(pending.client_id)
                if only == "reconcile" or (k % 2 and only != "rollback"):
                    copy = server_copy(n, author="you", client_id=pending.client_id)
                    events.append(partial(flow.reconcile, state, copy))
                else:
                    client_id = pending.client_id
                    events.append(partial(flow.rollback, state, client_id, "x"))
            yield events

    small_state = history_of(SMALL)
    small = best_cost_per_event(own_sends(small_state, SMALL_BATCH))
    large_state = history_of(LARGE)
    large = best_cost_per_event(
        own_sends(large_state, LARGE_BATCH),
        stop_below=small * BOUND / 2,
        stop_above=small * BOUND * 4,
    )

    for state in (small_state, large_state):
        chat = state.chat(CHAT)
        mine = [row for row in chat.rows if row.author == "you"]
        if chat.in_flight or any(row.status is Status.PENDING for row in mine):
            raise RuleBroken(
                Rule.BOOKKEEPING,
                "every pending message was acked or rolled back, yet some are still unsettled",
            )
    slowest = "reconcile and rollback"
    if large / small > BOUND:  # name the one that got slower, from a quick look at each
        shares = {
            name: best_cost_per_event(own_sends(large_state, QUICK_BATCH, name), stop_above=0)
            / best_cost_per_event(own_sends(small_state, SMALL_BATCH, name), stop_below=ONE_LOOK)
            for name in ("reconcile", "rollback")
        }
        slowest = max(shares, key=shares.__getitem__)
    slow = next(own_sends(history_of(TRACED), 1, slowest))[0]
    compare(slowest, small, large, record_property, slow)
