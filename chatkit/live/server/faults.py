"""Fault injection: make the network's bad days happen on purpose, and replayably.

The races the exercise is about (an echo before its ack, an ack that never comes,
a send the server turns down) are rare on a laptop's loopback. These switches make
them common enough to watch. The server asks `FaultInjector.decide` once per send
and reads the *current* `FaultSettings` each time, so a terminal client can turn
a switch while a demo runs. With a seed, the same sends meet the same faults on
every run, so a demo can be replayed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Literal

from chatkit.live.wire import whole_number

MAX_LATENCY_MS = 60_000
"""The longest added latency a switch may ask for: a minute is already an outage."""

Via = Literal["socketio", "http"]
"""Which transport a send came in on."""


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """The fault switches. Frozen: an update swaps the whole object, so a send never
    sees half of a change."""

    latency_ms: int = 0
    """Added before the server handles a send, as if the network were slow."""
    lose_acks: float = 0.0
    """The share of sends whose message is stored and broadcast but whose ack is dropped."""
    refuse: float = 0.0
    """The share of sends refused outright: nothing is stored, the sender gets an error."""
    echo_first: bool = False
    """Broadcast a message to the room before acking it, so the sender's echo beats its ack.
    Off, the ack is sent first and the broadcast follows."""
    seed: int | None = None
    """Seed for the dice, so a demo can be replayed; None draws a fresh sequence."""
    on_http: bool = False
    """Apply latency, lost acks and refusals to the HTTP send endpoint too. Off by default,
    so HTTP stays the reliable fallback a failover demo needs."""

    def __post_init__(self) -> None:
        if not whole_number(self.latency_ms):
            raise ValueError("latency_ms must be a whole number of milliseconds")
        if not 0 <= self.latency_ms <= MAX_LATENCY_MS:
            raise ValueError(f"latency_ms must be between 0 and {MAX_LATENCY_MS}")
        for name in ("lose_acks", "refuse"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number between 0 and 1")
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1 (got {value})")
        for name in ("echo_first", "on_http"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")
        if self.seed is not None and not whole_number(self.seed):
            raise ValueError("seed must be a whole number or null")

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @property
    def any_on(self) -> bool:
        """Whether any switch makes sends misbehave (what everyone should know)."""
        return bool(self.latency_ms or self.lose_acks or self.refuse or self.echo_first)


FAULT_NAMES = frozenset(f.name for f in fields(FaultSettings))


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one send."""

    latency_s: float = 0.0
    refuse: bool = False
    lose_ack: bool = False
    echo_first: bool = False


class FaultInjector:
    """Holds the current switches and rolls the dice for each send.

    Every send that faults apply to draws exactly two numbers, whatever the
    switches say, so with a seed the n-th send meets the same fate on every run.
    """

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._settings = settings or FaultSettings()
        self._random = random.Random(self._settings.seed)

    @property
    def settings(self) -> FaultSettings:
        """The switches as they are now."""
        return self._settings

    def update(self, changes: Mapping[str, object]) -> FaultSettings:
        """Change some switches; raise ValueError (nothing changed) if one is not valid.

        Giving ``seed`` (even the same one) restarts the dice, which is how a demo
        is replayed from its beginning.
        """
        unknown = sorted(set(changes) - FAULT_NAMES)
        if unknown:
            known = ", ".join(sorted(FAULT_NAMES))
            raise ValueError(f"unknown fault switch {', '.join(unknown)}; known: {known}")
        try:
            updated = replace(self._settings, **changes)  # type: ignore[arg-type]
        except TypeError as error:  # a value of a type replace() cannot take
            raise ValueError(str(error)) from None
        self._settings = updated
        if "seed" in changes:
            self._random = random.Random(updated.seed)
        return updated

    def decide(self, via: Via) -> Decision:
        """Roll for one send that arrived ``via`` a transport."""
        settings = self._settings
        if via == "http" and not settings.on_http:
            return Decision(echo_first=settings.echo_first)
        refuse_roll, lose_roll = self._random.random(), self._random.random()
        refused = refuse_roll < settings.refuse
        return Decision(
            latency_s=settings.latency_ms / 1000,
            refuse=refused,
            lose_ack=not refused and lose_roll < settings.lose_acks,
            echo_first=settings.echo_first,
        )
