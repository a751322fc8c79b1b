"""The small worlds the explorer enumerates, and the orderings each allows.

A `SmallWorld` says *what* happens — which messages you send, what becomes of each
(stored and acked, stored but the ack lost, refused), how many echoes of it the
chat receives, whether you retry it, whether bob posts something — and never *in
which order*. The order is the explorer's job: every sequence of `Event`s that
respects causality is one timeline.

Causality, per send:

- the server receives the send before it can store, ack, refuse or echo it;
- it acks only what it stored, and echoes only what it stored;
- a time-out is reported only while no ack has arrived (an ack-lost send gets none);
- a retry comes only after the failure, while the client still shows it failed
  (no echo has proved it delivered), and the retried send is acked;
- a refused send is stored only if it is retried: the retry is what gets through.

Bob's message is stored (``POST``) before its echo reaches you (``POST_ECHO``).

The world's progress is a flat tuple of small integers, so the number of
orderings left from any point can be counted without running anything.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

MAX_ECHOES = 2


class SendOutcome(enum.Enum):
    """What the server does with one send."""

    ACKED = "acked"
    """Stored, and the ack reaches the client."""
    ACK_LOST = "ack lost"
    """Stored, but the ack is lost: the client times out."""
    REFUSED = "refused"
    """Refused: nothing is stored, the client is told why."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class SendPlan:
    """One message you send, and what becomes of it."""

    body: str
    outcome: SendOutcome = SendOutcome.ACKED
    echoes: int = 1
    """How many times its realtime echo reaches the chat once stored: 0, 1 or 2."""
    retry: bool = False
    """You retry it after it fails, if it still shows failed then (the retry is acked)."""

    def __post_init__(self) -> None:
        if not 0 <= self.echoes <= MAX_ECHOES:
            raise ValueError(f"a send has 0 to {MAX_ECHOES} echoes, not {self.echoes}")
        if self.retry and self.outcome is SendOutcome.ACKED:
            raise ValueError(f"{self.body!r} is acked: only a failed send can be retried")
        if self.outcome is SendOutcome.REFUSED and not self.retry and self.echoes:
            raise ValueError(f"{self.body!r} is refused and never retried: it has no echo")

    def describe(self) -> str:
        text = f"{self.body!r} {self.outcome}"
        if self.echoes:
            text += f", echoed {'once' if self.echoes == 1 else 'twice'}"
        if self.retry:
            text += ", retried"
        return text


@dataclass(frozen=True, slots=True)
class SmallWorld:
    """What happens in one small chat: your sends, and optionally bob's message."""

    sends: tuple[SendPlan, ...]
    other: str | None = None
    """The body of a message bob posts to the chat, or None."""

    def __post_init__(self) -> None:
        if not self.sends:
            raise ValueError("a world has at least one send")

    def describe(self) -> str:
        parts = [plan.describe() for plan in self.sends]
        if self.other is not None:
            parts.append(f"bob posts {self.other!r}")
        return "; ".join(parts)


_HI = SendPlan("hi", echoes=2)
_OK_LOST = SendPlan("ok", SendOutcome.ACK_LOST)
_OK_REFUSED = SendPlan("ok", SendOutcome.REFUSED, echoes=0)

WORLD_SIZES: tuple[SmallWorld, ...] = (
    SmallWorld((_HI,)),
    SmallWorld((_HI, _OK_LOST)),
    SmallWorld((_HI, _OK_LOST, _OK_REFUSED)),
    SmallWorld((_HI, _OK_LOST, _OK_REFUSED), other="hey"),
    SmallWorld((_HI, SendPlan("ok", SendOutcome.ACK_LOST, retry=True), _OK_REFUSED), other="hey"),
    SmallWorld(
        (
            _HI,
            SendPlan("ok", SendOutcome.ACK_LOST, retry=True),
            SendPlan("ok", SendOutcome.REFUSED, echoes=1, retry=True),
        ),
        other="hey",
    ),
)
"""The worlds by size, smallest first; each adds one ingredient to the one before.

1. "hi", acked and echoed twice;
2. and "ok", whose ack is lost (the client times out) but whose echo comes;
3. and a second "ok", which the server refuses (two messages with the same words);
4. and bob posts "hey";
5. and you retry the first "ok";
6. and you retry the refused "ok" too, which is then echoed.
"""

DEFAULT_SIZE = 3
"""62,370 orderings: every outcome, a double echo, identical words — under a second."""

ONE_MESSAGE = SmallWorld((_HI,), other="hey")
"""One message, acked and echoed twice, while bob posts: the smallest interesting world."""

TWO_RETRIES = SmallWorld(
    (
        SendPlan("ok", SendOutcome.ACK_LOST, echoes=2, retry=True),
        SendPlan("no", SendOutcome.REFUSED, echoes=1, retry=True),
    )
)
"""Two messages that fail and are retried, while their echoes may arrive at any time."""


def world_of_size(size: int) -> SmallWorld:
    """The standard world of this size (1 to ``len(WORLD_SIZES)``)."""
    if not 1 <= size <= len(WORLD_SIZES):
        raise ValueError(f"world sizes go from 1 to {len(WORLD_SIZES)}, not {size}")
    return WORLD_SIZES[size - 1]


class EventKind(enum.Enum):
    """What one event of a timeline is."""

    SEND = "send"
    STORE = "store"
    ACK = "ack"
    TIME_OUT = "time out"
    REFUSE = "refuse"
    ECHO = "echo"
    RETRY = "retry"
    RETRY_ACK = "retry ack"
    POST = "post"
    POST_ECHO = "post echo"


class Event(NamedTuple):
    """One step of a timeline: what happens, and to which send (its index in the world)."""

    kind: EventKind
    send: int = -1

    def __repr__(self) -> str:
        return f"{self.kind.name}" if self.send < 0 else f"{self.kind.name}({self.send})"


BUSY, ON_SERVER, DONE = "busy", "server", "done"
"""Where a send is, as a phone says it: running (waiting on something other than the
server), waiting on the server's answer to its own request, or finished."""

SERVER_ONLY = frozenset({EventKind.STORE, EventKind.POST})
"""Events only the server sees: they change what it stores, not what the client shows."""

Progress = tuple[int, ...]
"""How far each send has got (see `Space`), then bob's message: 0, 1 posted, 2 echoed."""

_SENT, _STORED, _ANSWERED, _ECHOED, _RETRIED, _RETRY_ANSWERED = range(6)
_FIELDS = 6


class Space:
    """Every ordering of one world, as a graph over progress tuples.

    `moves` lists the events allowed next, in a fixed order (so exploring is
    deterministic); `completions` counts the complete orderings from a point.
    """

    def __init__(self, world: SmallWorld) -> None:
        self.world = world
        self.start: Progress = (0,) * (_FIELDS * len(world.sends)) + (
            (0,) if world.other is not None else (2,)
        )
        self._moves: dict[Progress, tuple[tuple[Event, Progress], ...]] = {}
        self._completions: dict[Progress, int] = {}

    def moves(self, progress: Progress) -> tuple[tuple[Event, Progress], ...]:
        """The events that may happen next, each with the progress after it."""
        cached = self._moves.get(progress)
        if cached is None:
            cached = self._moves[progress] = tuple(self._enabled(progress))
        return cached

    def completions(self, progress: Progress) -> int:
        """How many complete orderings continue from ``progress`` (1 at the end)."""
        cached = self._completions.get(progress)
        if cached is not None:
            return cached
        # Iterative post-order, so deep worlds do not hit the recursion limit.
        stack = [progress]
        while stack:
            top = stack[-1]
            if top in self._completions:
                stack.pop()
                continue
            moves = self.moves(top)
            missing = [after for _, after in moves if after not in self._completions]
            if missing:
                stack.extend(missing)
                continue
            self._completions[top] = sum(self._completions[after] for _, after in moves) or 1
            stack.pop()
        return self._completions[progress]

    def is_complete(self, progress: Progress) -> bool:
        return not self.moves(progress)

    def sequences(self, length: int | None = None) -> list[tuple[Event, ...]]:
        """Every ordering cut after ``length`` events (shorter complete ones whole).

        With no ``length``, every complete ordering. Brute force, for checking the
        explorer: nothing is shared or merged. Every ordering of at most ``length``
        events is a prefix of one of these.
        """
        found: list[tuple[Event, ...]] = []

        def walk(progress: Progress, prefix: tuple[Event, ...]) -> None:
            moves = self.moves(progress)
            if len(prefix) == length or not moves:
                found.append(prefix)
                return
            for event, after in moves:
                walk(after, (*prefix, event))

        walk(self.start, ())
        return found

    def replay(self, events: Sequence[Event]) -> Progress:
        """The progress after ``events``; raises ValueError if they break causality."""
        progress = self.start
        for event in events:
            for allowed, after in self.moves(progress):
                if allowed == event:
                    progress = after
                    break
            else:
                raise ValueError(f"{event!r} is not possible after {list(events)}")
        return progress

    def _enabled(self, progress: Progress) -> list[tuple[Event, Progress]]:
        """The events allowed next: server-only ones first (the explorer relies on it)."""
        enabled: list[tuple[Event, Progress]] = []

        def step(kind: EventKind, index: int, field: int, value: int) -> None:
            after = list(progress)
            after[index * _FIELDS + field] = value
            enabled.append((Event(kind, index), tuple(after)))

        for index, plan in enumerate(self.world.sends):
            base = index * _FIELDS
            sent, stored, answered, echoed, retried, retry_answered = progress[
                base : base + _FIELDS
            ]
            if not sent:
                step(EventKind.SEND, index, _SENT, 1)
                continue
            receivable = plan.outcome is not SendOutcome.REFUSED or retried
            if not stored and receivable:
                step(EventKind.STORE, index, _STORED, 1)
            if not answered:
                if plan.outcome is SendOutcome.ACKED and stored:
                    step(EventKind.ACK, index, _ANSWERED, 1)
                elif plan.outcome is SendOutcome.ACK_LOST:
                    step(EventKind.TIME_OUT, index, _ANSWERED, 1)
                elif plan.outcome is SendOutcome.REFUSED:
                    step(EventKind.REFUSE, index, _ANSWERED, 1)
            if stored and echoed < plan.echoes:
                step(EventKind.ECHO, index, _ECHOED, echoed + 1)
            if plan.retry and answered and not retried and not echoed:
                step(EventKind.RETRY, index, _RETRIED, 1)
            if retried and stored and not retry_answered:
                step(EventKind.RETRY_ACK, index, _RETRY_ANSWERED, 1)
        if progress[-1] < 2:
            kind = EventKind.POST if progress[-1] == 0 else EventKind.POST_ECHO
            after = (*progress[:-1], progress[-1] + 1)
            enabled.append((Event(kind), after))
        enabled.sort(key=lambda move: move[0].kind not in SERVER_ONLY)  # stable
        return enabled


@functools.lru_cache(maxsize=64)
def space(world: SmallWorld) -> Space:
    """The (cached) ordering graph of a world."""
    return Space(world)


def world_data(world: SmallWorld) -> dict[str, Any]:
    """A world as the judge sends it to a phone."""
    return {
        "sends": [[plan.body, plan.outcome.value, plan.echoes, plan.retry] for plan in world.sends],
        "other": world.other,
    }


def world_from(data: dict[str, Any]) -> SmallWorld:
    """The world the judge sent (the phone trusts the judge)."""
    sends = tuple(
        SendPlan(body, SendOutcome(outcome), echoes, retry)
        for body, outcome, echoes, retry in data["sends"]
    )
    return SmallWorld(sends, data["other"])
