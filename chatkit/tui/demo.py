"""``chatkit demo``: two users side by side in one chat, on a server the demo brings along.

Type as alice on the left and the message appears in bob's pane, once — or, with the
fault switches on, watch it wait, fail, and get retried. Each user has their own
copy of the target's flow, as two real devices would, so nothing is shared
between them but the server.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static

from chatkit.protocols import Flow
from chatkit.target import display_path
from chatkit.tui.base import LAYOUT_CSS, LiveApp
from chatkit.tui.embedded import EmbeddedServer
from chatkit.tui.faults import FaultBar, FaultPanel
from chatkit.tui.pane import ChatPane
from chatkit.tui.session import ChatSession

USERS = ("alice", "bob")
CHAT = "demo"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""Signals that end the demo the clean way (a closed terminal sends SIGHUP)."""


def guide(flow_path: Path, url: str) -> Text:
    """The few lines under the fault panel that say what to try."""
    text = Text()
    text.append("Try it\n", style="bold")
    text.append("Type as alice, Enter: bob sees it, once.\n")
    text.append("F4 refuses sends: yours fails; F4 again, then ctrl+r retries it.\n")
    text.append("Tab switches between alice and bob.\n\n")
    text.append(f"flow: {display_path(flow_path)}\n", style="dim")
    text.append(f"server: {url}", style="dim")
    return text


class DemoApp(LiveApp):
    """Two `ChatPane` s, one per user, in one chat, with the fault switches beside them."""

    CSS = (
        LAYOUT_CSS
        + """
    #side {
        width: 36;
    }
    #guide {
        padding: 1 1;
    }
    """
    )

    def __init__(
        self,
        url: str,
        flow_path: Path,
        flows: Sequence[Flow],
        *,
        users: Sequence[str] = USERS,
        chat_id: str = CHAT,
        passwords: Mapping[str, str] | None = None,
        admin_token: str | None = None,
    ) -> None:
        if len(flows) != len(users):
            raise ValueError("the demo needs one flow per user")
        known = passwords or {}
        super().__init__(
            [
                ChatSession(
                    flow,
                    flow_path,
                    url,
                    user,
                    chat_id,
                    password=known.get(user),
                    admin_token=admin_token,
                )
                for flow, user in zip(flows, users, strict=True)
            ]
        )
        self.url = url
        self.flow_path = flow_path
        self.sub_title = f"{' and '.join(users)} in #{chat_id}"

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            for index, session in enumerate(self.sessions):
                yield ChatPane(session, id=f"pane-{index}")
            with Vertical(id="side"):
                yield FaultPanel(id="faults")
                yield Static(guide(self.flow_path, self.url), id="guide")
        yield FaultBar(id="faultbar")
        yield Footer()

    def on_mount(self) -> None:
        # Textual also calls LiveApp.on_mount: handlers run for each class of the MRO.
        self.panes[0].input.focus()

    @property
    def panes(self) -> list[ChatPane]:
        return list(self.query(ChatPane))


async def run_demo(flow_path: Path, flows: Sequence[Flow], *, users: Sequence[str] = USERS) -> None:
    """Start the embedded server, run the demo until the user quits, then stop it all."""
    async with EmbeddedServer(users=users) as server:
        app = DemoApp(
            server.url,
            flow_path,
            flows,
            users=users,
            passwords=server.passwords,
            admin_token=server.admin_token,
        )
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, app.exit)
        try:
            await app.run_async()
        finally:
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)
            await app.close_sessions()  # before the server stops, so nobody reconnects
