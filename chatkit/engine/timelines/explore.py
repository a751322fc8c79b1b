"""Check a flow under every ordering of a small world, and tell the shortest that breaks it.

The orderings of a world form a tree: all of them start with a send, most share
long prefixes. The explorer walks that tree depth first. The run that reached a
point goes on into its first branch; every other branch gets a fresh run that
replays the prefix without checking it again (a suspended coroutine cannot be
copied, so replaying is the only way back). After each event every rule is
checked, and the run's canonical state is looked up: a point already explored
with the same state and the same events left has the same future, so its result
is reused instead of explored again.

Every ordering is still accounted for: when a rule breaks, or a state is reused,
the number of complete orderings that continue from there is added to what was
checked (`chatkit.script.small_world.Space.completions`). `Exploration.orderings` is
that total — every complete ordering of the world; `Exploration.executed` counts
those that were actually run event by event to their end.

All paths to a point have the same length (each event moves the world one step),
so the first break the walk finds at the smallest depth is the shortest ordering
that breaks that rule: the counterexample needs no second search.

Why replaying (measured by ``benchmarks/timelines.py`` at the default size): a
deep copy of a run is impossible (the send waiting on the server is a suspended
coroutine and an asyncio future); letting the run that reached a point go on into
its first branch replays about 40% fewer events; replaying without checks, then
handing the rule watch what it remembered, takes about 40% less time than checking
every replayed step again; skipping known server-only events saves a tenth of the
events.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from chatkit.blame import RemoteJournal
from chatkit.engine.rules import Rule, RuleBroken, StateShapeError, WatchMemory
from chatkit.engine.story import Step
from chatkit.engine.timelines.device import LocalDevice
from chatkit.engine.timelines.run import Device, Failure, Run
from chatkit.protocols import Flow
from chatkit.script.names import USER
from chatkit.script.small_world import (
    DEFAULT_SIZE,
    SERVER_ONLY,
    Event,
    Progress,
    SmallWorld,
    space,
    world_of_size,
)

YIELD_EVERY = 500
"""How many checked events the async explorer runs between two turns of the event loop."""

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Story:
    """An ordering told step by step, and what (if anything) went wrong at its last step."""

    events: tuple[Event, ...]
    steps: tuple[Step, ...]
    failure: Failure | None

    def lines(self) -> list[str]:
        lines = [step.line() for step in self.steps]
        if self.failure is not None:
            lines.append(f"✗ {self.failure.label}: {self.failure.detail}")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


@dataclass
class Exploration:
    """What exploring one world found."""

    world: SmallWorld
    orderings: int = 0
    """Complete orderings of the world. Every one is checked: run to its end, cut short
    where a rule broke, or covered by a state already explored."""
    executed: int = 0
    """Complete orderings actually run event by event to their end."""
    states: int = 0
    """Distinct states explored (points of the world with their own future)."""
    transitions: int = 0
    """Events applied and checked."""
    replayed: int = 0
    """Events re-applied, unchecked, to rebuild a prefix."""
    merged: int = 0
    """Times a state was recognised and its result reused."""
    shortcuts: int = 0
    """Server-only events whose result was known without running them (see `Explorer`)."""
    seconds: float = 0.0
    broken: dict[str, int] = field(default_factory=dict)
    """For each rule that broke, how many complete orderings broke it first."""
    counterexamples: dict[str, Story] = field(default_factory=dict)
    """For each rule that broke, the shortest ordering that breaks it (the first found)."""

    @property
    def ok(self) -> bool:
        return not self.broken

    @property
    def counterexample(self) -> Story | None:
        """The shortest counterexample of all (ties go to the lower rule number)."""
        if not self.counterexamples:
            return None
        return min(self.counterexamples.values(), key=_story_rank)

    def summary(self) -> str:
        """``"62,370 timelines checked …"``: one line for a report."""
        text = (
            f"{self.orderings:,} timelines checked ({self.executed:,} run to the end, "
            f"{self.states:,} distinct states, {self.transitions:,} events run) "
            f"in {self.seconds:.2f} s"
        )
        if self.ok:
            return text + ": every rule held in every one"
        return f"{text}: {self.tally()}"

    def tally(self) -> str:
        """``"13,860 of 62,370 timelines broke a rule (rule 10: 13,860)"``."""
        broke = sum(self.broken.values())
        parts = "; ".join(
            f"{label.split(',')[0]}: {count:,}"
            for label, count in sorted(self.broken.items(), key=lambda item: (-item[1], item[0]))
        )
        return f"{broke:,} of {self.orderings:,} timelines broke a rule ({parts})"

    def raise_if_broken(self) -> None:
        """Raise `TimelinesBroken` (a `RuleBroken`) telling the shortest counterexample.

        Its detail is what went wrong, how many timelines broke which rule, and the
        story of the shortest one, step by step. If the learner's code raised in the
        shortest one, that exception is raised again with the same text as a note,
        so the grader can point at its file and line.
        """
        story = self.counterexample
        if story is None or story.failure is None:
            return
        failure = story.failure
        steps = "\n".join(step.line() for step in story.steps)
        shortest = f"the shortest, {len(story.events)} step{'s' if len(story.events) != 1 else ''}"
        told = f"{self.tally()}; {shortest}:\n{steps}"
        rule = failure.rule
        if rule is None:
            error = failure.error
            error.add_note(f"{failure.label} — {told}")
            raise error
        cause = failure.error
        assert isinstance(cause, RuleBroken)
        broken = TimelinesBroken(
            rule,
            f"{failure.detail} — {self.tally()}; the story shown is the shortest of them "
            f"({len(story.events)} step{'s' if len(story.events) != 1 else ''})",
            self,
            story,
            cause,
        )
        broken.add_note(told)
        raise broken


class TimelinesBroken(RuleBroken):
    """A rule broke in some ordering; carries the exploration and the counterexample.

    The detail tells the story (one line per step, with the screen after it);
    ``expected`` and ``actual`` are those of the check that failed, if it had any.
    """

    def __init__(
        self, rule: Rule, detail: str, exploration: Exploration, story: Story, cause: RuleBroken
    ) -> None:
        super().__init__(
            rule,
            detail,
            expected=cause.expected,
            actual=cause.actual,
            blame=cause.blame,
            function=cause.function,
            returned=cause.returned,
        )
        self.exploration = exploration
        self.story = story


def _story_rank(story: Story) -> tuple[int, int]:
    rule = story.failure.rule if story.failure is not None else None
    return (len(story.events), rule.number if rule is not None else 0)


# A subtree's result: for each label, how many orderings broke it and the shortest
# way down to a break (events from the subtree's root).
_Summary = dict[str, tuple[int, tuple[Event, ...]]]
_PASSED: _Summary = {}


@dataclass(frozen=True, slots=True)
class Strategy:
    """How the explorer saves work. Grading always uses all of it; each part can be switched
    off to measure what it is worth (``benchmarks/timelines.py``)."""

    dedup: bool = True
    """Merge states already seen (off: every ordering is run separately)."""
    shortcut: bool = True
    """Skip server-only events whose result is known (needs ``dedup``)."""
    reuse: bool = True
    """Let the run that reached a point go on into its first branch."""
    checked_replay: bool = False
    """Replay with every check, instead of handing the rule watch what it remembered."""

    @property
    def shortcuts(self) -> bool:
        """Whether known server-only events are skipped (only ever when states are merged)."""
        return self.shortcut and self.dedup


FULL = Strategy()
UNMERGED = Strategy(dedup=False)


class Explorer:
    """One walk over the orderings of one world (see the module docstring).

    Besides reusing states already explored, it skips executing a server-only
    event (the server storing a message, bob posting) when the result is known:
    reached from ``P`` through a client event ``c``, storing leads to the same
    state as ``P``, store, ``c`` — the client cannot see a store, and a store
    cannot see the client — and that state was explored already (the events
    are tried server-only first, so it usually was). A flow that reads the
    server's history can see a store, so if one ever does, the walk starts
    over without this shortcut.
    """

    def __init__(
        self,
        device: Device,
        world: SmallWorld,
        *,
        strategy: Strategy = FULL,
        max_length: int | None = None,
    ) -> None:
        self.strategy = strategy
        self.device = device
        self.world = world
        self.space = space(world)
        self.max_length = max_length
        self.result = Exploration(world)
        self._ids: dict[Hashable, int] = {}
        """Each distinct state's number."""
        self._memo: dict[int, _Summary] = {}
        """What was found below each state explored to the end."""
        self._edges: dict[tuple[int, Event], int] = {}
        """Which state an event led to from which (for the server-only shortcut)."""
        self._history_read = False

    def walk(self) -> Generator[None, None, Exploration]:
        """Explore; yields now and then (so an async caller can let its loop run)."""
        started = time.perf_counter()
        result = self.result
        run = Run(self.device, self.world)
        summary = yield from self._visit(run, (), self.space.start, run.memory(), None, None, None)
        if self._history_read and self.strategy.shortcuts:
            again = Explorer(
                self.device,
                self.world,
                strategy=replace(self.strategy, shortcut=False),
                max_length=self.max_length,
            )
            return (yield from again.walk())
        result.seconds = time.perf_counter() - started
        result.orderings = self._count(self.space.start, 0)
        result.states = len(self._ids) if self.strategy.dedup else result.transitions
        for label, (count, events) in summary.items():
            result.broken[label] = count
            result.counterexamples[label] = _tell(self.device, self.world, events)
        return result

    def _count(self, progress: Progress, depth: int) -> int:
        if self.max_length is None:
            return self.space.completions(progress)
        if depth == self.max_length or not self.space.moves(progress):
            return 1
        return sum(self._count(after, depth + 1) for _, after in self.space.moves(progress))

    def _first_branch(self, progress: Progress, depth: int) -> tuple[Event, ...]:
        """The events below ``progress`` a walk takes first (the first move at each point,
        to the end): what the phone may run ahead into while the judge checks."""
        if not self.strategy.reuse:
            return ()
        chain: list[Event] = []
        while self.max_length is None or depth < self.max_length:
            moves = self.space.moves(progress)
            if not moves:
                break
            event, progress = moves[0]
            chain.append(event)
            depth += 1
        return tuple(chain)

    def _visit(
        self,
        run: Run | None,
        path: tuple[Event, ...],
        progress: Progress,
        memory: WatchMemory,
        here: int | None,
        parent: int | None,
        via: Event | None,
    ) -> Generator[None, None, _Summary]:
        """Explore below one state; ``here`` is its number, reached from ``parent`` by ``via``."""
        moves = self.space.moves(progress)
        result = self.result
        if not moves or len(path) == self.max_length:
            result.executed += 1
            failure = run.finish() if run is not None and not moves else None
            return {failure.label: (1, ())} if failure is not None else _PASSED
        summary: _Summary = _PASSED
        depth = len(path) + 1
        edges = self._edges
        diamond = (
            self.strategy.shortcuts
            and here is not None
            and parent is not None
            and via is not None
            and via.kind not in SERVER_ONLY
        )
        for event, after in moves:
            if diamond and event.kind in SERVER_ONLY:
                # here = parent + via; parent + event + via is the same state.
                assert here is not None and parent is not None and via is not None
                side = edges.get((parent, event))
                known_id = edges.get((side, via)) if side is not None else None
                known = self._memo.get(known_id) if known_id is not None else None
                if known is not None and known_id is not None:
                    edges[(here, event)] = known_id
                    result.shortcuts += 1
                    if known:
                        summary = _merge(summary, known, event)
                    continue
            if run is not None and (not self.strategy.reuse or not run.can_step(event)):
                run = None
            if run is None:
                run = Run(self.device, self.world)
                run.replay(path, memory, checked=self.strategy.checked_replay)
                result.replayed += len(path)
            child, run = run, None
            failure = child.step(event, self._first_branch(after, depth))
            self._history_read = self._history_read or child.read_history
            result.transitions += 1
            if result.transitions % YIELD_EVERY == 0:
                yield
            if failure is not None:
                found: _Summary = {failure.label: (self._count(after, depth), ())}
            elif not self.space.moves(after) or depth == self.max_length or not self.strategy.dedup:
                found = yield from self._visit(
                    child, (*path, event), after, child.memory(), None, None, None
                )
            else:
                child_memory = child.memory()
                key = (after, child.key(child_memory))
                number = self._ids.get(key)
                if number is None:
                    number = self._ids[key] = len(self._ids)
                    found = yield from self._visit(
                        child, (*path, event), after, child_memory, number, here, event
                    )
                    self._memo[number] = found
                else:
                    result.merged += 1
                    found = self._memo[number]
                if here is not None:
                    edges[(here, event)] = number
            if found:
                summary = _merge(summary, found, event)
        return summary


def _merge(summary: _Summary, found: _Summary, event: Event) -> _Summary:
    merged = dict(summary)
    for label, (count, events) in found.items():
        before = merged.get(label)
        way = (event, *events)
        if before is None:
            merged[label] = (count, way)
        else:
            shortest = way if len(way) < len(before[1]) else before[1]
            merged[label] = (before[0] + count, shortest)
    return merged


def _world(world: SmallWorld | int | None) -> SmallWorld:
    if world is None:
        return world_of_size(DEFAULT_SIZE)
    return world_of_size(world) if isinstance(world, int) else world


def _in_a_loop(work: Callable[[], _T]) -> _T:
    """Run ``work`` where `asyncio.get_running_loop` works (the flow's server needs it)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:

        async def inside() -> _T:
            return work()

        return asyncio.run(inside())
    return work()


def _drain(walk: Generator[None, None, _T]) -> _T:
    while True:
        try:
            next(walk)
        except StopIteration as done:
            value: _T = done.value
            return value


def explore(
    flow: Flow | Device,
    world: SmallWorld | int | None = None,
    *,
    dedup: bool = True,
    max_length: int | None = None,
) -> Exploration:
    """Check ``flow`` (a flow run here, or a `Device` such as a phone) under every ordering of
    ``world`` (a `SmallWorld`, or a size; by default `DEFAULT_SIZE`).

    ``dedup=False`` explores every ordering separately (slow: for measuring and
    checking); ``max_length`` stops each ordering after that many events.
    """
    strategy = FULL if dedup else UNMERGED
    with _device(flow) as device:
        explorer = Explorer(device, _world(world), strategy=strategy, max_length=max_length)
        return _in_a_loop(lambda: _drain(explorer.walk()))


async def explore_async(
    flow: Flow | Device,
    world: SmallWorld | int | None = None,
    *,
    dedup: bool = True,
    max_length: int | None = None,
) -> Exploration:
    """`explore`, letting the running event loop turn now and then (so a time budget works)."""
    strategy = FULL if dedup else UNMERGED
    with _device(flow) as device:
        walk = Explorer(device, _world(world), strategy=strategy, max_length=max_length).walk()
        while True:
            try:
                next(walk)
            except StopIteration as done:
                result: Exploration = done.value
                return result
            await asyncio.sleep(0)


@contextlib.contextmanager
def _device(flow: Flow | Device) -> Generator[Device, None, None]:
    """The device ``flow`` runs on, closed when the exploration is over (also when its
    budget runs out): a flow given here runs in this process (`LocalDevice`)."""
    device = flow if isinstance(flow, Device) else LocalDevice(flow)
    try:
        yield device
    finally:
        device.close()


def tell(flow: Flow | Device, world: SmallWorld, events: tuple[Event, ...]) -> Story:
    """Run one ordering (or the start of one) from scratch, checking and narrating each step.

    Stops at the first step that breaks something; a complete ordering that got
    through every step is also checked at its end (every send finished).
    """
    with _device(flow) as device:
        return _in_a_loop(lambda: _tell(device, world, events))


def _tell(device: Device, world: SmallWorld, events: tuple[Event, ...]) -> Story:
    run = Run(device, world, blame=True)
    steps: list[Step] = []
    failure: Failure | None = None
    for number, event in enumerate(events, 1):
        failure = run.step(event)
        kind, source, target = run.arrow(event)
        step = Step(number, run.narrate(event), {USER: run.screen()}, kind, source, target)
        steps.append(step)
        if failure is not None:
            _blame(failure, run.journal)
            step.broke = failure.label
            return Story(events[:number], tuple(steps), failure)
    if space(world).is_complete(space(world).replay(events)):
        failure = run.finish()
    return Story(events, tuple(steps), failure)


def _blame(failure: Failure, journal: RemoteJournal) -> None:
    """Say which of the learner's functions made the change that broke the rule."""
    error = failure.error
    if isinstance(error, RuleBroken | StateShapeError) and error.blame is None and error.about:
        error.blame = journal.latest(error.about, error.fields)


def verdict(flow: Flow | Device, world: SmallWorld, events: tuple[Event, ...]) -> Failure | None:
    """Run one ordering (or the start of one) from scratch with every check, and no story.

    What broke first, if anything: brute force's way of checking the explorer.
    """
    with _device(flow) as device:
        return _in_a_loop(lambda: _verdict(device, world, events))


def _verdict(device: Device, world: SmallWorld, events: tuple[Event, ...]) -> Failure | None:
    run = Run(device, world)
    for event in events:
        failure = run.step(event)
        if failure is not None:
            return failure
    if space(world).is_complete(space(world).replay(events)):
        return run.finish()
    return None


def check_each(
    flow: Flow | Device, world: SmallWorld, orderings: list[tuple[Event, ...]]
) -> list[Failure | None]:
    """Brute force: run each ordering from scratch with every check; what broke in each."""
    with _device(flow) as device:
        return _in_a_loop(lambda: [_verdict(device, world, events) for events in orderings])
