"""The scroll of message rows: it draws only the lines in view, and only rows that changed.

A chat can hold ten thousand messages; a widget per message made every change
(a tick, a new row) cost as much as the whole chat, and under a burst the screen
fell seconds behind the server. `Timeline` is one Line-API widget instead: it
keeps each row's height and where it starts, asks a row to draw itself only when
it changed or the width did, and hands Textual just the lines on screen.

It stays on the newest message, through new rows, resizes and a notice taking
room above it, until the user scrolls up; scrolling back to the bottom follows
again. Its first line says whether older messages wait on the server, and
scrolling up past the top asks for them (`Timeline.Top`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.message import Message as TextualMessage
from textual.scroll_view import ScrollView
from textual.strip import Strip

from chatkit.model import Status
from chatkit.tui.rows import MessageRow, RowStyles


class Timeline(ScrollView, can_focus=False):
    """The rows of one chat, newest at the bottom. Not focusable: Tab goes from box to box."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timeline--mine",
        "timeline--failed",
        "timeline--pending",
        "timeline--reason",
        "timeline--older",
    }

    DEFAULT_CSS = """
    Timeline {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    Timeline > .timeline--mine {
        background: $primary 18%;
    }
    Timeline > .timeline--failed {
        background: $error 22%;
    }
    Timeline > .timeline--pending {
        color: $text-muted;
    }
    Timeline > .timeline--reason {
        color: $text-error;
    }
    Timeline > .timeline--older {
        color: $text-muted;
    }
    """

    class Top(TextualMessage):
        """The user scrolled up with the timeline already at its top."""

    class RetryRequested(TextualMessage):
        """The user clicked a failed message of their own."""

        def __init__(self, client_id: str) -> None:
            super().__init__()
            self.client_id = client_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[MessageRow] = []
        """The rows in the order they are shown."""
        self.older = ""
        """The first line: whether older messages wait on the server (empty: no line)."""
        self.following = True
        """Whether the view keeps to the newest message (until the user scrolls up)."""
        self._starts: list[int] = []
        """The first line of each row, counted from the top of the content."""
        self._index: dict[int, int] = {}
        """Each row's place in ``rows``, by the row's identity."""
        self._width = 0
        self._styles: RowStyles | None = None

    # What the pane does.

    def show(self, rows: Sequence[MessageRow], changed: Sequence[MessageRow], older: str) -> None:
        """Show ``rows``, of which ``changed`` (and any new ones) must be drawn again."""
        same_rows = len(rows) == len(self.rows) and all(
            a is b for a, b in zip(rows, self.rows, strict=True)
        )
        if same_rows and not changed and older == self.older:
            return
        width = self._width
        measured = (
            same_rows
            and older == self.older
            and all(row.height(width) == self._height_of(row) for row in changed)
        )
        self.rows = list(rows)
        self.older = older
        if not measured:
            self._measure()
        if same_rows and measured:  # only some rows changed, in place: redraw just those lines
            for row in changed:
                index = self._index_of(row)
                if index is not None:
                    self.refresh_lines(self._starts[index], row.height(width))
        else:
            self.refresh()
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def unfollow(self) -> None:
        """Stop keeping to the newest message (the user is reading further up)."""
        self.following = False
        self.anchor(False)

    def row_at(self, line: int) -> MessageRow | None:
        """The row drawn on content line ``line`` (0 is the top of the chat), if any."""
        index = bisect_right(self._starts, line) - 1
        return self.rows[index] if 0 <= index < len(self.rows) else None

    def visible_rows(self) -> list[MessageRow]:
        """The rows with at least one line in view."""
        top = round(self.scroll_y)
        bottom = top + self.scrollable_content_region.height
        first = max(0, bisect_right(self._starts, top) - 1)
        last = bisect_right(self._starts, bottom - 1)
        return self.rows[first:last]

    def line_range(self, row: MessageRow) -> tuple[int, int]:
        """The content lines ``row`` covers: first, and one past its last."""
        index = self._index_of(row)
        if index is None:
            raise ValueError("that row is not in this timeline")
        start = self._starts[index]
        return start, start + row.height(self._width)

    # Drawing.

    def render_line(self, y: int) -> Strip:
        line = round(self.scroll_y) + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if self.older and line == 0:
            text = Text(self.older, style=self.get_component_rich_style("timeline--older"))
            text.align("center", width)
            return Strip(list(text.render(self.app.console)), width).apply_style(base)
        index = bisect_right(self._starts, line) - 1
        if index < 0 or index >= len(self.rows):
            return Strip.blank(width, base)
        row = self.rows[index]
        strips = row.lines(self._width, self.app.console, self._row_styles())
        offset = line - self._starts[index]
        if offset >= len(strips):
            return Strip.blank(width, base)
        return strips[offset].apply_style(base)

    def on_resize(self, event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._measure()
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None

    # Following the newest message.

    def on_mount(self) -> None:
        self.anchor()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(new_value) < round(old_value) and round(new_value) < self.max_scroll_y:
            self.unfollow()  # only the user moves the view up
        elif not self.following and round(new_value) >= self.max_scroll_y:
            self.following = True  # back at the bottom: follow again
            self.anchor()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        if self.scroll_y <= 0:
            self.post_message(self.Top())

    def on_click(self, event: events.Click) -> None:
        row = self.row_at(round(self.scroll_y) + event.y)
        if row is not None and row.mine and row.status is Status.FAILED:
            self.post_message(self.RetryRequested(row.client_id))

    # Plumbing.

    def _row_styles(self) -> RowStyles:
        if self._styles is None:
            style = self.get_component_rich_style  # tints blended over the timeline's own
            self._styles = RowStyles(
                mine=style("timeline--mine"),
                failed=style("timeline--failed"),
                pending=Style(color=style("timeline--pending").color),
                reason=Style(color=style("timeline--reason").color),
            )
        return self._styles

    def _measure(self) -> None:
        """Every row's height at the current width, and so where each starts."""
        self._width = width = self.scrollable_content_region.width
        self._index = {id(row): index for index, row in enumerate(self.rows)}
        heights = [row.height(width) for row in self.rows]
        top = 1 if self.older else 0
        self._starts = [top + start for start in accumulate(heights, initial=0)][:-1]
        total = top + sum(heights)
        self.virtual_size = Size(width, total)

    def _index_of(self, row: MessageRow) -> int | None:
        return self._index.get(id(row))

    def _height_of(self, row: MessageRow) -> int:
        """The height ``row`` had when the timeline last measured it (-1: not shown)."""
        index = self._index.get(id(row))
        if index is None:
            return -1
        end = self._starts[index + 1] if index + 1 < len(self._starts) else self.virtual_size.height
        return end - self._starts[index]
