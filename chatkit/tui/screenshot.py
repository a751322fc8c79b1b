"""``python -m chatkit.tui.screenshot``: write ``docs/demo.svg`` and ``docs/demo-80x24.svg``.

It plays a short scene in the demo, headless, on the demo's own embedded server:
alice and bob talk, a paste of two lines goes through as one message, one message
is refused, and one is caught mid-flight on a slow network while bob is typing.
So the picture shows every mark at once — the tick, the red mark with its reason
and how to retry, the dimmed row with its clock and "sending…" — and it is taken
of the real app, not drawn by hand: once wide (the README's picture), once at
80×24, the terminal most people open.

`screen_text` reads the characters back out of such a picture, and `comparable`
blanks what changes from run to run (the clock, the port), so a test can replay
the scene and fail when the app and the picture in the README drift apart.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from textual.pilot import Pilot

from chatkit.kit_home import kit_root
from chatkit.model import Status
from chatkit.tui.cli import load
from chatkit.tui.demo import USERS, DemoApp
from chatkit.tui.embedded import EmbeddedServer
from chatkit.tui.pane import ChatPane

SIZE = (160, 42)
SMALL = (80, 24)
WAIT_S = 10.0
DEFAULT_OUT = kit_root() / "docs" / "demo.svg"
PICTURES = {SIZE: DEFAULT_OUT, SMALL: kit_root() / "docs" / "demo-80x24.svg"}
"""Every picture the docs show, by terminal size (columns, lines)."""
CELL_WIDTH = 12.2
"""The width of one terminal cell in Rich's SVG export, in SVG units."""

HELLO = "hi bob, watch the clock turn into a tick"
ANSWER = "nice! now press F4 and try again"
PASTED = "a paste of two lines\nstays one message"
REFUSED = "this one will be refused"
SLOW = "a slow one: dimmed, with a clock"
TYPING = "ok, I see"


async def until(pilot: Pilot[None], what: str, holds: Callable[[], bool]) -> None:
    """Let the app run until ``holds()`` is true; fail after ``WAIT_S`` seconds."""
    deadline = time.monotonic() + WAIT_S
    while not holds():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the screenshot scene got stuck waiting until {what}")
        await pilot.pause()


def has(pane: ChatPane, body: str, status: Status) -> bool:
    return any(row.status is status for row in pane.rows_for(body))


async def say(pilot: Pilot[None], pane: ChatPane, body: str, *, enter: bool = True) -> None:
    """Put ``body`` in the pane's box (as a paste: key by key is slow headless), press enter."""
    pane.input.focus()
    pane.input.text = body
    await pilot.pause()
    if enter:
        await pilot.press("enter")


async def play(app: DemoApp, pilot: Pilot[None]) -> None:
    """The scene, from two users connecting to the moment the picture is taken."""
    alice, bob = app.panes
    await until(pilot, "the panel has the switches", lambda: bool(app.panel.settings))
    await until(pilot, "both are connected", lambda: alice.session.connected)
    await until(pilot, "bob is connected", lambda: bob.session.connected)

    await say(pilot, alice, HELLO)
    await until(pilot, "bob sees it", lambda: has(bob, HELLO, Status.SENT))
    await say(pilot, bob, ANSWER)
    await until(pilot, "alice sees bob", lambda: has(alice, ANSWER, Status.SENT))
    await say(pilot, alice, PASTED)
    await until(pilot, "bob sees the paste", lambda: has(bob, PASTED, Status.SENT))

    await pilot.press("f4")
    await until(pilot, "sends are refused", lambda: app.panel.state("refuse") != "off")
    await say(pilot, alice, REFUSED)
    await until(pilot, "it failed", lambda: has(alice, REFUSED, Status.FAILED))
    await pilot.press("f4", "f2")
    await until(pilot, "refusals are off", lambda: app.panel.state("refuse") == "off")
    await until(pilot, "the network is slow", lambda: app.panel.state("latency_ms") != "off")

    await say(pilot, bob, TYPING, enter=False)
    await until(pilot, "alice sees bob typing", lambda: "bob" in alice.text_of("typing"))
    await say(pilot, alice, SLOW)
    await until(pilot, "the slow one is pending", lambda: has(alice, SLOW, Status.PENDING))
    await until(pilot, "it says sending", lambda: bool(alice.text_of("sending")))


async def take(out: Path, target: str = "solution", size: tuple[int, int] = SIZE) -> Path:
    """Play the scene at ``size`` (columns, lines) and save the screenshot to ``out``."""
    path, flows = load(target, copies=len(USERS))
    async with EmbeddedServer(users=USERS) as server:
        app = DemoApp(
            server.url, path, flows, passwords=server.passwords, admin_token=server.admin_token
        )
        async with app.run_test(size=size) as pilot:
            await play(app, pilot)
            out.parent.mkdir(parents=True, exist_ok=True)
            app.save_screenshot(out.name, path=str(out.parent))
            await pilot.press("ctrl+q")
    return out


_CELL = re.compile(
    r'<text [^>]*?x="(?P<x>[\d.]+)"[^>]*?clip-path="url\(#terminal-\d+-line-(?P<line>\d+)\)"'
    r"[^>]*>(?P<text>[^<]*)</text>"
)
_VARIES = (
    (re.compile(r"\b\d\d:\d\d\b"), "HH:MM"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
)


def screen_text(svg: str) -> list[str]:
    """The characters on screen in a Rich/Textual SVG export, one string per terminal line."""
    lines: dict[int, list[str]] = {}
    for cell in _CELL.finditer(svg):
        row = lines.setdefault(int(cell["line"]), [])
        column = round(float(cell["x"]) / CELL_WIDTH)
        text = html.unescape(cell["text"]).replace("\xa0", " ")
        row.extend(" " * (column + len(text) - len(row)))
        row[column : column + len(text)] = text
    return ["".join(lines.get(index, [])).rstrip() for index in range(max(lines, default=-1) + 1)]


def comparable(lines: Sequence[str]) -> list[str]:
    """``lines`` with what differs between two runs of the same scene blanked out."""
    blanked = []
    for line in lines:
        for pattern, placeholder in _VARIES:
            line = pattern.sub(placeholder, line)
        blanked.append(line)
    return blanked


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chatkit.tui.screenshot",
        description="Write the demo's SVG screenshots: docs/demo.svg and docs/demo-80x24.svg.",
    )
    parser.add_argument("--target", default="solution", help="default: %(default)s")
    parser.add_argument(
        "--into", type=Path, help="write the pictures into this folder instead of docs/"
    )
    args = parser.parse_args(argv)
    for size, out in PICTURES.items():
        where = out if args.into is None else args.into / out.name
        print(asyncio.run(take(where, args.target, size)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
