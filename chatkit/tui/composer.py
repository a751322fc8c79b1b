"""The box a message is written in: Enter sends exactly what was typed, once, in order.

A terminal delivers keys in bursts: a fast typist, or a paste in a terminal
without bracketed paste, puts the next message's keys in the queue before the
last Enter is handled. If the box only *announced* Enter and someone else read
and cleared it later, those keys would land in between: two messages merged
into one row, or one sent twice. So the box itself takes its text and empties
itself in the same step as the Enter, before it looks at the next key, and
hands the words on in a `Composer.Send` message.

Keys bound elsewhere would still run out of order: Textual runs a binding once
the key has travelled up to the app, and by then the box has handled the keys
behind it. So the keys that change what is sent — Enter, ctrl+j and ctrl+r —
are handled here, in the box's own queue, and what they ask of the pane is
posted straight to the pane, where keys that travel up arrive in the same order.

A paste of several lines is one message, newlines included (the way chat apps
treat a pasted paragraph); ctrl+j starts a new line by hand. A box holding only
spaces is not sent: it stays as it was, and `Composer.Refused` says why.
"""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import TextArea

PLACEHOLDER = "Type a message · Enter sends · ctrl+j new line"
NEW_LINE_KEYS = ("ctrl+j", "shift+enter")
RETRY_KEY = "ctrl+r"
BLANK = "only spaces: type some words first"


class Composer(TextArea):
    """A message box: Enter sends its text and empties it in one step."""

    DEFAULT_CSS = """
    Composer {
        height: auto;
        max-height: 6;
        border: tall $surface-lighten-1;
        padding: 0 1;
    }
    Composer:focus {
        border: tall $accent;
    }
    """

    class Send(Message):
        """The user pressed Enter: ``body`` is everything the box held at that moment."""

        def __init__(self, composer: Composer, body: str) -> None:
            super().__init__()
            self.composer = composer
            self.body = body

        @property
        def control(self) -> Composer:
            return self.composer

    class Refused(Message):
        """Enter found nothing to send in the box (only spaces); ``reason`` says so."""

        def __init__(self, composer: Composer, reason: str) -> None:
            super().__init__()
            self.composer = composer
            self.reason = reason

        @property
        def control(self) -> Composer:
            return self.composer

    class Retry(Message):
        """ctrl+r, pressed in the box: retry the oldest failed message."""

        def __init__(self, composer: Composer) -> None:
            super().__init__()
            self.composer = composer

        @property
        def control(self) -> Composer:
            return self.composer

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            placeholder=PLACEHOLDER,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            highlight_cursor_line=False,
            compact=True,
        )

    def take(self) -> str:
        """Everything in the box, which is left empty: the one way words leave it."""
        body = self.text
        self.clear()
        return body

    def give_back(self, body: str) -> None:
        """Put unsent words back, if the user has not started a new message meanwhile."""
        if not self.text:
            self.text = body
            self.move_cursor(self.document.end)

    def _tell(self, message: Message) -> None:
        """Post ``message`` straight to the parent (the pane), not through this box's queue,
        so it reaches the pane ahead of any key still waiting behind it here."""
        target = self.parent if self.parent is not None else self
        target.post_message(message)

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            if not self.text.strip():
                if self.text:
                    self._tell(self.Refused(self, BLANK))
                return
            self._tell(self.Send(self, self.take()))
            return
        if event.key in NEW_LINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if event.key == RETRY_KEY:
            event.stop()
            event.prevent_default()
            self._tell(self.Retry(self))
            return
        await super()._on_key(event)
