"""The box a message is written in: Enter sends exactly what was typed, once.

A terminal delivers keys in bursts: a fast typist, or a paste in a terminal
without bracketed paste, puts the next message's keys in the queue before the
last Enter is handled. If the box only *announced* Enter and someone else read
and cleared it later, those keys would land in between: two messages merged
into one row, or one sent twice. So the box itself takes its text and empties
itself in the same step as the Enter, before it looks at the next key, and
hands the words on in a `Composer.Send` message.

A paste of several lines is one message, newlines included (the way chat apps
treat a pasted paragraph); ctrl+j starts a new line by hand.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

PLACEHOLDER = "Type a message · Enter sends · ctrl+j new line"


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

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+j,shift+enter", "new_line", "New line", show=False),
    ]

    class Send(Message):
        """The user pressed Enter: ``body`` is everything the box held at that moment."""

        def __init__(self, composer: Composer, body: str) -> None:
            super().__init__()
            self.composer = composer
            self.body = body

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

    def action_new_line(self) -> None:
        self.insert("\n")

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            body = self.take()
            if body:
                self.post_message(self.Send(self, body))
            return
        await super()._on_key(event)
