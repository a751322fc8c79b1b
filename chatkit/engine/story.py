"""The story of a scenario: what happened, step by step, and what every screen showed.

One model for every teller: the scenario harness writes it, the timeline explorer
writes it for its counterexamples, the grader carries it across the process
boundary as JSON, and the report, the exports and the comparison read it.

A screen is what its user sees: the timeline's rows, then "[sending…]" while a send
is unsettled and "[banner: …]" while the error banner shows — rules 7 and 14 are
about those as much as rule 3 is about the rows.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any

from chatkit.engine.rules import describe_timeline
from chatkit.state import ChatState

SENDING = "[sending…]"


class Kind(enum.StrEnum):
    """What a step was, for whoever draws it: an arrow between two parties, or a note."""

    SEND = "send"
    RETRY = "retry"
    STORE = "store"
    ACK = "ack"
    ECHO = "echo"
    REFUSE = "refuse"
    LOST = "lost"
    """The sender gave up waiting: the ack was lost, or is only late."""
    POST = "post"
    """Someone on another device sent a message, and the server stored it."""
    HISTORY = "history"
    """A reconnect or a reload: the server's list of messages reaches a client."""
    REFUSED_INPUT = "refused input"
    """A body the client must refuse before sending (empty, blank, too long)."""
    NOTE = "note"


SERVER = "server"
"""The party that stands for the server in a step's ``source`` and ``target``."""


@dataclass(slots=True)
class Step:
    """One line of the story, with each user's screen right after it."""

    number: int
    text: str
    timelines: dict[str, list[str]]
    """Each user's screen after the step: rows, then the indicator and banner lines."""
    kind: Kind = Kind.NOTE
    source: str = ""
    """Who the step went from: a user, `SERVER`, or "" for a note."""
    target: str = ""
    """Who it reached: a user, `SERVER`, "the chat" (every member), or ""."""
    printed: str = ""
    """What the learner's code printed during this step."""
    broke: str | None = None
    """The rule this step broke ("rule 3, Exactly once"), on the failing step only."""

    def line(self, user: str = "you") -> str:
        """The step on one line, with ``user``'s screen: ``2. the ack … → 'hi' sent #1``."""
        screen = self.timelines.get(user) or []
        shown = " · ".join(screen) if screen else "(nothing on screen)"
        return f"{self.number}. {self.text} → {shown}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        return cls(**{**data, "kind": Kind(data.get("kind", Kind.NOTE))})


def told(steps: list[Step]) -> list[str]:
    """The story as plain text, a few lines a step: for JSON, JUnit and plain pytest."""
    lines = []
    for step in steps:
        lines.append(f"{step.number}. {step.text}")
        for user, timeline in step.timelines.items():
            who = "you see" if user == "you" else f"{user} sees"
            lines.append(f"     {who}: {' · '.join(timeline) or '(empty)'}")
        if step.printed:
            lines.append(f"     your code printed: {step.printed.rstrip()}")
        if step.broke:
            lines.append(f"     ✗ {step.broke} broke here")
    return lines


def screen(state: ChatState, chat_id: str, *, rows: int | None = None) -> list[str]:
    """What ``state``'s user sees of a chat: its rows (the first and last ``rows`` of a long
    timeline), then the "sending…" indicator and the banner when they show."""
    lines = describe_timeline(state, chat_id)
    if rows is not None and len(lines) > 2 * rows:
        lines = [*lines[:rows], f"… {len(lines) - 2 * rows:,} more …", *lines[-rows:]]
    chat = state.chats.get(chat_id)
    if chat is not None and chat.sending:
        lines.append(SENDING)
    if chat is not None and chat.error is not None:
        lines.append(f"[banner: {chat.error}]")
    return lines
