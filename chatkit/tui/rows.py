"""One message on screen: its words and a mark that says where it is on its way.

The mark is the point of the whole client: a grey clock while the message is
pending, a green tick once the server confirmed it (with its sequence number),
a red cross with the reason when it failed. A row is a widget of its own so it
can change in place, the way a real chat turns a clock into a tick.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import events
from textual.message import Message as TextualMessage
from textual.widgets import Static

from chatkit.model import Message, Status

MARKS = {Status.PENDING: "◷", Status.SENT: "✓", Status.FAILED: "✗"}
MARK_STYLES = {Status.PENDING: "grey50", Status.SENT: "bold green", Status.FAILED: "bold red"}
UNKNOWN_MARK = "?"


def status_of(message: Message) -> Status | None:
    """The row's status if the learner's code left a real `Status` there, else None."""
    status: object = message.status
    return status if isinstance(status, Status) else None


def clock(moment: object) -> str:
    """``14:03`` in local time, or nothing if the row's timestamp is not a datetime."""
    return moment.astimezone().strftime("%H:%M") if isinstance(moment, datetime) else ""


def render_row(message: Message, *, mine: bool) -> Text:
    """The text of one row: mark, author, words, and what the status means."""
    status = status_of(message)
    mark = MARKS.get(status, UNKNOWN_MARK) if status else UNKNOWN_MARK
    text = Text()
    text.append(mark, style=MARK_STYLES.get(status, "bold magenta") if status else "bold magenta")
    text.append(" ")
    text.append(f"{message.author}", style="bold" if mine else "bold cyan")
    text.append(": ")
    text.append(str(message.body), style="grey62" if status is Status.PENDING else "")
    text.append("  ")
    if status is Status.PENDING:
        text.append("pending", style="grey50 italic")
    elif status is Status.SENT:
        detail = f"#{message.seq}" if message.seq is not None else "sent"
        text.append(" ".join(part for part in (detail, clock(message.created_at)) if part), "dim")
    elif status is Status.FAILED:
        reason = message.error or "no reason given"
        text.append(f"failed: {reason}", style="red")
        if mine:
            text.append(" · ctrl+r or click to retry", style="dim")
    else:
        text.append(f"status {message.status!r} is not a Status", style="magenta")
    return text


class MessageRow(Static):
    """One message of the timeline, redrawn in place when its status changes.

    ``shown`` lists the statuses this row has displayed, in order: the screen's own
    record that a message really went from the clock to the tick.
    """

    DEFAULT_CSS = """
    MessageRow {
        height: auto;
        padding: 0 1;
    }
    MessageRow.failed {
        background: $error 15%;
    }
    """

    class RetryRequested(TextualMessage):
        """The user clicked a failed message of their own."""

        def __init__(self, client_id: str) -> None:
            super().__init__()
            self.client_id = client_id

    def __init__(self, message: Message, *, mine: bool) -> None:
        super().__init__()
        self.message = message
        self.mine = mine
        self.shown: list[Status | None] = []
        self._drawn: tuple[object, ...] | None = None
        self.show()

    @property
    def client_id(self) -> str:
        return self.message.client_id

    @property
    def status(self) -> Status | None:
        return status_of(self.message)

    @property
    def text(self) -> str:
        """What the row reads as now, as plain text (for tests and screen readers alike)."""
        return render_row(self.message, mine=self.mine).plain

    def show(self) -> None:
        """Redraw if the message changed since the last time it was drawn."""
        message = self.message
        drawn = (
            message.status,
            message.body,
            message.author,
            message.seq,
            message.error,
            message.created_at,
        )
        if drawn == self._drawn:
            return
        self._drawn = drawn
        status = self.status
        if not self.shown or self.shown[-1] is not status:
            self.shown.append(status)
        self.set_class(status is Status.FAILED, "failed")
        self.update(render_row(message, mine=self.mine))

    def on_click(self, event: events.Click) -> None:
        if self.mine and self.status is Status.FAILED:
            self.post_message(self.RetryRequested(self.client_id))
