"""Scale: handling one event costs the same with a short or a very long history.

A chat client lives for months; a busy chat holds hundreds of thousands of
messages. Every send, ack, echo and failure must be handled in constant time: find
the message through the index by client id (``state.get``), never by walking the
timeline, nor shift it to slot an old message into place. These scenarios time the
target's ``send``, ``reconcile`` and ``rollback`` on a history of 1,000 messages and
on one of 200,000, and compare the cost per event.

They compare the two sizes by a ratio, on the same machine in the same run, so a
slow computer does not matter; an implementation that scans the history is about a
hundred times slower on the long one, a correct one about as fast. Your phone runs
each batch of events (`chatkit.phone.scale`); the judge times it from its side.
"""

import ast
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chatkit.blame import Blame
from chatkit.engine.harness import Scenario
from chatkit.engine.remote import RemotePhone, blame_of
from chatkit.engine.rules import Rule, RuleBroken

pytestmark = pytest.mark.family("scale")

SMALL = 1_000
LARGE = 200_000
SMALL_BATCH = 400
"""Events timed per repeat on the short history (cheap, so many, for a steady measure)."""
LARGE_BATCH = 50
"""Events timed per repeat on the long history (few, so a scanning flow still ends soon)."""
REPEATS = 5
TIMED = 0.002
"""The shortest batch worth timing from outside, in seconds."""
MAX_BATCH = 3_200
"""The most events in one batch, however quick they are."""
QUICK_BATCH = 10
"""Events per batch when a failed comparison times reconcile and rollback apart."""
ONE_LOOK = float("inf")
"""As ``stop_below``: every cost is below it, so timing stops after one measured batch."""
TRACED = 5_000
"""The history one event runs on, traced, to find where the time goes: long enough for
a scan to stand out, short enough that tracing it stays well within the hang watch."""
STEADY = 3.0
"""An event this many times dearer on the long history, or less, costs the same: a steady
cost measures 1–1.6× (a long history's index is slower to reach), the rest is noise."""
BOUND = 10.0
"""An event more than this many times dearer on the long history gets dearer with it."""
LONGER = 400_000
"""The history that settles a cost between `STEADY` and `BOUND`: twice the long one."""
GROWS = 1.5
"""A cost that grows with the history is at least this many times dearer on `LONGER`
than on `LARGE` (a share of it doubles); a steady one stays near 1."""
KEPT_BATCH = 2_000
"""Sends, retries and echoes (`chatkit.phone.scale`'s ``sends`` job: about 1,000 new
messages, 250 of them left failed) between two counts of what a flow keeps outside the
state."""
KEPT_JOBS = (
    ("sends", KEPT_BATCH, "sends, retries and echoes"),
    ("own", KEPT_BATCH // 2, "acks and failures of your sends, half of them after their echo"),
    ("echoes", KEPT_BATCH, "messages from Bob, new and repeated"),
)
"""The events between two counts of what a flow keeps, by `chatkit.phone.scale` job: in
each, a flow may gain fewer values than a tenth of the events (fewer than one for each
message left failed, far more than a bounded cache, already full, gains)."""
PATIENCE = 30.0
"""How long the judge waits for one batch (a scan of 200,000 rows, fifty times, included)."""

RecordProperty = Callable[[str, object], None]
"""pytest's ``record_property``: what was measured goes in the report."""


def best_cost_per_event(
    phone: RemotePhone,
    job: str,
    size: int,
    batch: int,
    *,
    only: str = "",
    stop_below: float = 0.0,
    stop_above: float = float("inf"),
) -> float:
    """The cheapest seconds per event over ``REPEATS`` batches, timed by the judge: each
    batch's round trip, less that of an empty batch (the empty ones build the history),
    its events made beforehand (`_round_trip`).

    A batch grows (up to `MAX_BATCH`) until its round trip takes at least `TIMED`, so
    the two processes' turns on a busy machine stay small beside the events. The best
    of a few repeats filters out the moments the machine was busy with something else.
    Timing stops early once the cost is clearly below ``stop_below``, or clearly above
    ``stop_above`` in two batches running (a scan of the whole history: no need to time
    it six times). What the phone says it took is not used: the phone only runs.
    """
    empty = {"do": "scale", "job": job, "size": size, "batch": 0, "only": only}
    overhead = min(_round_trip(phone, empty) for _ in range(3))  # builds the history, too
    best = float("inf")
    slow = 0
    measured = 0
    while measured < REPEATS:
        elapsed = max(_round_trip(phone, {**empty, "batch": batch}) - overhead, 1e-9)
        if elapsed < TIMED and batch < MAX_BATCH:
            batch = min(batch * 4, MAX_BATCH)
            continue  # too quick to time well: a bigger batch next
        measured += 1
        best = min(best, elapsed / batch)
        slow = slow + 1 if best > stop_above else 0
        if best < stop_below or slow == 2:
            break
    return best


def _round_trip(phone: RemotePhone, command: dict[str, object]) -> float:
    """Seconds from sending ``command`` to reading the phone's report; its events are made
    first (the messages its acks and failures answer are sent), untimed."""
    phone.job({**command, "prepare": True}, PATIENCE)
    start = time.perf_counter()
    phone.job(command, PATIENCE)
    return time.perf_counter() - start


def dearer(phone: RemotePhone, job: str, small: float, large: float, only: str = "") -> bool:
    """Whether events of ``job`` get dearer as the history grows.

    Two sizes settle most flows: a cost at most `STEADY` times the short history's is
    steady, one over `BOUND` times grows. In between (a list shifted in C for each
    event costs little per row: a few times more on the long history), the cost on a
    history twice as long again decides: a cost that grows with the history is `GROWS`
    times dearer there, while noise that lifted a steady cost once seldom lifts it twice.
    """
    ratio = large / small
    if ratio <= STEADY or ratio > BOUND:
        return ratio > BOUND
    longer = best_cost_per_event(phone, job, LONGER, LARGE_BATCH, only=only)
    return longer / large >= GROWS


def compare(
    phone: RemotePhone,
    what: str,
    small: float,
    large: float,
    record_property: RecordProperty,
    job: str,
    only: str = "",
    *,
    slower: bool | None = None,
) -> None:
    """Fail when the long history makes events dearer (`dearer`, unless ``slower`` says),
    naming the line that costs.

    The phone then traces one event of ``what`` on a history of `TRACED` messages, to
    find the learner's line where the time goes, and the flow function around it (a
    ``send`` that calls a slow ``reconcile`` is mended in ``reconcile``). The costs go in
    the report as what was measured, not in the verdict: they differ a little on every
    run, and the verdict must not.
    """
    ratio = large / small
    record_property(
        "cost per event",
        f"{small * 1e6:.1f} µs with {SMALL:,} messages, {large * 1e6:.1f} µs with {LARGE:,} "
        f"({ratio:.1f}×)",
    )
    if slower is None:
        slower = dearer(phone, job, small, large, only)
    if slower:
        traced = {"do": "scale_trace", "job": job, "size": TRACED, "only": only, "function": what}
        hot = blame_of(phone.job(traced, PATIENCE).get("result"))
        who = hot.function if hot is not None and hot.function else what
        raise RuleBroken(
            Rule.FAST,
            f"{who} got slower per event as the history grew, from {SMALL:,} messages on "
            f"screen to {LARGE:,}. {advice(hot, job)}",
            expected=["the same cost per event, however long the history"],
            actual=["dearer on a longer history"],
            blame=hot,
            function=hot.function if hot is not None and hot.function else what,
        )


def looks(phone: RemotePhone, job: str, size: int) -> dict[str, int]:
    """What the phone's history holds now: rows, distinct ids, in flight, pending of yours."""
    result = phone.job({"do": "scale_check", "job": job, "size": size}).get("result")
    if type(result) is not dict or any(type(value) is not int for value in result.values()):
        raise RuleBroken(Rule.EXACTLY_ONCE, "the phone could not say what its history holds")
    return result


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


def advice(hot: Blame | None, job: str = "") -> str:
    """What to do about the line where the time went, from what the line does (and, for
    old messages arriving late, what the time was spent for)."""
    code = hot.code if hot is not None else ""
    if job == "older":
        return (
            "Putting an old message in its place should not mean walking or shifting the "
            "timeline: the screen already shows confirmed rows in server order (by seq), "
            "whatever order they were added in."
        )
    if re.search(r"\.(remove|index|insert|pop)\(", code):
        return (
            "That line searches or shifts the whole timeline for one row (a list's remove, "
            "index, insert and pop walk it): leave the row in its place and change its fields."
        )
    if re.search(r"\bsort(ed)?\(", code):
        return "That line sorts the whole timeline for one event: change only the one row."
    if job == "sends":
        return (
            "Sending should not look through the timeline: a fresh random id is unique "
            "without checking it against the others, the new row goes at the bottom, and "
            "the row a retry or a late echo is about is found with state.get(client_id)."
        )
    if hot is not None and (re.search(r"\bin\b", code) or _in_a_loop(hot.file, hot.line)):
        return (
            "That line walks the timeline for one row: find it with state.get(client_id), "
            "a dictionary look-up."
        )
    return (
        "Each event should touch only its own row: find it with state.get(client_id), and "
        "change nothing that grows with the history."
    )


def small_and_large(phone: RemotePhone, job: str) -> tuple[float, float]:
    """The cost of one event of ``job`` on the short history and on the long one; the long
    one measured only as closely as it takes to tell whether it is within the bound."""
    small = best_cost_per_event(phone, job, SMALL, SMALL_BATCH)
    large = best_cost_per_event(
        phone,
        job,
        LARGE,
        LARGE_BATCH,
        stop_below=small * STEADY / 2,
        stop_above=small * BOUND * 4,
    )
    return small, large


@pytest.mark.budget(30)
async def test_echoes_cost_the_same_with_a_long_history(
    kit: Scenario, record_property: RecordProperty
) -> None:
    """Bob's chat with you holds 1,000 messages on one phone and 200,000 on
    another. On both, new messages from Bob arrive, and some old ones are
    echoed again after a reconnect. Showing a new message, or recognising a
    repeat, must not get slower as the history grows: each event should cost
    about the same on both phones."""
    phone = kit.client()
    small, large = small_and_large(phone, "echoes")
    for size in (SMALL, LARGE):
        seen = looks(phone, "echoes", size)
        if seen["rows"] <= size or seen["distinct"] != seen["rows"]:
            raise RuleBroken(
                Rule.EXACTLY_ONCE,
                "new messages should be added once each and repeats not at all",
            )
    compare(phone, "reconcile", small, large, record_property, "echoes")


@pytest.mark.budget(30)
async def test_older_messages_cost_the_same_with_a_long_history(
    kit: Scenario, record_property: RecordProperty
) -> None:
    """You reconnect to Bob's chat, 1,000 messages long on one phone and
    200,000 on another, and messages Bob sent long ago arrive late: each one
    older than everything the chat shows. Showing an old message must not get
    slower as the history grows: the screen puts the rows in server order
    itself, so each event should cost about the same on both phones."""
    phone = kit.client()
    small, large = small_and_large(phone, "older")
    for size in (SMALL, LARGE):
        seen = looks(phone, "older", size)
        if seen["rows"] <= size or seen["distinct"] != seen["rows"]:
            raise RuleBroken(Rule.OTHERS, "each older message should be added once")
    compare(phone, "reconcile", small, large, record_property, "older")


@pytest.mark.budget(30)
@pytest.mark.timeout(60)
async def test_acks_and_failures_cost_the_same_with_a_long_history(
    kit: Scenario, record_property: RecordProperty
) -> None:
    """You send messages in a chat with 1,000 messages, and in one with
    200,000, and the server holds them: each waits, pending at the bottom.
    Then half are confirmed by their acks, half fail (refused, or timed out)
    and are rolled back.
    Finding your pending row must not mean walking past every older message
    first."""
    phone = kit.client()
    first = {"do": "scale", "job": "own", "size": SMALL, "batch": 2, "only": ""}
    if phone.job(first, PATIENCE).get("result") != 0:
        raise RuleBroken(
            Rule.FINISHES,
            "your message did not reach the server, or its send did not finish once the "
            "server answered",
        )
    small, large = small_and_large(phone, "own")
    for size in (SMALL, LARGE):
        seen = looks(phone, "own", size)
        if seen["in_flight"] or seen["pending"]:
            raise RuleBroken(
                Rule.BOOKKEEPING,
                "every pending message was acked or rolled back, yet some are still unsettled",
            )
    slowest = "reconcile and rollback"
    slower = dearer(phone, "own", small, large)
    if slower:  # name the one that got slower, from a quick look at each
        shares = {
            name: best_cost_per_event(phone, "own", LARGE, QUICK_BATCH, only=name, stop_above=0)
            / best_cost_per_event(phone, "own", SMALL, SMALL_BATCH, only=name, stop_below=ONE_LOOK)
            for name in ("reconcile", "rollback")
        }
        # Both may scan (a helper they share): then the first is named, not whichever a
        # busy machine made look slower on this run.
        slow = [name for name, share in shares.items() if share > BOUND]
        slowest = slow[0] if slow else max(shares, key=shares.__getitem__)
    only = slowest if slowest in ("reconcile", "rollback") else ""
    compare(phone, slowest, small, large, record_property, "own", only, slower=slower)


@pytest.mark.budget(30)
async def test_sends_cost_the_same_with_a_long_history(
    kit: Scenario, record_property: RecordProperty
) -> None:
    """You send messages in your chat with Bob, 1,000 messages long on one
    phone and 200,000 on another, and the server answers each one at once: it
    acks one (and you tap retry on it again, which changes nothing); refuses the next, which you retry and it acks; refuses a third,
    whose echo then arrives late (the server had it after all); and refuses a
    fourth, which you leave failed. Now and then you also retry one of your
    messages that failed long ago, at the top of the history, and it is
    refused again. Showing, retrying, confirming and failing your messages must
    not get slower as the history grows: none of it needs a look at the old
    ones. And once a message is settled, sent or failed, your
    flow keeps nothing of it outside the chat state: thousands more messages
    later, what it holds has not grown."""
    phone = kit.client()
    first = {"do": "scale", "job": "sends", "size": SMALL, "batch": 1, "only": ""}
    if phone.job(first, PATIENCE).get("result") != 0:
        raise RuleBroken(
            Rule.FINISHES, "the server acked your message at once, but the send did not finish"
        )
    small, large = small_and_large(phone, "sends")
    for size in (SMALL, LARGE):
        seen = looks(phone, "sends", size)
        if seen["rows"] <= size or seen["distinct"] != seen["rows"]:
            raise RuleBroken(Rule.EXACTLY_ONCE, "each message you send should be shown once")
        if seen["in_flight"] or seen["pending"]:
            raise RuleBroken(
                Rule.BOOKKEEPING,
                "every message you sent was acked, refused or echoed, yet some are still unsettled",
            )
    expect_nothing_kept_per_message(phone)
    compare(phone, "send", small, large, record_property, "sends")


def expect_nothing_kept_per_message(phone: RemotePhone) -> None:
    """Rule 14: what the flow keeps outside the state does not grow with every message
    settled, whichever way it was settled: sends, retries and late echoes; acks and
    failures, some after their echo; Bob's messages, new and repeated (counted by the
    phone, by the module-level name that holds it: `chatkit.phone.kept`)."""
    for job, batch, what in KEPT_JOBS:
        before = kept(phone)
        phone.job({"do": "scale", "job": job, "size": SMALL, "batch": batch, "only": ""})
        after = kept(phone)
        grown = {name: count - before.get(name, 0) for name, count in after.items()}
        if sum(grown.values()) >= batch // 10:
            name = max(sorted(grown), key=grown.__getitem__)
            raise RuleBroken(
                Rule.BOOKKEEPING,
                f"after {batch:,} more {what}, your module's {name.partition('.')[2]} "
                f"({name.partition('.')[0]}.py) holds {grown[name]:,} more values: it keeps "
                "something of messages for good. Once a message is settled, sent or failed, "
                "keep nothing of it outside the chat state",
            )


def kept(phone: RemotePhone) -> dict[str, int]:
    """What the phone's flow keeps outside the state, by the name that holds it."""
    result = phone.job({"do": "scale_kept"}).get("result")
    if type(result) is not dict or any(
        type(name) is not str or type(count) is not int for name, count in result.items()
    ):
        raise RuleBroken(Rule.BOOKKEEPING, "the phone could not say what your flow keeps")
    return result
