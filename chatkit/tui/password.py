"""Asking for the password again, inside the app, when the server turned it down.

A wrong password used to be a dead end: the notice said so, and nothing let the
user type it again. `PasswordScreen` asks, over the chat; Escape leaves the client
offline (the notice then says which key asks again).
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from chatkit.tui.session import SIGN_IN_KEY


class PasswordScreen(ModalScreen[str | None]):
    """``Could not sign in as ada: …`` and a password box; dismissed with the password,
    or with None if the user pressed Escape."""

    DEFAULT_CSS = """
    PasswordScreen {
        align: center middle;
    }
    PasswordScreen > Vertical {
        width: 60;
        max-width: 100%;
        height: auto;
        border: round $warning;
        padding: 0 1;
    }
    PasswordScreen #hint {
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Stay offline")]

    def __init__(self, user: str, why: str) -> None:
        super().__init__()
        self.user = user
        self.why = why

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Could not sign in as {self.user}: {self.why}", id="why")
            yield Input(password=True, placeholder=f"password for {self.user}", id="password")
            yield Static(
                f"Enter signs in · Esc stays offline ({SIGN_IN_KEY} asks again)", id="hint"
            )

    @on(Input.Submitted, "#password")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value:
            self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
