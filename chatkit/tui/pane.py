"""One chat on screen: the connection line, the timeline, the status line and the message box.

A pane draws a `ChatSession` and nothing else: every row, the "sending…"
indicator and the banner come straight from the state the learner's flow
keeps (``chat.timeline()``, ``chat.sending``, ``chat.error``), so what the
learner sees is exactly what their code did. The lines around the timeline keep
their height whatever they say, so a banner coming and going never moves the
rows. The demo shows two panes side by side.
"""

from __future__ import annotations

from itertools import pairwise
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.timer import Timer
from textual.widgets import Static

from chatkit.model import Message
from chatkit.target import display_path
from chatkit.tui.composer import Composer
from chatkit.tui.notices import Notice, explain
from chatkit.tui.rows import MessageRow
from chatkit.tui.session import ChatSession

TYPING_IDLE_S = 4.0
"""After this long without a keystroke, tell the others we stopped typing."""
TICK_S = 1.0
"""How often the pane looks at what no event announces: the connection, stale typing hints."""


class Timeline(VerticalScroll, can_focus=False):
    """The scroll of message rows. Not focusable, so Tab goes from input to input.

    Its first line says whether older messages wait on the server; scrolling up
    past the top asks for them (`Timeline.Top`).
    """

    DEFAULT_CSS = """
    Timeline {
        height: 1fr;
    }
    Timeline #older {
        color: $text-muted;
        text-align: center;
    }
    """

    class Top(TextualMessage):
        """The user scrolled up with the timeline already at its top."""

    def compose(self) -> ComposeResult:
        yield Static(id="older")

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        if self.scroll_y <= 0:
            self.post_message(self.Top())


class ChatPane(Vertical):
    """A user's view of one chat, drawn from a `ChatSession` and redrawn on every change."""

    DEFAULT_CSS = """
    ChatPane {
        border: round $primary;
        height: 1fr;
    }
    ChatPane:focus-within {
        border: round $accent;
    }
    ChatPane #header {
        height: 1;
        color: $text-muted;
        padding: 0 1;
    }
    ChatPane #header.down {
        background: $warning 40%;
        color: $text;
    }
    ChatPane #notice {
        padding: 0 1;
        margin: 0 1;
    }
    ChatPane #notice.information {
        background: $primary 25%;
    }
    ChatPane #notice.warning {
        background: $warning 25%;
    }
    ChatPane #notice.error {
        background: $error 30%;
    }
    ChatPane #status {
        height: 1;
        padding: 0 1;
    }
    ChatPane #banner {
        height: 1;
        padding: 0 1;
        color: $text-error;
        text-style: bold;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ChatPane #typing {
        width: 1fr;
        color: $text-muted;
    }
    ChatPane #sending {
        width: auto;
        color: $warning;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "retry", "Retry failed"),
        Binding("ctrl+o", "older", "Older messages"),
    ]

    def __init__(self, session: ChatSession, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session
        self.border_title = f"{session.user} · #{session.chat_id}"
        self._rows: dict[int, MessageRow] = {}
        """Rows by the identity of the message object they draw: two objects with the same
        client id are two rows, so a flow that shows a message twice is seen doing it."""
        self._typing_idle: Timer | None = None
        self._texts: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        yield Static(id="notice")
        yield Timeline(id="timeline")
        yield Static(id="banner")
        with Horizontal(id="status"):
            yield Static(id="typing")
            yield Static(id="sending")
        yield Composer(id="input")

    def on_mount(self) -> None:
        self.session.listeners.append(self.refresh_view)
        self.refresh_view()
        self.run_worker(self.session.connect(), group="connect", exit_on_error=False)
        self.set_interval(TICK_S, self.refresh_view)

    def on_unmount(self) -> None:
        if self.refresh_view in self.session.listeners:
            self.session.listeners.remove(self.refresh_view)

    # Reading the screen (the tests do, too).

    @property
    def input(self) -> Composer:
        return self.query_one("#input", Composer)

    def rows(self) -> list[MessageRow]:
        """The rows in the order they are shown."""
        live = set(self._rows.values())
        return [row for row in self.query_one(Timeline).children if row in live]

    def rows_for(self, body: str) -> list[MessageRow]:
        """Every row showing a message with these words (more than one is a duplicate)."""
        return [row for row in self.rows() if row.message.body == body]

    def text_of(self, part: str) -> str:
        """What ``header``, ``notice``, ``older``, ``banner``, ``typing`` or ``sending`` reads."""
        return self._texts.get(part, "")

    def _put(self, part: str, text: str) -> None:
        """Show ``text`` in one of the lines around the timeline.

        An empty notice or older-messages line is hidden; the others keep their line
        even when empty, so nothing below or above them moves.
        """
        if self._texts.get(part) == text:
            return
        self._texts[part] = text
        widget = self.query_one(f"#{part}", Static)
        widget.update(Text(text))  # plain text: a learner's error may contain [brackets]
        if part in ("notice", "older"):
            widget.display = bool(text)

    # Drawing.

    def refresh_view(self) -> None:
        """Redraw everything from the session: rows in place, then the lines around them."""
        if not self.is_mounted:
            return
        session = self.session
        try:
            chat = session.chat
            timeline = chat.timeline()
            sending, error = chat.sending, chat.error
        except Exception as problem:  # the learner's code left something unsortable
            session.notice = explain(problem, "reconcile", session.flow_path)
            timeline, sending, error = [], False, None
        self._draw_rows(timeline)
        self._draw_header()
        self._draw_notice(session.notice)
        self._put("older", older_line(session))
        self._put("banner", f"⚠ not sent: {error}" if error else "")
        typing = session.typing_users()
        self._put("typing", f"✎ {' and '.join(typing)} typing…" if typing else "")
        self._put("sending", "sending…" if sending else "")

    def _draw_header(self) -> None:
        session = self.session
        link = session.link()
        self.query_one("#header", Static).set_class(link != "connected", "down")
        target = display_path(session.flow_path)
        self._put("header", f"{link} · {session.url} · {target}")

    def _draw_notice(self, notice: Notice | None) -> None:
        if notice is not None:
            self.query_one("#notice", Static).set_classes(notice.severity)
        self._put("notice", notice.text if notice else "")

    def _draw_rows(self, timeline: list[Message]) -> None:
        """Make the rows match the timeline: update in place, add, drop, then reorder."""
        container = self.query_one(Timeline)
        wanted = {id(message) for message in timeline}
        for key in [key for key in self._rows if key not in wanted]:
            self._rows.pop(key).remove()
        newest_is_new = False
        previous: MessageRow | Static = container.query_one("#older", Static)
        above: Message | None = None
        for message in timeline:
            row = self._rows.get(id(message))
            newest_is_new = row is None
            named = above is None or above.author != message.author
            if row is None:
                row = self._rows[id(message)] = MessageRow(
                    message, mine=message.author == self.session.user, named=named
                )
                container.mount(row, after=previous)
            else:
                row.show(named=named)
            previous, above = row, message
        order = [self._rows[id(message)] for message in timeline]
        if self.rows() != order:  # a confirmation took its place in server order
            for before, after in pairwise(order):
                container.move_child(after, after=before)
        if newest_is_new:  # a new message at the bottom; older ones loaded above stay put
            self.call_after_refresh(container.scroll_end, animate=False)

    # What the user does.

    @on(Composer.Send, "#input")
    def _submitted(self, event: Composer.Send) -> None:
        self._stop_typing()
        self.run_worker(self._send(event.body), group="send", exit_on_error=False)

    async def _send(self, body: str) -> None:
        if not await self.session.send(body):
            self.input.give_back(body)  # the send did not happen

    @on(Composer.Changed, "#input")
    def _changed(self, event: Composer.Changed) -> None:
        if not event.text_area.text:
            self._stop_typing()
            return
        self.run_worker(self.session.typed(True), group="typing", exit_on_error=False)
        if self._typing_idle is not None:
            self._typing_idle.stop()
        self._typing_idle = self.set_timer(TYPING_IDLE_S, self._stop_typing)

    def _stop_typing(self) -> None:
        if self._typing_idle is not None:
            self._typing_idle.stop()
            self._typing_idle = None
        self.run_worker(self.session.typed(False), group="typing", exit_on_error=False)

    def action_older(self) -> None:
        """Load the page of messages before the oldest one shown."""
        self.run_worker(self.session.load_older(), group="older", exit_on_error=False)

    @on(Timeline.Top)
    def _scrolled_to_top(self) -> None:
        self.action_older()

    def action_retry(self) -> None:
        """Resend this user's most recent failed message, with the same client id."""
        message = self.session.latest_failed()
        if message is None:
            self.notify("Nothing to retry: no failed message of yours here.", timeout=3)
            return
        self.retry(message.client_id)

    def retry(self, client_id: str) -> None:
        self.run_worker(self.session.retry(client_id), group="send", exit_on_error=False)

    @on(MessageRow.RetryRequested)
    def _clicked_retry(self, event: MessageRow.RetryRequested) -> None:
        self.retry(event.client_id)


def older_line(session: ChatSession) -> str:
    """The first line of the timeline: whether older messages wait on the server."""
    if session.loading_older and session.oldest is not None:
        return "loading older messages…"
    if session.older_left:
        return "↑ older messages: ctrl+o, or scroll up"
    return ""
