"""What the chat app and the demo share: the fault keys, the panel, and closing up.

Both apps hold one or more `ChatSession` objects and one `FaultPanel`. The fault
keys go to the server through one session's connection (``control``); the panel
shows what the server answered, so it always reads the server's own state.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches

from chatkit.tui.faults import SWITCHES, FaultPanel
from chatkit.tui.session import ChatSession

TITLE = "Chat Message Flow"


class LiveApp(App[None]):
    """A Textual app whose chats talk to the live server, with the fault switches on keys."""

    TITLE = TITLE
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        *(
            Binding(switch.key, f"fault('{switch.name}')", switch.label, priority=True)
            for switch in SWITCHES
        ),
    ]

    def __init__(self, sessions: list[ChatSession]) -> None:
        super().__init__()
        self.sessions = sessions
        self.control = sessions[0]
        """The session whose connection changes the server's fault switches."""

    @property
    def panel(self) -> FaultPanel:
        """The fault panel; each app's ``compose`` places one, with the id ``faults``."""
        return self.query_one("#faults", FaultPanel)

    def on_mount(self) -> None:
        self.control.listeners.append(self._show_faults)

    def _show_faults(self) -> None:
        try:
            panel = self.panel
        except NoMatches:  # not composed yet, or already taken down
            return
        if panel.settings != self.control.faults:
            panel.show(self.control.faults)

    def action_fault(self, name: str) -> None:
        """Step one fault switch on the server (off → on, or through the latency steps)."""
        self.run_worker(self.toggle_fault(name), group="faults", exit_on_error=False)

    async def toggle_fault(self, name: str) -> bool:
        switch = next(switch for switch in SWITCHES if switch.name == name)
        value = switch.next_value(self.control.faults.get(name))
        return await self.control.set_faults(**{name: value})

    async def on_unmount(self) -> None:
        """However the app ends, disconnect every session (no reconnecting ghosts)."""
        await self.close_sessions()

    async def close_sessions(self) -> None:
        for session in self.sessions:
            await session.close()
