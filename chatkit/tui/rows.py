"""One message on screen: its words, who wrote it, and, on your own, where it is on its way.

The mark is the point of the whole client, and it belongs to the sender: on your
own messages a clock while pending, a tick once the server stored it, a red mark
with the reason and how to retry when it failed. Other people's messages carry
their name and time, no mark: for you they are simply there. Your own sit on the
right in a tinted row, the others' on the left, as in any chat app. A row is a
widget of its own so it can change in place, the way a real chat turns a clock
into a tick.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message as TextualMessage
from textual.widgets import Static

from chatkit.model import Message, Status

MARKS = {Status.PENDING: "◷", Status.SENT: "✓", Status.FAILED: "✗"}
MARK_STYLES = {Status.PENDING: "grey62", Status.SENT: "bold green", Status.FAILED: "bold red"}
RETRY_HOW = "ctrl+r or click to retry"


def status_of(message: Message) -> Status | None:
    """The row's status if the learner's code left a real `Status` there, else None."""
    status: object = message.status
    return status if isinstance(status, Status) else None


def clock(moment: object) -> str:
    """``14:03`` in local time, or nothing if the row's timestamp is not a datetime."""
    return moment.astimezone().strftime("%H:%M") if isinstance(moment, datetime) else ""


def render_body(message: Message, *, mine: bool, named: bool = True) -> Text:
    """The words, after the author's name on other people's messages.

    ``named`` False: the message follows another by the same person, so the name is
    left out (as chat apps group a run of messages) and the words stay in line.
    """
    text = Text()
    if not mine:
        author = str(message.author)
        text.append(author if named else " " * len(author), style="bold cyan")
        text.append("  ")
    text.append(str(message.body))
    return text


def render_reason(message: Message, *, mine: bool) -> str:
    """Under a failed message of your own: why, and how to send it again (else nothing)."""
    if not mine or status_of(message) is not Status.FAILED:
        return ""
    return f"{message.error or 'no reason given'}\n{RETRY_HOW}"


def render_meta(message: Message, *, mine: bool) -> Text:
    """The column beside the words: the time, and on your own messages the status mark."""
    status = status_of(message)
    when = clock(message.created_at)
    if status is None:
        return Text(f"? status {message.status!r} is not a Status", style="bold magenta")
    if not mine:
        return Text(when, style="dim")
    if status is Status.PENDING:
        return Text(f"{MARKS[status]} sending", style=MARK_STYLES[status])
    if status is Status.FAILED:
        return Text(f"{MARKS[status]} not sent", style=MARK_STYLES[status])
    text = Text(f"{when} ", style="dim")
    text.append(MARKS[status], style=MARK_STYLES[status])
    return text


class MessageRow(Vertical):
    """One message of the timeline, redrawn in place when its status changes: the words,
    a column beside them for the time and the mark, and the reason under a failed one.

    ``shown`` lists the statuses this row has displayed, in order: the screen's own
    record that a message really went from the clock to the tick.
    """

    DEFAULT_CSS = """
    MessageRow {
        height: auto;
        padding: 0 1;
        margin: 0 8 0 0;
    }
    MessageRow > Horizontal {
        height: auto;
    }
    MessageRow .body {
        width: 1fr;
        height: auto;
    }
    MessageRow .meta {
        width: auto;
        height: auto;
        margin: 0 0 0 2;
    }
    MessageRow .reason {
        display: none;
        color: $text-error;
        text-align: right;
    }
    MessageRow.failed .reason {
        display: block;
    }
    MessageRow.mine {
        margin: 0 0 0 8;
        background: $primary 18%;
    }
    MessageRow.mine .body {
        text-align: right;
    }
    MessageRow.pending Static {
        color: $text-muted;
    }
    MessageRow.failed {
        background: $error 22%;
    }
    """

    class RetryRequested(TextualMessage):
        """The user clicked a failed message of their own."""

        def __init__(self, client_id: str) -> None:
            super().__init__()
            self.client_id = client_id

    def __init__(self, message: Message, *, mine: bool, named: bool = True) -> None:
        super().__init__(classes="mine" if mine else "")
        self.message = message
        self.mine = mine
        self.named = named
        """Whether the author's name is shown (not when the message above is theirs too)."""
        self.shown: list[Status | None] = []
        self._drawn: tuple[object, ...] | None = None
        self._body = Static(classes="body")
        self._meta = Static(classes="meta")
        self._reason = Static(classes="reason")
        self.show()

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield self._body
            yield self._meta
        yield self._reason

    @property
    def client_id(self) -> str:
        return self.message.client_id

    @property
    def status(self) -> Status | None:
        return status_of(self.message)

    @property
    def text(self) -> str:
        """What the row reads as now, as plain text (for tests and screen readers alike)."""
        message, mine = self.message, self.mine
        body = render_body(message, mine=mine, named=self.named).plain
        text = f"{body}  {render_meta(message, mine=mine).plain}"
        reason = render_reason(message, mine=mine)
        return f"{text}\n{reason}" if reason else text

    def show(self, *, named: bool | None = None) -> None:
        """Redraw if the message (or whether its name shows) changed since the last drawing."""
        if named is not None:
            self.named = named
        message = self.message
        drawn = (
            self.named,
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
        self.set_class(self.mine and status is Status.PENDING, "pending")
        self.set_class(self.mine and status is Status.FAILED, "failed")
        self._body.update(render_body(message, mine=self.mine, named=self.named))
        self._meta.update(render_meta(message, mine=self.mine))
        self._reason.update(Text(render_reason(message, mine=self.mine)))

    def on_click(self, event: events.Click) -> None:
        if self.mine and self.status is Status.FAILED:
            self.post_message(self.RetryRequested(self.client_id))
