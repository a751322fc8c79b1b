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

from bisect import bisect_left, bisect_right
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
from chatkit.tui.rows import Key, MessageRow, RowStyles


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
        overflow-x: hidden;
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
        self._keys: list[Key] = []
        """Each row's place in the order (`order_key`), beside ``rows``: sorted, while the
        flow keeps to the rules, so a row is found and placed by bisection."""
        self._heights: list[int] = []
        self._starts: list[int] = []
        """The first line of each row, counted from the top of the content."""
        self._width = 0
        self._remeasuring = False
        self._styles: RowStyles | None = None

    # What the pane does.

    def show(self, rows: Sequence[MessageRow], changed: Sequence[MessageRow], older: str) -> None:
        """Show ``rows`` (each with its ``key`` set), of which ``changed`` (and any new
        ones) must be drawn again: the whole list, as the pane found it."""
        same_rows = len(rows) == len(self.rows) and all(
            a is b for a, b in zip(rows, self.rows, strict=True)
        )
        if same_rows and not changed and older == self.older:
            return
        self.rows = list(rows)
        self._keys = [row.key for row in self.rows]
        self.older = older
        if same_rows and not self._heights_changed(changed):
            self._redraw(changed)
        else:
            self._measure()
        self._follow()

    def place(self, row: MessageRow) -> list[MessageRow]:
        """Put a new or changed row where its ``key`` says, and draw it again. Returns the
        rows whose neighbour above may have changed (to see whether a name now shows)."""
        index = self.index_of(row)
        touched: list[MessageRow] = []
        in_place = index is not None and self._keys[index] == row.key
        if in_place and not self._heights_changed([row]):  # changed in place: only its lines
            self._redraw([row])
            return []
        if index is not None:
            del self.rows[index], self._keys[index], self._heights[index]
            if index < len(self.rows):
                touched.append(self.rows[index])  # its neighbour above went
        at = bisect_right(self._keys, row.key)
        self.rows.insert(at, row)
        self._keys.insert(at, row.key)
        self._heights.insert(at, row.height(self._width))
        touched.append(row)
        if at + 1 < len(self.rows):
            touched.append(self.rows[at + 1])
        self._restart()
        self._follow()
        return touched

    def redraw(self, rows: Sequence[MessageRow]) -> None:
        """Draw these rows again, in their places (their height may have changed)."""
        if self._heights_changed(rows):
            for row in rows:
                index = self.index_of(row)
                if index is not None:
                    self._heights[index] = row.height(self._width)
            self._restart()
            self._follow()
        else:
            self._redraw(rows)

    def set_older(self, older: str) -> None:
        """Change the first line (whether older messages wait on the server)."""
        if older != self.older:
            self.older = older
            self._restart()

    def index_of(self, row: MessageRow) -> int | None:
        """Where ``row`` is in ``rows``: found by its key, else (keys out of order) by a walk."""
        keys, rows = self._keys, self.rows
        start = bisect_left(keys, row.key)
        for index in range(start, len(rows)):
            if rows[index] is row:
                return index
            if keys[index] != row.key:
                break
        for index in range(len(rows) - 1, -1, -1):  # the flow broke the order: look everywhere
            if rows[index] is row:
                return index
        return None

    def unfollow(self) -> None:
        """Stop keeping to the newest message (the user is reading further up)."""
        self.following = False
        self.anchor(False)

    def row_at(self, line: int) -> MessageRow | None:
        """The row drawn on content line ``line`` (0 is the top of the chat), if any."""
        index = bisect_right(self._starts, line) - 1
        return self.rows[index] if 0 <= index < len(self.rows) else None

    def line_range(self, row: MessageRow) -> tuple[int, int]:
        """The content lines ``row`` covers: first, and one past its last."""
        index = self.index_of(row)
        if index is None:
            raise ValueError("that row is not in this timeline")
        return self._starts[index], self._starts[index] + self._heights[index]

    # Drawing.

    def render_line(self, y: int) -> Strip:
        line = round(self.scroll_y) + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if width != self._width and not self._remeasuring:
            # A scrollbar came or went without a resize: measure again after this frame.
            self._remeasuring = True
            self.call_later(self._measure)
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
        self._remeasuring = False
        self._width = width = self.scrollable_content_region.width
        self._heights = [row.height(width) for row in self.rows]
        self._restart()

    def _restart(self) -> None:
        """Where each row starts, from the heights; the content's size; a redraw of the view."""
        top = 1 if self.older else 0
        self._starts = list(accumulate(self._heights, initial=top))
        total = self._starts.pop()
        self.virtual_size = Size(self._width, total)
        self.refresh()

    def _heights_changed(self, rows: Sequence[MessageRow]) -> bool:
        for row in rows:
            index = self.index_of(row)
            if index is None or self._heights[index] != row.height(self._width):
                return True
        return False

    def _redraw(self, rows: Sequence[MessageRow]) -> None:
        """Refresh just the lines of these rows (their heights are as measured)."""
        for row in rows:
            index = self.index_of(row)
            if index is not None:
                self.refresh_lines(self._starts[index], self._heights[index])

    def _follow(self) -> None:
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
