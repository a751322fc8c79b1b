"""What the chat app and the demo share: the fault keys, the panel, the layouts, closing up.

Both apps hold one or more `ChatSession` objects, one `FaultPanel` and one
`FaultBar`. The fault keys go to the server through one session's connection
(``control``); the panel and the bar show what the server answered, so they
always read the server's own state.

One layout for every terminal: from `WIDE` columns the panel stands beside the
chats; below that (80×24, the default terminal, included) it gives its columns
to the chats and the switches shrink to one line above the footer. The fault
keys are ordinary bindings, not priority ones, so they run in the order they
were pressed among the keys typed around them; the panel and the bar name them,
so the footer leaves them out and keeps room for the keys nothing else names.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches

from chatkit.tui.faults import SWITCHES, FaultBar, FaultPanel
from chatkit.tui.session import ChatSession

TITLE = "Chat Message Flow"
WIDE = 120
"""From this many columns the fault panel stands beside the chats."""
LAYOUT_CSS = """
#main {
    height: 1fr;
}
Screen.-narrow #side, Screen.-narrow #faults {
    display: none;
}
Screen.-wide #faultbar {
    display: none;
}
"""
"""The layouts both apps share; each app adds its own CSS after it."""


class LiveApp(App[None]):
    """A Textual app whose chats talk to the live server, with the fault switches on keys."""

    TITLE = TITLE
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        *(
            Binding(switch.key, f"fault('{switch.name}')", switch.label, show=False)
            for switch in SWITCHES
        ),
    ]
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012 (Textual declares it an instance variable)
        (0, "-narrow"),
        (WIDE, "-wide"),
    ]
    ENABLE_COMMAND_PALETTE = False
    """Its key, ctrl+p, would be one more key the footer has no room to explain."""
    CSS = LAYOUT_CSS

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
            bar = self.query_one("#faultbar", FaultBar)
        except NoMatches:  # not composed yet, or already taken down
            return
        if panel.settings != self.control.faults:
            panel.show(self.control.faults)
            bar.show(self.control.faults)

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
