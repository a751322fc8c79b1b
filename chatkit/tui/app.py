"""``chatkit chat``: one user in one chat on the live server, running a target's flow."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Footer

from chatkit.tui.base import LAYOUT_CSS, LiveApp
from chatkit.tui.faults import FaultBar, FaultPanel
from chatkit.tui.pane import ChatPane
from chatkit.tui.session import ChatSession


class ChatApp(LiveApp):
    """A chat client for one user: a `ChatPane` and the fault switches beside it."""

    CSS = LAYOUT_CSS

    def __init__(self, session: ChatSession) -> None:
        self.session = session
        super().__init__([session])
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
