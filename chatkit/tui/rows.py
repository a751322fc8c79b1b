"""One message on screen: its words, who wrote it, and, on your own, where it is on its way.

The mark is the point of the whole client, and it belongs to the sender: on your
own messages a clock while pending, a tick once the server stored it, a red mark
with the reason and how to retry when it failed. Other people's messages carry
their name and time, no mark: for you they are simply there. Your own sit on the
right in a tinted box, the others' on the left, as in any chat app.

A `MessageRow` is not a widget: a chat can hold ten thousand of them, and a widget
each would make every change cost as much as the whole chat. It is the drawing of
one message, remembered: `MessageRow.update` says whether anything it shows
changed, and `MessageRow.lines` draws it at a width, once per change, for the
`chatkit.tui.timeline.Timeline` that shows only the rows in view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from chatkit.model import Message, Status

MARKS = {Status.PENDING: "◷", Status.SENT: "✓", Status.FAILED: "✗"}
MARK_STYLES = {Status.PENDING: "grey62", Status.SENT: "bold green", Status.FAILED: "bold red"}
RETRY_HOW = "ctrl+r or click to retry"
NAME_STYLE = "bold cyan"
GAP = 2
"""Columns between the words and the time-and-mark column."""
WIDE_INDENT = 8
NARROW_INDENT = 2
NARROW_BELOW = 60
"""Under this many columns a row gives up most of its indent, so the words keep room."""


def status_of(message: Message) -> Status | None:
    """The row's status if the learner's code left a real `Status` there, else None."""
    status: object = message.status
    return status if isinstance(status, Status) else None


def clock(moment: object) -> str:
    """``14:03`` in local time, or nothing if the row's timestamp is not a datetime."""
    return moment.astimezone().strftime("%H:%M") if isinstance(moment, datetime) else ""


def render_name(message: Message, *, named: bool = True) -> Text:
    """The author's name and the gap after it, or as many spaces (a run of one person's
    messages shows the name once, and the words stay in one column under it)."""
    author = str(message.author)
    text = Text()  # the style on the name only: a Text's own style would run into the words
    text.append(author if named else " " * cell_len(author), style=NAME_STYLE)
    text.append(" " * GAP)
    return text


def render_body(message: Message, *, mine: bool, named: bool = True) -> Text:
    """The words, after the author's name on other people's messages."""
    text = Text() if mine else render_name(message, named=named)
    text.append(str(message.body))
    return text


def render_reason(message: Message, *, mine: bool, how: str = RETRY_HOW) -> str:
    """Under a failed message of your own: why, and ``how`` to send it again (else nothing)."""
    if not mine or status_of(message) is not Status.FAILED:
        return ""
    return f"{message.error or 'no reason given'}\n{how}"


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


Key = tuple[int, int]
"""A row's place in the timeline's order: ``(0, seq)`` confirmed, ``(1, n)`` the n-th added."""


def order_key(message: Message, added: int) -> Key:
    """Where `chatkit.state.Chat.timeline` puts a message: confirmed ones by their
    server seq, then the others in the order they were added (``added``)."""
    if message.status is Status.SENT and message.seq is not None:
        return (0, message.seq)
    return (1, added)


@dataclass(frozen=True, slots=True)
class RowStyles:
    """The styles a row is drawn with, read from the timeline's CSS (its component classes)."""

    mine: Style
    failed: Style
    pending: Style
    reason: Style


class MessageRow:
    """One message of the timeline, and its drawing, redrawn only when what it shows changes.

    ``shown`` lists the statuses this row has displayed, in order: the screen's own
    record that a message really went from the clock to the tick.
    """

    __slots__ = (
        "_drawn",
        "_height",
        "_lines",
        "added",
        "how",
        "key",
        "message",
        "mine",
        "named",
        "shown",
    )

    def __init__(self, message: Message, *, mine: bool, added: int, named: bool = True) -> None:
        self.message = message
        self.mine = mine
        self.added = added
        """When the message was added to its chat (its index in ``chat.rows``)."""
        self.key = order_key(message, added)
        """Its place in the timeline's order, as last drawn."""
        self.named = named
        """Whether the author's name is shown (not when the message above is theirs too)."""
        self.how = RETRY_HOW
        """What the reason under a failed message says to do next."""
        self.shown: list[Status | None] = []
        self._drawn: tuple[object, ...] | None = None
        self._lines: tuple[int, list[Strip]] | None = None
        self._height: tuple[int, int] | None = None
        self.update()

    @property
    def client_id(self) -> str:
        return self.message.client_id

    @property
    def status(self) -> Status | None:
        return status_of(self.message)

    def has_class(self, *names: str) -> bool:
        """Whether the row is drawn as all of ``mine``, ``pending`` and ``failed`` named."""
        return set(names) <= self.classes

    @property
    def classes(self) -> set[str]:
        status = self.status
        classes = {"mine"} if self.mine else set()
        if self.mine and status is Status.PENDING:
            classes.add("pending")
        if self.mine and status is Status.FAILED:
            classes.add("failed")
        return classes

    @property
    def text(self) -> str:
        """What the row reads as now, as plain text (for tests and screen readers alike)."""
        message, mine = self.message, self.mine
        body = render_body(message, mine=mine, named=self.named).plain
        text = f"{body}  {render_meta(message, mine=mine).plain}"
        reason = render_reason(message, mine=mine, how=self.how)
        return f"{text}\n{reason}" if reason else text

    def update(
        self, *, named: bool | None = None, how: str | None = None, added: int | None = None
    ) -> bool:
        """Take note of the message as it is now; True if its drawing (or its place in the
        order) has to change."""
        if named is not None:
            self.named = named
        if how is not None:
            self.how = how
        if added is not None and added != self.added:
            self.added = added
            self.key = order_key(self.message, added)
            self._drawn = None  # its place changed: the timeline must place it again
        drawn = self._drawing()
        if drawn == self._drawn:
            return False
        self._drawn = drawn
        self.key = order_key(self.message, self.added)
        self._lines = self._height = None
        status = self.status
        if not self.shown or self.shown[-1] is not status:
            self.shown.append(status)
        return True

    @property
    def stale(self) -> bool:
        """Whether the message changed since the row last took note of it (`update`)."""
        return self._drawing() != self._drawn

    def _drawing(self) -> tuple[object, ...]:
        """Everything the drawing depends on, to compare with the last one."""
        message = self.message
        return (
            self.named,
            message.status,
            message.body,
            message.author,
            message.seq,
            message.error,
            message.created_at,
            self.how if message.status is Status.FAILED else None,
        )

    def height(self, width: int) -> int:
        """How many lines the row takes at ``width`` columns, without drawing it if it can:
        a chat of ten thousand rows is measured again at every resize."""
        if self._height is not None and self._height[0] == width:
            return self._height[1]
        if self._lines is not None and self._lines[0] == width:
            height = len(self._lines[1])
        else:
            height = self._quick_height(width) or len(self._draw(width, None))
        self._height = (width, height)
        return height

    def lines(self, width: int, console: Console, styles: RowStyles) -> list[Strip]:
        """The row drawn at ``width`` columns (kept until the message or the width changes)."""
        if self._lines is None or self._lines[0] != width:
            self._lines = (width, self._draw(width, (console, styles)))
        return self._lines[1]

    def _quick_height(self, width: int) -> int | None:
        """The height of a one-line message that fits, counted not drawn; None otherwise."""
        body = str(self.message.body)
        if "\n" in body or self.status is None:
            return None
        space = _content_width(width) - render_meta(self.message, mine=self.mine).cell_len - GAP
        needed = cell_len(body) + (0 if self.mine else cell_len(str(self.message.author)) + GAP)
        if needed > space:
            return None
        reason = render_reason(self.message, mine=self.mine, how=self.how)
        if not reason:
            return 1
        if any(cell_len(line) > _content_width(width) for line in reason.splitlines()):
            return None
        return 1 + len(reason.splitlines())

    def _draw(self, width: int, how: tuple[Console, RowStyles] | None) -> list[Strip]:
        """The strips of the row; with ``how`` None only their number matters."""
        console, styles = how if how is not None else (_MEASURING, None)
        message, mine = self.message, self.mine
        inner = _content_width(width)
        meta = render_meta(message, mine=mine)
        words = max(1, inner - meta.cell_len - GAP)
        if mine:
            body = Text(str(message.body)).wrap(console, words, justify="right")
            lines = [line for line in body]
        else:
            name = render_name(message, named=self.named)
            hang = min(name.cell_len, words - 1)
            body = Text(str(message.body)).wrap(console, max(1, words - hang), justify="left")
            lines = [
                (name if index == 0 else Text(" " * hang)) + line for index, line in enumerate(body)
            ]
        texts = []
        for index, line in enumerate(lines or [Text()]):
            line.set_length(words)
            line.append(" " * GAP)
            line.append_text(meta if index == 0 else Text(" " * meta.cell_len))
            texts.append(line)
        reason = render_reason(message, mine=mine, how=self.how)
        if reason:
            style = styles.reason if styles is not None else Style()
            texts.extend(Text(reason, style=style).wrap(console, inner, justify="right"))
        if styles is None:
            return [Strip.blank(width)] * len(texts)
        return [self._box(text, width, inner, styles, console) for text in texts]

    def _box(
        self, text: Text, width: int, inner: int, styles: RowStyles, console: Console
    ) -> Strip:
        """One line of the row: the indent outside the box, then the padded, tinted box."""
        text.set_length(inner)
        box = Style()
        status = self.status
        if self.mine:
            box = styles.mine
            if status is Status.FAILED:
                box = box + styles.failed
            elif status is Status.PENDING:
                box = box + styles.pending
        segments = [Segment(" "), *text.render(console), Segment(" ")]
        inside = Strip(Segment.apply_style(segments, box), inner + 2)
        indent = Segment(" " * _indent(width))
        outside = [indent, *inside] if self.mine else [*inside, indent]
        return Strip(outside).adjust_cell_length(width)


_MEASURING = Console(width=1000, color_system=None, legacy_windows=False)
"""Wraps text only to count its lines (wrapping needs a console, drawing nothing)."""


def _indent(width: int) -> int:
    """The columns a row leaves free on the side its author is not on."""
    return WIDE_INDENT if width >= NARROW_BELOW else NARROW_INDENT


def _content_width(width: int) -> int:
    """The columns for words and marks: the width less the indent and the box's padding."""
    return max(4, width - _indent(width) - 2)
