"""``python -m chatkit.tui.screenshot``: write ``docs/demo.svg``, the picture in the README.

It plays a short scene in the demo, headless, on the demo's own embedded server:
two messages go through, one is refused, and one is caught mid-flight on a slow
network while bob is typing. So the picture shows every mark at once — the tick,
the cross with its reason and the banner, the grey clock with "sending…" — and it
is taken of the real app, not drawn by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from textual.pilot import Pilot

from chatkit.model import Status
from chatkit.target import kit_root
from chatkit.tui.cli import load
from chatkit.tui.demo import USERS, DemoApp
from chatkit.tui.embedded import EmbeddedServer
from chatkit.tui.pane import ChatPane

SIZE = (160, 42)
WAIT_S = 10.0
DEFAULT_OUT = kit_root() / "docs" / "demo.svg"


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
    """Put ``body`` in the pane's input (as a paste: key by key is slow headless), press enter."""
    pane.input.focus()
    pane.input.value = body
    await pilot.pause()
    if enter:
        await pilot.press("enter")


async def take(out: Path, target: str = "solution") -> Path:
    """Play the scene and save the screenshot to ``out``; return its path."""
    path, flows = load(target, copies=len(USERS))
    async with EmbeddedServer() as server:
        app = DemoApp(server.url, path, flows)
        async with app.run_test(size=SIZE) as pilot:
            you, bob = app.panes
            await until(pilot, "both users are connected", lambda: bool(app.panel.settings))
            await until(pilot, "bob is connected", lambda: bob.session.connected)

            hello = "hi bob, watch the clock turn into a tick"
            await say(pilot, you, hello)
            await until(pilot, "bob sees it", lambda: has(bob, hello, Status.SENT))
            await say(pilot, bob, "nice! now press F4 and try again")
            await until(pilot, "you see bob", lambda: len(you.rows()) == 2)

            await pilot.press("f4")
            await until(pilot, "sends are refused", lambda: app.panel.state("refuse") != "off")
            await say(pilot, you, "this one will be refused")
            await until(
                pilot, "it failed", lambda: has(you, "this one will be refused", Status.FAILED)
            )
            await pilot.press("f4", "f2")
            await until(
                pilot, "the network is slow", lambda: app.panel.state("latency_ms") != "off"
            )

            await say(pilot, bob, "ok, I see", enter=False)
            await until(pilot, "you see bob typing", lambda: "bob" in you.text_of("typing"))
            await say(pilot, you, "a slow one: still a grey clock")
            await until(
                pilot,
                "the slow one is pending",
                lambda: has(you, "a slow one: still a grey clock", Status.PENDING),
            )
            out.parent.mkdir(parents=True, exist_ok=True)
            app.save_screenshot(out.name, path=str(out.parent))
            await pilot.press("ctrl+q")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chatkit.tui.screenshot", description="Write the demo's SVG screenshot."
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: docs/demo.svg")
    parser.add_argument("--target", default="solution", help="default: %(default)s")
    args = parser.parse_args(argv)
    print(asyncio.run(take(args.out, args.target)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
