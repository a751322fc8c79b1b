"""``chatkit chat``: one user in one chat on the live server, running a target's flow."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Footer

from chatkit.protocols import Flow
from chatkit.tui.base import LiveApp
from chatkit.tui.faults import FaultPanel
from chatkit.tui.pane import ChatPane
from chatkit.tui.session import ChatSession


class ChatApp(LiveApp):
    """A chat client for one user: a `ChatPane` and the fault switches beside it."""

    CSS = """
    #main {
        height: 1fr;
    }
    """

    def __init__(
        self,
        flow: Flow,
        flow_path: Path,
        url: str,
        user: str,
        chat_id: str,
        *,
        password: str | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.session = ChatSession(
            flow, flow_path, url, user, chat_id, password=password, admin_token=admin_token
        )
        super().__init__([self.session])
        self.sub_title = f"{user} in #{chat_id}"

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ChatPane(self.session, id="pane")
            yield FaultPanel(id="faults")
        yield Footer()

    @property
    def pane(self) -> ChatPane:
        return self.query_one("#pane", ChatPane)
