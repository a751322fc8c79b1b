"""The fault switches: keys that make the network hostile, and the panel that shows them.

Each key changes one of the server's fault switches (`chatkit.live.server.faults.FaultSettings`)
through the client's connection, so the learner can turn on lost acks or refused
sends and watch their ``send``, ``reconcile`` and ``rollback`` cope. The switches
live on the server: they apply to everyone in every chat there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from chatkit.tui.session import ACK_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class Switch:
    """One key, one server fault switch, and the values the key steps through."""

    name: str
    """The `FaultSettings` field it sets."""
    key: str
    label: str
    values: tuple[object, ...]
    """The first value is "off"; the key steps to the next one, and from the last back to off."""
    explains: str
    short: str
    """The label in the one-line bar."""

    def next_value(self, current: object) -> object:
        """What one press of the key sets, from the server's ``current`` value."""
        if current == self.values[0] or current is None:
            return self.values[1]
        for index, value in enumerate(self.values[:-1]):
            if current == value:
                return self.values[index + 1]
        return self.values[0]  # the last step, or a value set elsewhere: back to off

    def describe(self, value: object) -> str:
        """``off``, ``1 s``, ``every send``, ``30% of sends`` or ``on``."""
        if value is None:
            return "?"
        if value == self.values[0]:
            return "off"
        if isinstance(value, bool):
            return "on"
        if self.name == "latency_ms" and isinstance(value, int):
            return f"{value / 1000:g} s"
        if isinstance(value, int | float):
            return "every send" if value >= 1 else f"{value:.0%} of sends"
        return str(value)


SLOW_MS = 1000
VERY_SLOW_MS = int(ACK_TIMEOUT_S * 1000) + 2000
"""Longer than a send waits for its ack: the send fails, then its late echo proves it arrived."""

SWITCHES = (
    Switch(
        "latency_ms",
        "f2",
        "latency",
        (0, SLOW_MS, VERY_SLOW_MS),
        "the server answers slowly",
        "latency",
    ),
    Switch("lose_acks", "f3", "lost acks", (0.0, 1.0), "stored and echoed, no ack", "lost acks"),
    Switch("refuse", "f4", "refused sends", (0.0, 1.0), "refused, nothing stored", "refused"),
    Switch("echo_first", "f5", "echo first", (False, True), "the echo beats the ack", "echo first"),
)
BY_NAME = {switch.name: switch for switch in SWITCHES}


class FaultPanel(Static):
    """A small box with each switch, its key and its current state."""

    DEFAULT_CSS = """
    FaultPanel {
        width: 36;
        height: auto;
        border: round $secondary;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(render_panel({}), id=id)
        self.border_title = "Network faults"
        self.settings: dict[str, object] = {}

    def show(self, settings: Mapping[str, object]) -> None:
        """Draw the switches as the server last said they are."""
        self.settings = dict(settings)
        self.update(render_panel(self.settings))

    def state(self, name: str) -> str:
        """How the panel describes one switch now (``off``, ``on``, ``1 s``...)."""
        return BY_NAME[name].describe(self.settings.get(name))


class FaultBar(Static):
    """The switches on one line, for a screen too narrow for the panel beside the chats."""

    DEFAULT_CSS = """
    FaultBar {
        height: 1;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(render_bar({}), id=id)

    def show(self, settings: Mapping[str, object]) -> None:
        self.update(render_bar(settings))


def render_bar(settings: Mapping[str, object]) -> Text:
    """``F2 latency off · F3 lost acks off · F4 refused on · F5 echo first off``."""
    text = Text()
    for index, switch in enumerate(SWITCHES):
        if index:
            text.append(" · ", style="dim")
        state = switch.describe(settings.get(switch.name)) if settings else "?"
        text.append(f"{switch.key.upper()} ", style="bold")
        text.append(f"{switch.short} ")
        text.append(short_state(state), style="dim" if state in ("off", "?") else "bold yellow")
    return text


def short_state(state: str) -> str:
    """A switch's state in a word: ``every send`` is ``on``; ``30% of sends`` is ``30%``."""
    if state == "every send":
        return "on"
    return state.removesuffix(" of sends")


def render_panel(settings: Mapping[str, object]) -> Text:
    text = Text()
    if not settings:
        text.append("not connected yet\n", style="dim")
    for switch in SWITCHES:
        value = settings.get(switch.name)
        state = switch.describe(value)
        text.append(f"{switch.key.upper():<3} ", style="bold")
        text.append(f"{switch.label:<14}")
        text.append(state, style="dim" if state in ("off", "?") else "bold yellow")
        text.append("\n")
        text.append(f"    {switch.explains}\n", style="dim italic")
    text.append("for everyone on this server", style="dim")
    text.append(
        f"\n\nAt {VERY_SLOW_MS / 1000:g} s a send outlasts the {ACK_TIMEOUT_S:g} s it waits "
        "for its ack: it fails, then its late echo proves it arrived.",
        style="dim",
    )
    return text
