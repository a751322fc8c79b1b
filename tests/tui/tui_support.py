"""What the TUI tests share: a live server in a subprocess, and a bounded wait on the pilot.

The server is `chatkit.live.tools.process.ServerProcess`: ``python -m chatkit.live`` on a
free loopback port, ready once it prints its ready line (read with a bounded wait).

Nothing here sleeps to wait for async work: `until` lets the app run, one
``pilot.pause()`` at a time, until what the test expects is on screen, and fails
after a bounded deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App
from textual.pilot import Pilot

from chatkit.live.tools.process import ServerProcess as ServerProcess  # for conftest.py
from chatkit.live.tools.process import free_port as free_port  # for the tests
from chatkit.model import Status
from chatkit.protocols import Flow
from chatkit.target import load_flow, resolve_target
from chatkit.tui.pane import ChatPane

ServerFactory = Callable[..., ServerProcess]
"""What the ``start_server`` fixture gives a test: ``start_server("--echo-first")``."""

WAIT_S = 10.0
"""The longest a test waits for something it expects over loopback."""


async def until(
    pilot: Pilot[Any], what: str, holds: Callable[[], object], timeout: float = WAIT_S
) -> None:
    """Let the app run until ``holds()`` is true; fail, saying ``what``, after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not holds():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await pilot.pause()


async def type_and_send(pilot: Pilot[Any], pane: ChatPane, body: str) -> None:
    """Type ``body`` key by key into the pane's input and press enter."""
    pane.input.focus()
    await pilot.press(*body, "enter")


CONTROL_KEYS = {" ": "space", "\r": "enter", "\n": "ctrl+j", "\x12": "ctrl+r"}
"""What a terminal reports for the characters that are not letters or digits."""


def key_event(character: str) -> events.Key:
    """The key event a terminal delivers for one typed character (letters, digits, space,
    ``\r`` Enter, ``\n`` ctrl+j, ``\x12`` ctrl+r)."""
    if character in CONTROL_KEYS:
        key = CONTROL_KEYS[character]
    elif character.isalnum() and character.isascii():
        key = character
    else:
        raise ValueError(
            f"key_event types letters, digits and {sorted(CONTROL_KEYS)}, not {character!r}"
        )
    return events.Key(key, character)


def burst(app: App[Any], text: str) -> None:
    """Queue ``text`` as key events all at once (``\r`` is Enter, ``\n`` ctrl+j, ``\x12``
    ctrl+r), like a typist too fast to see.

    `Pilot.press` lets the app finish with each key before the next one; a real
    terminal does not wait. Here every key is in the app's queue before the first
    one is handled, so whatever the app does between an Enter and the next key is
    raced by the keys already waiting.
    """
    for character in text:
        event = key_event(character)
        event.set_sender(app)
        app.post_message(event)


def paste(app: App[Any], text: str) -> None:
    """Queue a paste of ``text`` (a terminal's bracketed paste), behind any keys already queued."""
    event = events.Paste(text)
    event.set_sender(app)
    app.post_message(event)


def statuses(pane: ChatPane, body: str) -> list[Status | None]:
    """The status each row showing ``body`` was last drawn with, in screen order: what the
    screen shows, which the message's own status can be a frame ahead of."""
    return [row.shown[-1] if row.shown else None for row in pane.rows_for(body)]


def connected(pane: ChatPane) -> bool:
    return pane.session.connected and bool(pane.session.faults)


def load(target: str) -> tuple[Path, Flow]:
    """A target's path and a freshly loaded copy of its flow."""
    path = resolve_target(target)
    return path, load_flow(path)
