"""One chat on screen: the connection line, the timeline, the status line and the message box.

A pane draws a `ChatSession` and nothing else: every row, the "sending…"
indicator and the banner come straight from the state the learner's flow
keeps (``chat.timeline()``, ``chat.sending``, ``chat.error``), so what the
learner sees is exactly what their code did.

Drawing costs what changed, not what the chat holds: the session's events only
mark the pane dirty, and the pane redraws once per turn of the event loop
however many events came in it (a burst of acks is one redraw). Each redraw
compares every row with what it last drew (a few attribute reads per row) and
hands the `Timeline` only the rows that changed; the timeline draws only the
lines in view. The lines around the timeline keep their height whatever they
say, so a banner coming and going never moves the rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from chatkit.model import Message
from chatkit.state import Chat
from chatkit.target import display_path
from chatkit.tui.composer import Composer
from chatkit.tui.notices import Notice, explain
from chatkit.tui.rows import MessageRow
from chatkit.tui.session import ChatSession
from chatkit.tui.timeline import Timeline

TYPING_IDLE_S = 4.0
"""After this long without a keystroke, tell the others we stopped typing."""
TICK_S = 1.0
"""How often the pane looks at what no event announces: the connection, stale typing hints."""
SEPARATOR = " · "


class ChatPane(Vertical):
    """A user's view of one chat, drawn from a `ChatSession`, redrawn where it changed."""

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
        text-wrap: nowrap;
        text-overflow: ellipsis;
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
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ChatPane #hint {
        width: auto;
        color: $text-warning;
        text-wrap: nowrap;
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
        self._last_key_at: float | None = None
        """When the box last changed, while the others are told we are typing."""
        self._texts: dict[str, str] = {}
        self._dirty = False
        self._seen = 0
        self._refused_text: str | None = None
        """What the box held when Enter last found nothing to send in it."""
        """How many of ``chat.rows`` the pane has looked at (new ones are appended)."""
        self.on_redrawn: Callable[[float], None] | None = None
        """Called after each redraw with the seconds it took (the benchmark listens)."""

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        yield Static(id="notice")
        yield Timeline(id="timeline")
        yield Static(id="banner")
        with Horizontal(id="status"):
            yield Static(id="typing")
            yield Static(id="hint")
            yield Static(id="sending")
        yield Composer(id="input")

    def on_mount(self) -> None:
        self.session.listeners.append(self.changed)
        self.refresh_view()
        self.run_worker(self.session.connect(), group="connect", exit_on_error=False)
        self.set_interval(TICK_S, self._tick)

    def on_unmount(self) -> None:
        if self.changed in self.session.listeners:
            self.session.listeners.remove(self.changed)

    # Reading the screen (the tests do, too).

    @property
    def input(self) -> Composer:
        return self.query_one("#input", Composer)

    @property
    def timeline(self) -> Timeline:
        return self.query_one("#timeline", Timeline)

    def rows(self) -> list[MessageRow]:
        """The rows in the order they are shown."""
        return list(self.timeline.rows)

    def rows_for(self, body: str) -> list[MessageRow]:
        """Every row showing a message with these words (more than one is a duplicate)."""
        return [row for row in self.rows() if row.message.body == body]

    def text_of(self, part: str) -> str:
        """What ``header``, ``notice``, ``older``, ``banner``, ``typing``, ``hint`` or
        ``sending`` reads."""
        return self._texts.get(part, "")

    def _put(self, part: str, text: str) -> None:
        """Show ``text`` in one of the lines around the timeline.

        An empty notice is hidden; the others keep their line even when empty, so
        nothing below or above them moves.
        """
        if self._texts.get(part) == text:
            return
        self._texts[part] = text
        widget = self.query_one(f"#{part}", Static)
        widget.update(Text(text))  # plain text: a learner's error may contain [brackets]
        if part == "notice":
            widget.display = bool(text)

    # Drawing.

    def changed(self) -> None:
        """Something the pane shows may have changed: redraw once, at the next turn."""
        if not self._dirty:
            self._dirty = True
            self.call_later(self._redraw, False)

    def refresh_view(self) -> None:
        """Redraw from the session, comparing every row with what it last drew."""
        self._redraw(True)

    def _tick(self) -> None:
        """Once a second: whatever the learner's code did to a row no event named, the
        screen shows it within the second (each row compared, no sorting); the
        connection line and the typing hints catch up with the clock; and after
        `TYPING_IDLE_S` without a keystroke the others hear we stopped typing."""
        idle = self._last_key_at is not None and time.monotonic() - self._last_key_at
        if idle and idle >= TYPING_IDLE_S:
            self._stop_typing()
        self._redraw(False, [row.message for row in self._rows.values() if row.stale])

    def _redraw(self, everything: bool, stale: Sequence[Message] = ()) -> None:
        """Redraw the rows the session named as touched and the ``stale`` ones (or all of
        them), then the lines around them."""
        self._dirty = False
        if not self.is_mounted:
            return
        start = time.perf_counter()
        session = self.session
        touched = session.take_touched()
        try:
            chat = session.chat
            if everything or touched is None or not self._draw_touched(chat, touched, stale):
                self._draw_rows(chat)
            sending, error = chat.sending, chat.error
        except Exception as problem:  # the learner's code left something unsortable
            session.notice = explain(problem, "reconcile", session.flow_path)
            sending, error = False, None
        self._draw_header()
        self._draw_notice(session.notice)
        self._put("banner", f"⚠ not sent: {error}" if error else "")
        typing = session.typing_users()
        self._put("typing", f"✎ {' and '.join(typing)} typing…" if typing else "")
        self._put("sending", "sending…" if sending else "")
        older = self._texts["older"] = older_line(session)
        self.timeline.set_older(older)
        if self.on_redrawn is not None:
            self.on_redrawn(time.perf_counter() - start)

    def on_resize(self, event: events.Resize) -> None:
        self._draw_header()

    def _draw_header(self) -> None:
        """The connection, the server and the flow: as many of the three as fit, whole."""
        session = self.session
        link = session.link()
        header = self.query_one("#header", Static)
        header.set_class(link != "connected", "down")
        room = header.scrollable_content_region.width or self.size.width
        text = link
        for part in (session.url, display_path(session.flow_path)):
            longer = text + SEPARATOR + part
            if len(longer) > room:
                break
            text = longer
        self._put("header", text)

    def _draw_notice(self, notice: Notice | None) -> None:
        if notice is not None:
            self.query_one("#notice", Static).set_classes(notice.severity)
        self._put("notice", notice.text if notice else "")

    def _draw_rows(self, chat: Chat) -> None:
        """Match every row to the timeline, and hand the timeline those that changed."""
        added = {id(message): index for index, message in enumerate(chat.rows)}
        self._seen = len(chat.rows)
        how = self.session.retry_how()
        known = self._rows
        rows: list[MessageRow] = []
        changed: list[MessageRow] = []
        above: Message | None = None
        for message in chat.timeline():
            named = above is None or above.author != message.author
            at = added.get(id(message), len(added))
            row = known.get(id(message))
            if row is None:
                row = known[id(message)] = self._new_row(message, at)
                row.update(named=named, how=how)
            elif row.update(named=named, how=how, added=at):
                changed.append(row)
            rows.append(row)
            above = message
        if len(known) != len(rows):  # some message left the timeline
            kept = {id(row.message) for row in rows}
            for key in [key for key in known if key not in kept]:
                del known[key]
        self.timeline.show(rows, changed, older_line(self.session))

    def _draw_touched(self, chat: Chat, touched: set[str], stale: Sequence[Message]) -> bool:
        """Redraw only the touched messages and any new ones, each put in its place by
        bisection: a tick costs the same in a chat of ten or ten thousand. False if
        the chat changed in a way only a full comparison can follow."""
        if len(chat.rows) < self._seen:
            return False  # rows went away: a reload
        fresh = {id(message): self._seen + n for n, message in enumerate(chat.rows[self._seen :])}
        messages = list(chat.rows[self._seen :])
        self._seen = len(chat.rows)
        for client_id in touched:
            message = self.session.state.get(client_id)
            if message is not None:
                messages.append(message)
        messages.extend(stale)
        how = self.session.retry_how()
        timeline = self.timeline
        done: set[int] = set()
        for message in messages:
            if id(message) in done:
                continue
            done.add(id(message))
            row = self._rows.get(id(message))
            if row is None:
                if id(message) not in fresh:
                    return False  # a row the pane never saw added: look at them all
                row = self._rows[id(message)] = self._new_row(message, fresh[id(message)])
                row.update(how=how)
            elif not row.update(how=how):
                continue
            for neighbour in timeline.place(row):
                index = timeline.index_of(neighbour)
                if index is None:
                    continue
                above = timeline.rows[index - 1].message if index else None
                named = above is None or above.author != neighbour.message.author
                if neighbour.update(named=named):
                    timeline.redraw([neighbour])
        return True

    def _new_row(self, message: Message, added: int) -> MessageRow:
        return MessageRow(message, mine=message.author == self.session.user, added=added)

    # What the user does.

    @on(Composer.Send, "#input")
    def _submitted(self, event: Composer.Send) -> None:
        self._stop_typing()
        self.run_worker(self._send(event.body), group="send", exit_on_error=False)

    async def _send(self, body: str) -> None:
        if not await self.session.send(body):
            self.input.give_back(body)  # the send did not happen

    @on(Composer.Refused, "#input")
    def _refused(self, event: Composer.Refused) -> None:
        self._refused_text = event.composer.text
        self._put("hint", event.reason)

    @on(Composer.Retry, "#input")
    def _retry_key(self, event: Composer.Retry) -> None:
        self.action_retry()

    @on(Composer.Changed, "#input")
    def _changed(self, event: Composer.Changed) -> None:
        if event.text_area.text != self._refused_text:  # the box changed since Enter
            self._put("hint", "")
        if not event.text_area.text:
            self._stop_typing()
            return
        self._tell_typing(True)
        self._last_key_at = time.monotonic()  # the tick says "stopped" after a pause

    def _stop_typing(self) -> None:
        self._last_key_at = None
        self._tell_typing(False)

    def _tell_typing(self, has_text: bool) -> None:
        """Tell the others, if the session has something to tell (a worker only then)."""
        telling = self.session.typed(has_text)
        if telling is not None:
            self.run_worker(telling, group="typing", exit_on_error=False)

    def action_older(self) -> None:
        """Load the page of messages before the oldest one shown, and go up to read it."""
        self.timeline.unfollow()
        self.run_worker(self._older(), group="older", exit_on_error=False)

    async def _older(self) -> None:
        await self.session.load_older()
        self.refresh_view()
        self.timeline.scroll_home(animate=False, immediate=True)

    @on(Timeline.Top)
    def _scrolled_to_top(self) -> None:
        self.run_worker(self.session.load_older(), group="older", exit_on_error=False)

    def action_retry(self) -> None:
        """Resend this user's oldest failed message, with the same client id."""
        client_id = self.session.claim_failed()
        if client_id is None:
            self.notify("Nothing to retry: no failed message of yours here.", timeout=3)
            return
        self.run_worker(self.session.retry(client_id), group="send", exit_on_error=False)

    @on(Timeline.RetryRequested)
    def _clicked_retry(self, event: Timeline.RetryRequested) -> None:
        if self.session.claim(event.client_id):
            self.run_worker(self.session.retry(event.client_id), group="send", exit_on_error=False)


def older_line(session: ChatSession) -> str:
    """The first line of the timeline: whether older messages wait on the server."""
    if session.loading_older and session.oldest is not None:
        return "loading older messages…"
    if session.older_left:
        return "↑ older messages: ctrl+o, or scroll up"
    return ""
