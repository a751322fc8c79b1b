"""The timeline explorer tests itself: it counts right, it agrees with brute force, and it
catches what the hand-written scenarios cannot.

- The world's orderings: counted without running anything, they must match a
  brute-force enumeration, and every one must respect causality.
- The reference solution keeps every rule in every timeline of every world the
  family uses.
- Merging states and skipping server-only events must not change a single verdict:
  on small worlds the explorer's counts per broken rule equal those of running every
  ordering from scratch.
- Each flow of ``SUBTLE`` in ``mistakes.py`` is the solution with one subtle mistake
  (its docstring says which), written out to a temporary folder. It passes every
  hand-written scenario, yet the "all timelines" family catches it, with a
  counterexample of at most eight steps that is the shortest there is (checked by
  brute force over every shorter ordering).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import mistakes
import pytest

from chatkit import ChatServer, ChatState, Message, ServerMessage
from chatkit.engine.remote import PhoneFailed, PhoneMisbehaved, PhoneRaised, RemotePhone
from chatkit.engine.rules import Rule, RuleBroken
from chatkit.engine.timelines import (
    DEFAULT_SIZE,
    ONE_MESSAGE,
    TWO_RETRIES,
    WORLD_SIZES,
    Device,
    Event,
    EventKind,
    Exploration,
    LocalDevice,
    PhoneDevice,
    SendOutcome,
    SendPlan,
    SmallWorld,
    TimelinesBroken,
    check_each,
    explore,
    space,
    tell,
    verdict,
    world_of_size,
)
from chatkit.grading.results import GradeReport
from chatkit.protocols import Flow
from chatkit.target import load_flow, resolve_target

KIT_TESTS = Path(__file__).resolve().parent
FAMILY = "all timelines"
MAX_STEPS = 8

CAUGHT_AS: dict[str, Rule] = {
    "same_words_resend": Rule.UNIQUE_IDS,
    "failed_rows_sink": Rule.SERVER_TRUTH,
}
"""Each subtle flow, and the rule its shortest counterexample breaks."""

DEFAULT = world_of_size(DEFAULT_SIZE)
TWO_OKS = SmallWorld(
    (SendPlan("ok", SendOutcome.ACK_LOST), SendPlan("ok", SendOutcome.REFUSED, echoes=0))
)
"""Small enough to run every ordering from scratch, and both subtle mistakes show in it."""
BRUTE_FORCE_WORLDS = {"two oks": TWO_OKS, "size 2": world_of_size(2), "one message": ONE_MESSAGE}


def flow_at(target: str | Path) -> Flow:
    return load_flow(resolve_target(str(target)))


SOLUTION = flow_at("solution")


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The folder of each known-wrong and subtle flow, written out once from the solution."""
    written = mistakes.write_all(tmp_path_factory.mktemp("mistakes"))
    return {name: path.parent for name, path in written.items()}


# The orderings of a world.


@pytest.mark.parametrize(
    "world",
    [*WORLD_SIZES[:3], ONE_MESSAGE, TWO_OKS],
    ids=["size 1", "size 2", "size 3", "one message", "two oks"],
)
def test_the_orderings_are_counted_right(world: SmallWorld) -> None:
    """Counting the orderings (without running anything) agrees with listing them."""
    orderings = space(world).sequences()
    assert len(orderings) == space(world).completions(space(world).start)
    assert len(set(orderings)) == len(orderings)


@pytest.mark.parametrize(
    "world", [world_of_size(2), TWO_RETRIES, TWO_OKS], ids=["size 2", "two retries", "two oks"]
)
def test_every_ordering_respects_causality(world: SmallWorld) -> None:
    """The server receives a send before it stores, answers or echoes it; a retry comes
    after the failure, before any echo; the retry's ack after the retry and the store."""
    for events in space(world).sequences():
        seen: list[Event] = []
        for event in events:
            index = event.send
            done = {e.kind for e in seen if e.send == index}
            echoes = sum(e.kind is EventKind.ECHO for e in seen if e.send == index)
            if event.kind is EventKind.SEND:
                assert not done
            elif event.kind is EventKind.STORE:
                assert EventKind.SEND in done
                if world.sends[index].outcome is SendOutcome.REFUSED:
                    assert EventKind.RETRY in done  # a refused send is stored only when retried
            elif event.kind in (EventKind.ACK, EventKind.ECHO):
                assert EventKind.STORE in done
            elif event.kind in (EventKind.TIME_OUT, EventKind.REFUSE):
                assert EventKind.SEND in done
            elif event.kind is EventKind.RETRY:
                assert done & {EventKind.TIME_OUT, EventKind.REFUSE} and not echoes
            elif event.kind is EventKind.RETRY_ACK:
                assert {EventKind.RETRY, EventKind.STORE} <= done
            elif event.kind is EventKind.POST_ECHO:
                assert Event(EventKind.POST) in seen
            seen.append(event)
        assert not space(world).moves(space(world).replay(events))


def test_the_worlds_grow_with_their_size() -> None:
    """Each size adds an ingredient, and the number of orderings grows with it."""
    counts = [space(world).completions(space(world).start) for world in WORLD_SIZES]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)
    assert counts[DEFAULT_SIZE - 1] == 62_370 >= 10_000


# The reference solution.


@pytest.mark.parametrize(
    "world", [ONE_MESSAGE, DEFAULT, TWO_RETRIES], ids=["one message", "default", "two retries"]
)
def test_the_solution_keeps_every_rule_in_every_timeline(world: SmallWorld) -> None:
    """Every rule holds after every step of every ordering of the family's worlds."""
    result = explore(SOLUTION, world)
    assert result.ok, result.summary()
    assert result.orderings == space(world).completions(space(world).start)
    assert result.states > 0 and result.transitions >= result.states


def test_the_explorer_counts_the_same_every_run() -> None:
    """Random client ids, a fresh server each replay: the counts never change."""
    first, second = explore(SOLUTION, DEFAULT), explore(SOLUTION, DEFAULT)
    assert _numbers(first) == _numbers(second)


# The explorer agrees with brute force.


@pytest.mark.parametrize("world_name", sorted(BRUTE_FORCE_WORLDS))
@pytest.mark.parametrize(
    "target",
    [
        "solution",
        *sorted(mistake.name for mistake in mistakes.SUBTLE),
        "rollback_fails_sent",
        "dedup_by_body",
    ],
)
def test_the_explorer_agrees_with_brute_force(
    target: str, world_name: str, flows: dict[str, Path]
) -> None:
    """Run every complete ordering from scratch, with no state shared or merged: the
    explorer must report exactly the same number of broken timelines per rule, with
    and without merging states."""
    path = target if target == "solution" else flows[target]
    flow, world = flow_at(path), BRUTE_FORCE_WORLDS[world_name]
    orderings = space(world).sequences()
    brute = Counter(f.label for f in check_each(flow, world, orderings) if f is not None)
    merged = explore(flow, world)
    plain = explore(flow, world, dedup=False)
    assert merged.orderings == plain.orderings == len(orderings)
    assert dict(brute) == merged.broken == plain.broken
    assert plain.executed + sum(plain.broken.values()) == len(orderings)


# The subtle flows.

SUBTLE = sorted(CAUGHT_AS)


class _Explored(dict[str, Exploration]):
    """Each subtle flow explored at the default size when a test first asks for it, then
    kept for the others (so no one test pays for them all, within its time limit)."""

    def __init__(self, flows: dict[str, Path]) -> None:
        super().__init__()
        self.flows = flows

    def __missing__(self, name: str) -> Exploration:
        found = self[name] = explore(flow_at(self.flows[name]), DEFAULT)
        return found


@pytest.fixture(scope="module")
def caught(flows: dict[str, Path]) -> dict[str, Exploration]:
    """Each subtle flow explored at the default size, once for all the tests below."""
    return _Explored(flows)


def test_every_subtle_flow_is_listed() -> None:
    assert sorted(mistake.name for mistake in mistakes.SUBTLE) == SUBTLE


@pytest.mark.timeout(mistakes.CLASS_TIMEOUT)
@pytest.mark.parametrize("name", SUBTLE)
def test_a_subtle_flow_passes_every_hand_written_scenario(
    name: str, graded_mistake: Callable[[str], GradeReport]
) -> None:
    """Graded like a learner's code, the subtle flow passes every scenario of every other
    family, and fails only in "all timelines"."""
    report = graded_mistake(name)
    assert report.load_error is None, report.load_error
    failing = {
        result.nodeid: result.message
        for result in report.results
        if result.outcome.value != "passed" and result.family != FAMILY
    }
    assert not failing, f"{name} fails hand-written scenarios: {failing}"
    assert len([r for r in report.results if r.family != FAMILY]) >= 60
    timelines = [result for result in report.results if result.family == FAMILY]
    assert any(result.outcome.value == "failed" for result in timelines), timelines
    assert all(result.rule in (None, str(CAUGHT_AS[name])) for result in timelines)


@pytest.mark.parametrize("name", SUBTLE)
def test_a_subtle_flow_is_caught_with_a_short_story(
    name: str, caught: dict[str, Exploration], flows: dict[str, Path]
) -> None:
    """The family fails it at the default size, naming the rule, with a counterexample
    of at most eight steps that breaks that rule when run again from scratch."""
    result = caught[name]
    story = result.counterexample
    assert story is not None and story.failure is not None, result.summary()
    assert story.failure.rule is CAUGHT_AS[name], story
    assert 1 <= len(story.events) <= MAX_STEPS
    assert len(story.steps) == len(story.events)
    again = verdict(flow_at(flows[name]), DEFAULT, story.events)
    assert again is not None and again.rule is CAUGHT_AS[name]
    assert verdict(flow_at(flows[name]), DEFAULT, story.events[:-1]) is None
    with pytest.raises(RuleBroken) as raised:
        result.raise_if_broken()
    assert isinstance(raised.value, TimelinesBroken)
    assert raised.value.rule is CAUGHT_AS[name]
    detail = raised.value.detail
    assert f"of {result.orderings:,} timelines" in detail
    assert (
        f"{str(CAUGHT_AS[name]).split(',')[0]}: {result.broken[str(CAUGHT_AS[name])]:,}" in detail
    )
    notes = "\n".join(getattr(raised.value, "__notes__", []))
    assert all(step.line() in notes for step in story.steps)


@pytest.mark.parametrize("name", SUBTLE)
def test_the_counterexample_is_the_shortest(
    name: str, caught: dict[str, Exploration], flows: dict[str, Path]
) -> None:
    """Brute force: no ordering shorter than the counterexample breaks the same rule."""
    story = caught[name].counterexample
    assert story is not None and story.failure is not None
    flow = flow_at(flows[name])
    shorter = space(DEFAULT).sequences(len(story.events) - 1)  # every shorter one is a prefix
    assert shorter
    verdicts = check_each(flow, DEFAULT, shorter)
    assert [f for f in verdicts if f is not None and f.label == story.failure.label] == []


@pytest.mark.parametrize("name", SUBTLE)
def test_the_story_is_the_same_every_run(
    name: str, caught: dict[str, Exploration], flows: dict[str, Path]
) -> None:
    """Same counts, same counterexample, same words — no random ids in the story."""
    again = explore(flow_at(flows[name]), DEFAULT)
    first = caught[name]
    assert _numbers(again) == _numbers(first)
    assert again.counterexample is not None and first.counterexample is not None
    assert again.counterexample.lines() == first.counterexample.lines()


def test_one_story_reads_like_this(flows: dict[str, Path]) -> None:
    """The shortest counterexample of "failed rows sink", as the learner reads it."""
    story = tell(
        flow_at(flows["failed_rows_sink"]),
        DEFAULT,
        (Event(EventKind.SEND, 1), Event(EventKind.TIME_OUT, 1), Event(EventKind.SEND, 0)),
    )
    assert story.lines() == [
        "1. you send 'ok' → 'ok' pending · [sending…]",
        "2. the ack for 'ok' is lost: your client gives up waiting → 'ok' failed (no answer "
        "from the server in time) · [banner: no answer from the server in time]",
        "3. you send 'hi' → 'hi' pending · 'ok' failed (no answer from the server in time) "
        "· [sending…] · [banner: no answer from the server in time]",
        "✗ rule 5, The server is the truth: unconfirmed messages must stay in the order they "
        "were sent ('ok', 'hi'), but they show as 'hi', 'ok'",
    ]


# The known-wrong flows of the other families are caught here too.

NOT_ABOUT_ORDERINGS = {
    "linear_scan",  # slow, never wrong
    "retry_walks_to_its_row",  # … the same,
    "late_confirmation_moves_the_row",  # … the same,
    "timestamp_ids",  # wrong only when two sends share an instant of the clock
    "module_counter_ids",  # ids that collide only across two devices,
    "id_numbered_ids",  # … the same way,
    "ids_from_row_count",  # … across two devices,
    "ids_from_own_count",  # … across two phones of one user,
    "short_random_ids",  # … in a burst of sends,
    "ids_of_8_hex_digits",  # … among millions of devices,
    "ids_of_8_hex_digits_then_the_chat",  # … the same way,
    "new_id_after_two_retries",  # … or after more retries than a small world has
    "copy_returned_after_failure",  # what send returns is not on screen
    "retry_returns_nothing",  # … the same,
    "created_at_read_at_import",  # wrong only when the clock moves between sends,
    "rollback_restamps_created_at",  # … or between a send and its failure,
    "retry_restamps_created_at",  # … or before a retry,
    "created_at_cut_to_seconds",  # … or off a whole second,
    "local_time_labelled_utc",  # wrong only on a phone outside UTC
    "waits_on_the_clock_after_the_ack",  # a wait on the clock is no ordering
    "words_tidied_before_sending",  # wrong only for words with spaces around them
    "rollback_tidies_the_words",  # … the same way,
    "retry_tidies_the_words",  # … the same way,
    "windows_line_breaks_tidied",  # … or with a Windows line break,
    "strip_before_check",  # … or past the length limit,
    "blank_checked_by_hand",  # … or for blank words,
    "length_in_bytes",  # … or at it, in letters of more than one byte
    "escape_incoming",  # wrong only for words with & < >
    "others_in_open_chat",  # wrong only with two chats,
    "rollback_in_the_open_chat",  # … the same way,
    "stale_retry_clears_the_banner",  # a world retries only what shows failed
    "dedup_by_seq_only",  # … the same way,
    "dedup_others_by_seq",  # … or on a reload, which the default world has not,
    "seen_lately_skipped",  # … the same
    "others_dedup_by_author_body",  # wrong only when bob says the same thing twice
    "retry_keeps_error",  # wrong only in a retry, which the default world has not,
    "rollback_only_while_pending",  # … refused twice,
    "ack_only_while_pending",  # … the same,
    "id_and_seq_swapped",  # wrong only with two chats,
    "pending_retry_makes_a_new_row",  # … the same
    "old_messages_walked_into_place",  # slow, never wrong
    "old_messages_shifted_into_place",  # … the same,
    "new_id_checked_against_rows",  # … the same,
    "time_out_walks_to_its_row",  # … the same,
    "retry_looks_from_the_bottom",  # … the same,
    "echo_first_rebuilds_the_rows",  # … the same,
    "ids_kept_at_module_level",  # a leak, never wrong on screen
    "ids_kept_in_a_cache",  # … the same,
    "stale_retry_kept",  # … the same,
    "others_ids_kept",  # … the same,
    "echo_first_ids_kept",  # … the same,
    "ids_kept_under_a_private_name",  # … the same,
    "unsettled_kept_after_failure",  # … the same,
    "ids_kept_in_a_chat_of_its_own",  # … the same
}


@pytest.mark.parametrize(
    "name",
    sorted(mistake.name for mistake in mistakes.WRONG if mistake.name not in NOT_ABOUT_ORDERINGS),
)
def test_the_known_wrong_flows_break_a_rule_here_too(name: str, flows: dict[str, Path]) -> None:
    """Every mistake the other families catch that can show in a timeline shows here."""
    result = explore(flow_at(flows[name]), DEFAULT)
    assert not result.ok


# Driving flows that do more than the reference.


class _Wrapped:
    """The reference solution, with extra awaits or a stuck send, as a flow object."""

    def __init__(self, before: Any = None, around: Any = None) -> None:
        self._before = before
        self._around = around

    async def send(
        self,
        state: ChatState,
        server: ChatServer,
        chat_id: str,
        body: str,
        *,
        client_id: str | None = None,
    ) -> Message:
        if self._before is not None:
            await self._before(server, chat_id)
        inner = server if self._around is None else self._around(server)
        return await SOLUTION.send(state, inner, chat_id, body, client_id=client_id)

    def reconcile(self, state: ChatState, incoming: ServerMessage) -> None:
        SOLUTION.reconcile(state, incoming)

    def rollback(self, state: ChatState, client_id: str, reason: str) -> None:
        SOLUTION.rollback(state, client_id, reason)


class _Yielding:
    """A server wrapper that yields to the event loop before and after each send."""

    def __init__(self, server: ChatServer) -> None:
        self.server = server

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        await asyncio.sleep(0)
        stored = await self.server.send(chat_id, client_id, body)
        await asyncio.sleep(0)
        return stored

    async def history(self, chat_id: str) -> list[ServerMessage]:
        return await self.server.history(chat_id)


class _ReadsHistoryFirst(_Yielding):
    """A server wrapper whose send reads the chat's history (after the row is shown)."""

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        await self.server.history(chat_id)
        return await self.server.send(chat_id, client_id, body)


def test_a_send_that_yields_to_the_loop_is_driven_like_in_the_harness() -> None:
    """Bare yields (``await asyncio.sleep(0)``) are stepped through, as the harness's
    event loop would: the same verdict, over the same orderings."""
    result = explore(_Wrapped(around=_Yielding), DEFAULT)
    assert result.ok, result.summary()
    assert _numbers(result)[:2] == _numbers(explore(SOLUTION, DEFAULT))[:2]


def test_a_flow_that_reads_the_history_is_explored_without_the_shortcut() -> None:
    """A flow that asks the server for history can see what it stored, so the
    explorer stops assuming stores are invisible, and still finds it correct."""

    result = explore(_Wrapped(around=_ReadsHistoryFirst), world_of_size(2))
    assert result.ok, result.summary()
    assert result.shortcuts == 0
    assert explore(SOLUTION, world_of_size(2)).shortcuts > 0


class _Stuck:
    """A server wrapper whose send waits for something that never comes."""

    def __init__(self, server: ChatServer) -> None:
        self._server = server

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        never: asyncio.Future[ServerMessage] = asyncio.get_running_loop().create_future()
        return await never

    async def history(self, chat_id: str) -> list[ServerMessage]:
        return await self._server.history(chat_id)


def test_a_send_stuck_on_something_else_is_reported() -> None:
    """A send that shows its row, then waits for something that never comes, breaks
    rule 15 at once."""
    result = explore(_Wrapped(around=_Stuck), ONE_MESSAGE)
    story = result.counterexample
    assert story is not None and story.failure is not None
    assert story.failure.rule is Rule.FINISHES and len(story.events) == 1


def test_a_send_that_awaits_before_showing_its_row_breaks_rule_1() -> None:
    """The moment a send first gives the loop a turn, its row must be on screen."""

    async def wait_forever(server: ChatServer, chat_id: str) -> None:
        await asyncio.get_running_loop().create_future()

    result = explore(_Wrapped(before=wait_forever), ONE_MESSAGE)
    story = result.counterexample
    assert story is not None and story.failure is not None
    assert story.failure.rule is Rule.INSTANT and len(story.events) == 1


def test_a_crash_is_raised_again_with_its_story() -> None:
    """When the learner's code raises, that error is raised (so the grader shows its
    file and line, which the phone tells), with the story of the shortest ordering that made it raise."""

    class Crashing(_Wrapped):
        def reconcile(self, state: ChatState, incoming: ServerMessage) -> None:
            row = state.get(incoming.client_id)
            if row is not None and row.seq is not None:
                raise KeyError("confirmed twice")
            SOLUTION.reconcile(state, incoming)

    result = explore(Crashing(), ONE_MESSAGE)
    assert "crash (KeyError)" in result.broken
    with pytest.raises(
        PhoneRaised
    ) as raised:  # what the phone's flow raised, as the judge hears it
        result.raise_if_broken()
    assert raised.value.kind == "KeyError" and raised.value.blame is not None
    notes = "\n".join(getattr(raised.value, "__notes__", []))
    assert "1. you send 'hi'" in notes and "timelines broke a rule" in notes


BOOKKEEPING_FLOW = (
    (KIT_TESTS.parent.parent / "solution" / "flow.py")
    .read_text()
    .replace(
        "from chatkit import (",
        "SENT_SO_FAR = 0\nPENDING: dict[str, str] = {}\n\nfrom chatkit import (",
    )
    .replace(
        "    chat.in_flight.add(message.client_id)\n",
        "    chat.in_flight.add(message.client_id)\n"
        "    global SENT_SO_FAR\n"
        "    SENT_SO_FAR += 1\n"
        "    PENDING[message.client_id] = body\n",
    )
    .replace(
        "    message.confirm(incoming)\n",
        "    message.confirm(incoming)\n    PENDING.pop(incoming.client_id, None)\n",
    )
)


def test_a_flow_with_module_level_bookkeeping_starts_each_run_afresh(tmp_path: Path) -> None:
    """A flow may keep bookkeeping at module level. Runs the explorer abandons half-way
    never clean theirs up, so each run starts from a fresh copy of the flow — and the
    copy that was given is left as it was."""
    (tmp_path / "flow.py").write_text(BOOKKEEPING_FLOW)
    assert "SENT_SO_FAR += 1" in BOOKKEEPING_FLOW and "PENDING.pop" in BOOKKEEPING_FLOW
    flow = flow_at(tmp_path)
    result = explore(flow, DEFAULT)
    assert result.ok, result.summary()
    reference = explore(SOLUTION, DEFAULT)
    assert (result.orderings, result.states) == (reference.orderings, reference.states)
    assert flow.SENT_SO_FAR == 0 and flow.PENDING == {}  # type: ignore[attr-defined]


# One bug, kept in each of the places a flow can keep state: when your own echo beat
# your own ack, Bob's next message brings a banner from nowhere (rule 7). Wherever the
# flag lives, every timeline starts without it, and states that differ by it are not
# merged: each finds the bug in the same timelines.
MEMO_HOLDERS = {
    "a module dict": (
        'MEMO = {"first": "", "in_send": False}\n\n\n'
        "def get(key):\n    return MEMO[key]\n\n\n"
        "def put(key, value):\n    MEMO[key] = value\n"
    ),
    "an object": (
        "class Memo:\n    def __init__(self):\n"
        '        self.first = ""\n        self.in_send = False\n\n\nMEMO = Memo()\n\n\n'
        'def get(key):\n    return MEMO.first if key == "first" else MEMO.in_send\n\n\n'
        "def put(key, value):\n"
        '    if key == "first":\n        MEMO.first = value\n'
        "    else:\n        MEMO.in_send = value\n"
    ),
    "a class": (
        'class Memo:\n    first = ""\n    in_send = False\n\n\n'
        'def get(key):\n    return Memo.first if key == "first" else Memo.in_send\n\n\n'
        "def put(key, value):\n"
        '    if key == "first":\n        Memo.first = value\n'
        "    else:\n        Memo.in_send = value\n"
    ),
    "a function's attributes": (
        'def get(key):\n    return get.first if key == "first" else get.in_send\n\n\n'
        'get.first, get.in_send = "", False\n\n\n'
        "def put(key, value):\n"
        '    if key == "first":\n        get.first = value\n'
        "    else:\n        get.in_send = value\n"
    ),
    "a default argument": (
        'def _memo(memo={"first": "", "in_send": False}):\n    return memo\n\n\n'
        "def get(key):\n    return _memo()[key]\n\n\n"
        "def put(key, value):\n    _memo()[key] = value\n"
    ),
    "a closure": (
        "def _make():\n"
        '    memo = {"first": "", "in_send": False}\n\n'
        "    def get(key):\n        return memo[key]\n\n"
        "    def put(key, value):\n        memo[key] = value\n\n"
        "    return get, put\n\n\n"
        "get, put = _make()\n"
    ),
    "a helper module": "from memo import get, put\n",
    "a kit class": (
        'def get(key):\n    if key == "first":\n        return getattr(Status, "memo_first", "")\n'
        '    return getattr(Status, "memo_in_send", False)\n\n\n'
        "def put(key, value):\n"
        '    if key == "first":\n        Status.memo_first = value\n'
        "    else:\n        Status.memo_in_send = value\n"
    ),
    "a class of Python's": (
        "import uuid\n\n\n"
        'def get(key):\n    if key == "first":\n        return getattr(uuid.UUID, "memo_first", "")\n'
        '    return getattr(uuid.UUID, "memo_in_send", False)\n\n\n'
        "def put(key, value):\n"
        '    if key == "first":\n        uuid.UUID.memo_first = value\n'
        "    else:\n        uuid.UUID.memo_in_send = value\n"
    ),
    "a base class of a class of Python's": (
        "import asyncio\n\n\n"
        "def get(key):\n    base = asyncio.Lock.mro()[1]\n"
        '    if key == "first":\n        return getattr(base, "memo_first", "")\n'
        '    return getattr(base, "memo_in_send", False)\n\n\n'
        "def put(key, value):\n    base = asyncio.Lock.mro()[1]\n"
        '    if key == "first":\n        base.memo_first = value\n'
        "    else:\n        base.memo_in_send = value\n"
    ),
    "a kit function": (
        'def get(key):\n    if key == "first":\n'
        '        return getattr(check_body, "memo_first", "")\n'
        '    return getattr(check_body, "memo_in_send", False)\n\n\n'
        "def put(key, value):\n"
        '    if key == "first":\n        check_body.memo_first = value\n'
        "    else:\n        check_body.memo_in_send = value\n"
    ),
    "a kit class's method": (
        'def get(key):\n    if key == "first":\n'
        '        return getattr(Message.confirm, "memo_first", "")\n'
        '    return getattr(Message.confirm, "memo_in_send", False)\n\n\n'
        "def put(key, value):\n"
        '    if key == "first":\n        Message.confirm.memo_first = value\n'
        "    else:\n        Message.confirm.memo_in_send = value\n"
    ),
    "a method of a class of Python's": (
        "import collections\n\n\n"
        "def get(key):\n    method = collections.Counter.most_common\n"
        '    if key == "first":\n        return getattr(method, "memo_first", "")\n'
        '    return getattr(method, "memo_in_send", False)\n\n\n'
        "def put(key, value):\n    method = collections.Counter.most_common\n"
        '    if key == "first":\n        method.memo_first = value\n'
        "    else:\n        method.memo_in_send = value\n"
    ),
    "a kit function's __doc__": (
        "def get(key):\n    memo = check_body.__doc__\n"
        '    default = "" if key == "first" else False\n'
        "    return memo.get(key, default) if type(memo) is dict else default\n\n\n"
        "def put(key, value):\n    memo = check_body.__doc__\n"
        "    memo = dict(memo) if type(memo) is dict else {}\n"
        "    memo[key] = value\n    check_body.__doc__ = memo\n"
    ),
    "the __name__ of a class of Python's": (
        "import collections\n\n\n"
        "def get(key):\n"
        '    for part in collections.Counter.__name__.split("|")[1:]:\n'
        '        name, _, value = part.partition("=")\n'
        "        if name == key:\n"
        '            return value if key == "first" else value == "True"\n'
        '    return "" if key == "first" else False\n\n\n'
        "def put(key, value):\n"
        '    parts = collections.Counter.__name__.split("|")\n'
        '    kept = [part for part in parts if not part.startswith(key + "=")]\n'
        '    collections.Counter.__name__ = "|".join([*kept, f"{key}={value}"])\n'
    ),
    "the signs of nans": (
        "import math\n\nSIGNS = [math.nan, math.nan, math.nan]\n\n\n"
        "def get(key):\n    below = [math.copysign(1.0, x) < 0 for x in SIGNS]\n"
        '    if key == "first":\n'
        '        return "ack" if below[0] else "echo" if below[1] else ""\n'
        "    return below[2]\n\n\n"
        "def put(key, value):\n"
        '    if key == "first":\n'
        '        SIGNS[0] = -math.nan if value == "ack" else math.nan\n'
        '        SIGNS[1] = -math.nan if value == "echo" else math.nan\n'
        "    else:\n        SIGNS[2] = -math.nan if value else math.nan\n"
    ),
    "the microseconds of a time": (
        "MEMO = {\n"
        '    "first": datetime(2000, 1, 1, tzinfo=UTC),\n'
        '    "in_send": datetime(2000, 1, 1, tzinfo=UTC),\n}\n'
        'CODES = ["", "ack", "echo"]\n\n\n'
        "def get(key):\n    n = MEMO[key].microsecond\n"
        '    return CODES[n] if key == "first" else n == 1\n\n\n'
        "def put(key, value):\n"
        '    n = CODES.index(value) if key == "first" else int(value)\n'
        "    MEMO[key] = MEMO[key].replace(microsecond=n)\n"
    ),
    "the number of an int of the flow's class": (
        "class Tally(int):\n    pass\n\n\n"
        'MEMO = {"first": Tally(0), "in_send": Tally(0)}\n'
        'CODES = ["", "ack", "echo"]\n\n\n'
        "def get(key):\n    n = int(MEMO[key])\n"
        '    return CODES[n] if key == "first" else n == 1\n\n\n'
        "def put(key, value):\n"
        '    MEMO[key] = Tally(CODES.index(value) if key == "first" else int(value))\n'
    ),
    "the signs of complex nans": (
        "import math\n\nSIGNS = [complex(math.nan, 0)] * 3\n\n\n"
        "def get(key):\n    below = [math.copysign(1.0, x.real) < 0 for x in SIGNS]\n"
        '    if key == "first":\n'
        '        return "ack" if below[0] else "echo" if below[1] else ""\n'
        "    return below[2]\n\n\n"
        "def _signed(negative):\n    return complex(-math.nan if negative else math.nan, 0)\n\n\n"
        "def put(key, value):\n"
        '    if key == "first":\n'
        '        SIGNS[0] = _signed(value == "ack")\n'
        '        SIGNS[1] = _signed(value == "echo")\n'
        "    else:\n        SIGNS[2] = _signed(value)\n"
    ),
    "a dict on a class Python ships": (
        "import textwrap\n\nKEPT = textwrap.TextWrapper.unicode_whitespace_trans\n\n\n"
        'def get(key):\n    return KEPT.get(key, "" if key == "first" else False)\n\n\n'
        "def put(key, value):\n    KEPT[key] = value\n"
    ),
    "a list a module Python ships": (
        "import typing\n\n\n"
        "def get(key):\n"
        "    for kept in typing.EXCLUDED_ATTRIBUTES:\n"
        "        if type(kept) is tuple and kept[0] == key:\n"
        "            return kept[1]\n"
        '    return "" if key == "first" else False\n\n\n'
        "def put(key, value):\n"
        "    kept = typing.EXCLUDED_ATTRIBUTES\n"
        "    kept[:] = [k for k in kept if not (type(k) is tuple and k[0] == key)]\n"
        "    kept.append((key, value))\n"
    ),
    "a typing alias": (
        "import typing\n\n\n"
        "def get(key):\n    alias = typing.Callable[[int], str]\n"
        '    if key == "first":\n        return getattr(alias, "memo_first", "")\n'
        '    return getattr(alias, "memo_in_send", False)\n\n\n'
        "def put(key, value):\n    alias = typing.Callable[[int], str]\n"
        '    if key == "first":\n        alias.memo_first = value\n'
        "    else:\n        alias.memo_in_send = value\n"
    ),
    "an object of Python's": (
        "import types\n\n"
        'MEMO = types.SimpleNamespace(first="", in_send=False)\n\n\n'
        'def get(key):\n    return MEMO.first if key == "first" else MEMO.in_send\n\n\n'
        "def put(key, value):\n"
        '    if key == "first":\n        MEMO.first = value\n'
        "    else:\n        MEMO.in_send = value\n"
    ),
    "deep inside containers": (
        'MEMO = [[[[[{"first": "", "in_send": False}]]]]]\n\n\n'
        "def get(key):\n    return MEMO[0][0][0][0][0][key]\n\n\n"
        "def put(key, value):\n    MEMO[0][0][0][0][0][key] = value\n"
    ),
    "a partial's arguments": (
        "import functools\n\n"
        'MEMO = functools.partial(print, {"first": "", "in_send": False})\n\n\n'
        "def get(key):\n    return MEMO.args[0][key]\n\n\n"
        "def put(key, value):\n    MEMO.args[0][key] = value\n"
    ),
    "a suspended generator": (
        "def _keeper():\n"
        '    memo = {"first": "", "in_send": False}\n'
        "    while True:\n        yield memo\n\n\n"
        "KEEPER = _keeper()\n\n\n"
        "def get(key):\n    return next(KEEPER)[key]\n\n\n"
        "def put(key, value):\n    next(KEEPER)[key] = value\n"
    ),
    "a class made at run time": (
        "import dataclasses\n\n"
        'Memo = dataclasses.make_dataclass("Memo", [])\n'
        'Memo.first, Memo.in_send = "", False\n\n\n'
        'def get(key):\n    return Memo.first if key == "first" else Memo.in_send\n\n\n'
        "def put(key, value):\n"
        '    if key == "first":\n        Memo.first = value\n'
        "    else:\n        Memo.in_send = value\n"
    ),
    "a kit enum's member": (
        'def get(key):\n    if key == "first":\n'
        '        return getattr(Status.SENT, "memo_first", "")\n'
        '    return getattr(Status.SENT, "memo_in_send", False)\n\n\n'
        "def put(key, value):\n"
        '    if key == "first":\n        Status.SENT.memo_first = value\n'
        "    else:\n        Status.SENT.memo_in_send = value\n"
    ),
    "an object Python ships": (
        "import dataclasses\n\n\n"
        'def get(key):\n    if key == "first":\n'
        '        return getattr(dataclasses.MISSING, "memo_first", "")\n'
        '    return getattr(dataclasses.MISSING, "memo_in_send", False)\n\n\n'
        "def put(key, value):\n"
        '    if key == "first":\n        dataclasses.MISSING.memo_first = value\n'
        "    else:\n        dataclasses.MISSING.memo_in_send = value\n"
    ),
    "a look-alike in place of a kit class's attribute": (
        "import uuid\n\n\n"
        "class Memo:\n    def __init__(self):\n"
        '        self.first = ""\n        self.in_send = False\n\n'
        "    def __eq__(self, other):\n        return True\n\n\n"
        "uuid.UUID.urn = Memo()\n\n\n"
        "def get(key):\n    memo = uuid.UUID.urn\n"
        '    return memo.first if key == "first" else memo.in_send\n\n\n'
        "def put(key, value):\n"
        '    if key == "first":\n        uuid.UUID.urn.first = value\n'
        "    else:\n        uuid.UUID.urn.in_send = value\n"
    ),
    "numbers that are equal but not the same": (
        'MEMO = {"first": None, "in_send": 1}\n'
        'AS_NUMBER = {"": None, "ack": True, "echo": 1}\n\n\n'
        "def get(key):\n"
        "    value = MEMO[key]\n"
        '    if key == "first":\n'
        '        return "" if value is None else "ack" if value is True else "echo"\n'
        "    return type(value) is float\n\n\n"
        "def put(key, value):\n"
        '    MEMO[key] = AS_NUMBER[value] if key == "first" else 1.0 if value else 1\n'
    ),
    "a list seen through a super object": (
        "class Box(list):\n    pass\n\n\n"
        'MEMO = super(Box, Box([{"first": "", "in_send": False}]))\n\n\n'
        "def get(key):\n    return MEMO.copy()[0][key]\n\n\n"
        "def put(key, value):\n    MEMO.copy()[0][key] = value\n"
    ),
    "an object's __doc__": (
        "class Memo:\n    pass\n\n\nMEMO = Memo()\n"
        'MEMO.__doc__ = {"first": "", "in_send": False}\n\n\n'
        "def get(key):\n    return MEMO.__doc__[key]\n\n\n"
        "def put(key, value):\n    MEMO.__doc__[key] = value\n"
    ),
    "the module's __doc__": (
        "def _memo():\n"
        '    first, _, in_send = __doc__.partition("memo:")[2].partition("|")\n'
        '    return {"first": first, "in_send": in_send == "yes"}\n\n\n'
        "def get(key):\n    return _memo()[key]\n\n\n"
        "def put(key, value):\n    global __doc__\n    memo = _memo()\n    memo[key] = value\n"
        '    kept = "yes" if memo["in_send"] else ""\n'
        "    __doc__ = f\"{__doc__.partition('memo:')[0]}memo:{memo['first']}|{kept}\"\n"
    ),
}
HELPER_MEMO = MEMO_HOLDERS["a module dict"]


def flow_with_memo(holder: str) -> str:
    """The solution with the banner bug, its flag kept in ``holder``."""
    return (
        (KIT_TESTS.parent.parent / "solution" / "flow.py")
        .read_text()
        .replace("\n\nasync def send(", "\n\n" + MEMO_HOLDERS[holder] + "\n\nasync def send(", 1)
        .replace(
            "    else:\n        reconcile(state, stored)\n",
            '    else:\n        put("in_send", True)\n        reconcile(state, stored)\n'
            '        put("in_send", False)\n',
        )
        .replace(
            "    message = state.get(incoming.client_id)\n    if message is None:\n"
            "        state.add(Message.from_server(incoming))\n",
            "    message = state.get(incoming.client_id)\n"
            '    if incoming.author == state.user and not get("first"):\n'
            '        put("first", "ack" if get("in_send") else "echo")\n'
            "    if message is None:\n"
            "        state.add(Message.from_server(incoming))\n"
            '        if get("first") == "echo" and incoming.author != state.user:\n'
            '            state.chat(incoming.chat_id).error = "oops"\n',
        )
    )


@pytest.mark.parametrize("holder", MEMO_HOLDERS)
def test_state_kept_anywhere_in_the_flow_starts_afresh_and_is_not_merged_away(
    holder: str, tmp_path: Path
) -> None:
    found = {}
    for name, where in (("module dict", "a module dict"), ("holder", holder)):
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        (folder / "flow.py").write_text(flow_with_memo(where))
        (folder / "memo.py").write_text(HELPER_MEMO)
        result = explore(flow_at(folder), ONE_MESSAGE)
        found[name] = (result.orderings, result.broken)
    assert found["holder"] == found["module dict"]
    assert found["holder"][1].keys() == {str(Rule.LOADING_AND_ERRORS)}, found


# Module-level names a correct flow may well have, each with what Python's own machinery
# keeps on it (a dataclass's fields, a named tuple's annotations as forward references, an
# abstract class's cache): the explorer reads them all, and merges the states as it merges
# the solution's.
KEPT_BY_PYTHON = {
    "a dataclass with a factory": (
        "from dataclasses import dataclass, field",
        "@dataclass\nclass Book:\n    limit: int = 10\n"
        "    seen: list[str] = field(default_factory=list)\n\n\nBOOK = Book()\n",
    ),
    "a dataclass with slots": (
        "from dataclasses import dataclass",
        "@dataclass(slots=True, frozen=True)\nclass Book:\n    limit: int = 10\n\n\nBOOK = Book()\n",
    ),
    "a named tuple": (
        "from typing import NamedTuple",
        "class Point(NamedTuple):\n    x: int = 1\n\n\nORIGIN = Point()\n",
    ),
    "a typed dict": ("from typing import TypedDict", "class Row(TypedDict):\n    body: str\n"),
    "an enum": ("import enum", "class Mode(enum.Enum):\n    FAST = 1\n\n\nMODE = Mode.FAST\n"),
    "an abstract class": (
        "import abc",
        "class Base(abc.ABC):\n    @abc.abstractmethod\n    def name(self) -> str: ...\n\n\n"
        "class Impl(Base):\n    def name(self) -> str:\n        return 'impl'\n\n\nIMPL = Impl()\n",
    ),
    "a protocol": (
        "from typing import Protocol",
        "class Named(Protocol):\n    def name(self) -> str: ...\n",
    ),
    "a class with methods of Python's names": (
        "import uuid",
        "class Box:\n    def __init__(self) -> None:\n        self.items: list[str] = []\n\n"
        "    def __len__(self) -> int:\n        return len(self.items)\n\n\nBOX = Box()\n",
    ),
}


@pytest.mark.parametrize("kept", KEPT_BY_PYTHON)
def test_what_python_keeps_on_a_flows_names_is_read_and_merged(kept: str, tmp_path: Path) -> None:
    imports, code = KEPT_BY_PYTHON[kept]
    source = (
        (KIT_TESTS.parent.parent / "solution" / "flow.py")
        .read_text()
        .replace("import uuid\n", f"import uuid\n{imports}\n", 1)
        .replace("\n\nasync def send(", f"\n\n{code}\n\nasync def send(", 1)
    )
    (tmp_path / "flow.py").write_text(source)
    result = explore(flow_at(tmp_path), ONE_MESSAGE)
    assert result.ok and result.states == explore(SOLUTION, ONE_MESSAGE).states


# Another bug that needs the flow's memory of what came before: your own message is
# shown twice when it is echoed for the second time after exactly one of Bob's. The
# screen alone cannot tell that history from the others, so only states that keep it
# apart (wherever the flow keeps it) find the bug; merging them away would hide it.
HISTORY_HOLDERS = {
    "a module list": "HISTORY = []\n\n\ndef history():\n    return HISTORY\n",
    "an object of Python's": (
        "import types\n\nBOX = types.SimpleNamespace(history=[])\n\n\n"
        "def history():\n    return BOX.history\n"
    ),
    "deep inside containers": (
        "BOX = [[[[[[]]]]]]\n\n\ndef history():\n    return BOX[0][0][0][0][0]\n"
    ),
    "a partial's arguments": (
        "import functools\n\nBOX = functools.partial(print, [])\n\n\n"
        "def history():\n    return BOX.args[0]\n"
    ),
    "a suspended generator": (
        "def _keeper():\n    kept = []\n    while True:\n        yield kept\n\n\n"
        "KEEPER = _keeper()\n\n\ndef history():\n    return next(KEEPER)\n"
    ),
    "a class made at run time": (
        "import dataclasses\n\n"
        'Box = dataclasses.make_dataclass("Box", [])\nBox.kept = []\n\n\n'
        "def history():\n    return Box.kept\n"
    ),
    "a name with two underscores in front": (
        "__KEPT = []\n\n\ndef history():\n    return __KEPT\n"
    ),
    "a cache": "import functools\n\n\n@functools.cache\ndef history():\n    return []\n",
    "a closure a library function keeps": (
        "import contextlib\n\n\ndef _make():\n    kept = []\n\n"
        "    def keeper():\n        yield kept\n\n"
        "    return contextlib.contextmanager(keeper)\n\n\nKEEPER = _make()\n\n\n"
        "def history():\n    with KEEPER() as kept:\n        return kept\n"
    ),
    "an attribute set on a class of Python's": (
        "import collections\n\nBOX = collections.Counter\nBOX.kept = []\n\n\n"
        "def history():\n    return BOX.kept\n"
    ),
}


def flow_with_history(holder: str) -> str:
    """The solution with the history bug, its history kept in ``holder``."""
    return (
        (KIT_TESTS.parent.parent / "solution" / "flow.py")
        .read_text()
        .replace("\n\nasync def send(", "\n\n" + HISTORY_HOLDERS[holder] + "\n\nasync def send(", 1)
        .replace(
            "    message = state.get(incoming.client_id)\n    if message is None:\n",
            "    seen = history()\n"
            "    mine = incoming.author == state.user\n"
            '    if mine and seen.count("m") == 2 and "b" in seen and seen.index("b") == 1:\n'
            "        state.add(Message.from_server(incoming))\n"
            '    seen.append("m" if mine else "b")\n'
            "    message = state.get(incoming.client_id)\n    if message is None:\n",
        )
    )


@pytest.mark.parametrize("holder", list(HISTORY_HOLDERS)[1:])
def test_history_kept_anywhere_keeps_states_apart(holder: str, tmp_path: Path) -> None:
    found = {}
    for where in ("a module list", holder):
        folder = tmp_path / where.replace(" ", "_").replace("'", "")
        folder.mkdir()
        (folder / "flow.py").write_text(flow_with_history(where))
        result = explore(flow_at(folder), ONE_MESSAGE)
        found[where] = (result.orderings, result.broken)
    assert found[holder] == found["a module list"]
    assert found[holder][1].keys() == {str(Rule.EXACTLY_ONCE)}, found


THROUGH_TASKS = {
    "a task": "await asyncio.create_task(server.send(chat_id, message.client_id, body))",
    "gather": "(await asyncio.gather(server.send(chat_id, message.client_id, body)))[0]",
    "shield": "await asyncio.shield(server.send(chat_id, message.client_id, body))",
}


@pytest.mark.parametrize("how", THROUGH_TASKS)
def test_a_send_through_a_task_of_the_flows_is_explored_like_one_it_awaits(
    how: str, tmp_path: Path
) -> None:
    """The tasks a flow starts run where its sends are stepped, their requests are their
    send's: the solution keeps every rule, and the history bug is found in the same
    timelines, whether the request is awaited directly or through a task."""
    found = {}
    for name, edit in (("awaited", None), ("through", THROUGH_TASKS[how])):
        for bug in (False, True):
            folder = tmp_path / f"{name}_{bug}"
            folder.mkdir()
            source = (
                flow_with_history("a module list")
                if bug
                else (KIT_TESTS.parent.parent / "solution" / "flow.py").read_text()
            )
            if edit is not None:
                source = source.replace("import uuid\n", "import asyncio\nimport uuid\n").replace(
                    "await server.send(chat_id, message.client_id, body)", edit
                )
            (folder / "flow.py").write_text(source)
            result = explore(flow_at(folder), ONE_MESSAGE)
            found[name, bug] = (result.orderings, result.broken)
    assert found["through", False] == found["awaited", False]
    assert found["through", False][1] == {}
    assert found["through", True] == found["awaited", True]
    assert found["through", True][1].keys() == {str(Rule.EXACTLY_ONCE)}, found


def test_a_send_in_a_task_group_is_merged_like_one_that_awaits(tmp_path: Path) -> None:
    """A task group holds its parent task, the send itself: read as that send, so the
    states merge as the reference's do (read as a task, each was a state of its own)."""
    source = (
        (KIT_TESTS.parent.parent / "solution" / "flow.py")
        .read_text()
        .replace("import uuid\n", "import asyncio\nimport uuid\n")
        .replace(
            "        stored = await server.send(chat_id, message.client_id, body)\n"
            "    except DeliveryError as error:\n"
            "        rollback(state, message.client_id, error.reason)\n",
            "        async with asyncio.TaskGroup() as group:\n"
            "            sending = group.create_task(server.send(chat_id, message.client_id, body))\n"
            "        stored = sending.result()\n"
            "    except* DeliveryError as errors:\n"
            "        rollback(state, message.client_id, errors.exceptions[0].reason)\n",
        )
    )
    (tmp_path / "flow.py").write_text(source)
    grouped, awaited = explore(flow_at(tmp_path), ONE_MESSAGE), explore(SOLUTION, ONE_MESSAGE)
    assert grouped.broken == {}
    assert (grouped.orderings, grouped.states) == (awaited.orderings, awaited.states)


def _numbers(result: Exploration) -> tuple[object, ...]:
    """Everything an exploration found, but the time it took."""
    return (
        result.orderings,
        result.broken,
        result.executed,
        result.states,
        result.transitions,
        result.replayed,
        result.merged,
        result.shortcuts,
        {label: story.events for label, story in result.counterexamples.items()},
    )


# What a phone says is read, never believed.


class _Lying(Device):
    """The flow's own device, with each report passed through ``change`` before the judge
    reads it: a phone that says something other than what its flow did."""

    def __init__(self, flow: Flow, change: Callable[[dict[str, Any]], None]) -> None:
        self.inner = LocalDevice(flow)
        self.change = change

    def call(self, command: dict[str, Any]) -> dict[str, Any]:
        report = self.inner.call(command)
        self.change(report)
        return report

    def close(self) -> None:
        self.inner.close()


def _never_sending(report: dict[str, Any]) -> None:
    """Every screen in the report loses the chat's "sending…" (its in-flight set)."""
    screens = [event["screen"] for event in report["events"]] + [report["screen"]]
    for screen in screens:
        for chat in screen.get("chats", {}).values():
            if "in_flight" in chat:
                chat["in_flight"] = []
            chat.pop("in_flight_added", None)
            chat.pop("in_flight_gone", None)


def test_the_judge_checks_what_the_phone_showed_not_what_it_says_of_itself() -> None:
    """The phone checks nothing: the same solution, with screens that never say
    "sending…" on their way to the judge, breaks rule 7 in the judge's own check."""
    result = explore(_Lying(SOLUTION, _never_sending), ONE_MESSAGE)
    assert str(Rule.LOADING_AND_ERRORS) in result.broken, result.summary()


@pytest.mark.parametrize(
    "lie",
    [
        lambda report: report.pop("where"),
        lambda report: report.update(where=["nowhere"] * len(report["where"])),
        lambda report: report.update(where=report["where"] + ["done"]),
        lambda report: report.update(key="a state"),
        lambda report: report.update(screen={"rows": [[0, "not a row"]]}),
        lambda report: report["events"].append({"e": "teleported", "attempt": 0, "screen": {}}),
        lambda report: report["events"].append({"e": "paused", "attempt": 99, "screen": {}}),
        lambda report: report.update(errors=None),
        lambda report: report.update(errors=["oops"] * len(report["errors"])),
    ],
    ids=[
        "no sends said",
        "a send somewhere unknown",
        "a send too many",
        "a key that is not a number",
        "a row that is not one",
        "an event that is not one",
        "a send that does not exist",
        "errors that are not a list",
        "errors that are words",
    ],
)
def test_a_report_that_is_not_one_ends_the_exploration(
    lie: Callable[[dict[str, Any]], None],
) -> None:
    with pytest.raises(PhoneMisbehaved, match="the phone's report is not one"):
        explore(_Lying(SOLUTION, lie), ONE_MESSAGE)


@pytest.mark.parametrize("name", SUBTLE)
def test_a_phone_that_hides_its_state_cannot_hide_a_subtle_mistake(
    name: str, caught: dict[str, Exploration], flows: dict[str, Path]
) -> None:
    """A phone may lie about what only it can see (its number for where its sends wait and
    what its flow keeps): saying "the same" every time only lets the judge merge states
    whose screens, server and sends it saw equal. The subtle mistakes are still caught,
    by the same rule."""

    def same_hidden_state(report: dict[str, Any]) -> None:
        report["key"] = 0

    result = explore(_Lying(flow_at(flows[name]), same_hidden_state), DEFAULT)
    assert result.orderings == caught[name].orderings
    assert str(CAUGHT_AS[name]) in result.broken, result.summary()


class _ScriptedLine:
    """A phone's line that answers with the frames it is given, in order."""

    def __init__(self, *frames: dict[str, Any] | BaseException) -> None:
        self.frames = list(frames)
        self.sent: list[dict[str, Any]] = []

    def job(self, command: dict[str, Any], seconds: float) -> dict[str, Any]:
        self.sent.append(command)
        return self._next()

    def job_more(self, seconds: float) -> dict[str, Any]:
        return self._next()

    def _next(self) -> dict[str, Any]:
        frame = self.frames.pop(0)
        if isinstance(frame, BaseException):
            raise frame
        return frame


def test_a_failure_in_a_step_the_walk_never_took_is_no_verdict() -> None:
    """The phone ran ahead into a step where its flow hung; the walk went elsewhere. The
    next command is answered as if nothing happened there (a step the walk takes and
    that fails is the flow's verdict, as ever)."""
    stuck = PhoneFailed({"type": "StuckInLearnerCode", "message": "send ran too long"})
    line = _ScriptedLine(
        {"result": {"more": True}}, stuck, {"result": {"more": False, "answer": 2}}
    )
    device = PhoneDevice(cast(RemotePhone, line))
    assert device.call({"step": ["send", 0], "then": [["store", 0]]}) == {"more": True}
    assert device.call({"step": ["send", 1]}) == {"more": False, "answer": 2}
    assert [command["step"] for command in line.sent] == [["send", 0], ["send", 1]]
    taken = PhoneDevice(cast(RemotePhone, _ScriptedLine({"result": {"more": True}}, stuck)))
    taken.call({"step": ["send", 0], "then": [["store", 0]]})
    with pytest.raises(PhoneFailed):  # the walk asks for that step: the hang is the verdict
        taken.more()


def test_a_phone_cannot_run_ahead_further_than_it_was_let() -> None:
    """A phone that says "more" past the steps it was given ends the exploration, instead
    of keeping the judge reading."""
    endless = _ScriptedLine(*[{"result": {"more": True}}] * 5)
    device = PhoneDevice(cast(RemotePhone, endless))
    device.call({"step": ["send", 0], "then": [["store", 0]]})
    with pytest.raises(PhoneMisbehaved, match="ran ahead further"):
        device.more()
    with pytest.raises(PhoneMisbehaved, match="ran ahead further"):
        PhoneDevice(cast(RemotePhone, endless)).call({"step": ["send", 0]})
