"""``chatkit chat``: one user in one chat on the live server, running a target's flow."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer

from chatkit.tui.base import LAYOUT_CSS, LiveApp
from chatkit.tui.faults import FaultBar, FaultPanel
from chatkit.tui.pane import ChatPane
from chatkit.tui.password import PasswordScreen
from chatkit.tui.session import SIGN_IN_KEY, ChatSession


class ChatApp(LiveApp):
    """A chat client for one user: a `ChatPane` and the fault switches beside it.

    If the server turns the password down, the app asks for it again (`PasswordScreen`).
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding(SIGN_IN_KEY, "sign_in", "Sign in")]

    CSS = LAYOUT_CSS

    def __init__(self, session: ChatSession) -> None:
        self.session = session
        super().__init__([session])
        self._asked = False
        """Whether the app has asked for the password since the server last turned it down."""
        self.sub_title = f"{session.user} in #{session.chat_id}"

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ChatPane(self.session, id="pane")
            yield FaultPanel(id="faults")
        yield FaultBar(id="faultbar")
        yield Footer()

    @property
    def pane(self) -> ChatPane:
        return self.query_one("#pane", ChatPane)

    def on_mount(self) -> None:
        # Textual also calls LiveApp.on_mount: handlers run for each class of the MRO.
        self.session.listeners.append(self._turned_down)

    def _turned_down(self) -> None:
        """Ask for the password once each time the server turns one down."""
        if self.session.signed_out and not self._asked:
            self._asked = True
            self.action_sign_in()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "sign_in":
            return self.session.signed_out  # the key shows only while it can help
        return True

    def action_sign_in(self) -> None:
        """Ask for the password (again), and sign in with it."""
        if self.session.signed_out and not isinstance(self.screen, PasswordScreen):
            self.push_screen(
                PasswordScreen(self.session.user, self.session.refusal), self._typed_password
            )

    def _typed_password(self, password: str | None) -> None:
        if password:
            self._asked = False
            self.run_worker(self.session.sign_in(password), group="connect", exit_on_error=False)
