"""A failure's story as a sequence diagram: who sent what to whom, in the order it happened.

A race is easier to see than to read. This module turns the story model
(`chatkit.engine.story.Step`) into a diagram model — lanes, and one row per step — that the
terminal (`diagram_text`) and the HTML report (`diagram_svg`) both draw, so they
cannot disagree about what happened:

- one lane per party: you on the left, the server next, each other user after it;
- an `Arrow` for every step that goes between two parties (a send, a retry, an ack,
  an echo, a refusal, a post from another device, a history reload, and a lost ack:
  the answer that never arrives, drawn cut short);
- a `Mark` on one lane for what happens in one place (the server stores a message,
  a client refuses a body before sending it), and a `Mark` across every lane for a note.

Every step is exactly one row, so row *n* is step *n* and the step where a rule broke
is marked where it happened, with every screen at that step beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatkit.engine.story import SERVER, Kind, Step

EVERYONE = "the chat"
"""A step's target when it reaches every member of the chat (an echo, a burst's acks)."""

ARROW_KINDS = frozenset(
    {Kind.SEND, Kind.RETRY, Kind.ACK, Kind.ECHO, Kind.REFUSE, Kind.LOST, Kind.POST, Kind.HISTORY}
)
"""The kinds of step that go from one party to another."""

LABELS = {
    Kind.SEND: "send",
    Kind.RETRY: "retry",
    Kind.STORE: "stored",
    Kind.ACK: "ack",
    Kind.ECHO: "echo",
    Kind.REFUSE: "refused",
    Kind.LOST: "lost",
    Kind.POST: "post",
    Kind.HISTORY: "history",
    Kind.REFUSED_INPUT: "not sent",
    Kind.NOTE: "note",
}
"""The word written on a step's arrow or mark."""


@dataclass(frozen=True, slots=True)
class Arrow:
    """A step that went from one party to others: one arrow, however many it reached."""

    step: Step
    source: str
    targets: tuple[str, ...]
    """The lanes it reached: one, or every member for a step to the whole chat."""

    @property
    def lost(self) -> bool:
        """The answer never arrived: the arrow stops short of its target."""
        return self.step.kind is Kind.LOST

    @property
    def label(self) -> str:
        return LABELS[self.step.kind]


@dataclass(frozen=True, slots=True)
class Mark:
    """A step that happened in one place (``lane``), or a note across every lane (``lane=""``)."""

    step: Step
    lane: str

    @property
    def label(self) -> str:
        return LABELS[self.step.kind]


Row = Arrow | Mark


@dataclass(frozen=True, slots=True)
class Diagram:
    """The lanes, left to right, and one row per step of the story, in order."""

    lanes: tuple[str, ...]
    rows: tuple[Row, ...]

    @property
    def arrows(self) -> list[Arrow]:
        return [row for row in self.rows if isinstance(row, Arrow)]

    @property
    def broken(self) -> Row | None:
        """The row of the step where a rule broke, if the story says so."""
        return next((row for row in self.rows if row.step.broke), None)

    def column(self, lane: str) -> int:
        return self.lanes.index(lane)


def diagram(story: Sequence[Step]) -> Diagram | None:
    """The story drawn as lanes and rows; ``None`` when nothing in it went anywhere.

    A story of notes alone (or no story) has nothing a diagram would add to the text.
    """
    if not any(step.kind is not Kind.NOTE for step in story):
        return None
    lanes = _lanes(story)
    return Diagram(lanes, tuple(_row(step, lanes) for step in story))


def _lanes(story: Sequence[Step]) -> tuple[str, ...]:
    """You first, then the server, then everyone else in the order they appear.

    With "you" in the middle an echo to the chat fans out both ways from the server,
    and no arrow to another user crosses your lane.
    """
    users: list[str] = []
    for step in story:
        for party in (step.source, step.target, *step.timelines):
            if party not in ("", SERVER, EVERYONE) and party not in users:
                users.append(party)
    users.sort(key=lambda user: user != "you")  # stable: everyone else keeps their order
    return (*users[:1], SERVER, *users[1:])


def _row(step: Step, lanes: tuple[str, ...]) -> Row:
    if step.kind in ARROW_KINDS and step.source in lanes:
        targets = _targets(step, lanes)
        if targets:
            return Arrow(step, step.source, targets)
    lane = step.source if step.source in lanes else step.target if step.target in lanes else ""
    return Mark(step, lane)


def _targets(step: Step, lanes: tuple[str, ...]) -> tuple[str, ...]:
    """Who an arrow reaches, in lane order: every member with a screen, for the whole chat."""
    if step.target == EVERYONE:
        members = set(step.timelines) or set(lanes) - {SERVER}
        return tuple(lane for lane in lanes if lane in members and lane != step.source)
    return (step.target,) if step.target in lanes and step.target != step.source else ()
