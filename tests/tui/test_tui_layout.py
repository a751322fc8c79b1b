"""Every terminal size the kit promises: 80×24 (the default), 100×30 and 200×60.

What is asserted is read off the screen itself (the app's own SVG export, read back
cell by cell): each own message's mark is there, beside its words, in its pane;
and the newest message stays in view when the window or a notice changes the
room the timeline has, unless the user scrolled up to read.
"""

from __future__ import annotations

import re
from functools import partial

import pytest
from textual.pilot import Pilot
from tui_support import (
    ServerFactory,
    ServerProcess,
    connected,
    load,
    statuses,
    type_and_send,
    until,
)

from chatkit.live.client.transports import HttpTransport
from chatkit.model import Status
from chatkit.tui.app import ChatApp
from chatkit.tui.demo import USERS, DemoApp
from chatkit.tui.notices import Notice
from chatkit.tui.pane import ChatPane
from chatkit.tui.screenshot import screen_text
from chatkit.tui.session import ChatSession

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

SIZES = [(80, 24), (100, 30), (200, 60)]
TALK = [
    ("alice", "hi bob"),
    ("bob", "hi alice, how are you today? this line is long enough to wrap at 80"),
    ("alice", "fine, and a long answer of mine wraps too, the mark stays beside it"),
    ("alice", "a second one"),
    ("bob", "ok"),
]


def is_sent(pane: ChatPane, body: str) -> bool:
    return statuses(pane, body) == [Status.SENT]


def app_size_is(app: ChatApp, size: tuple[int, int]) -> bool:
    return (app.size.width, app.size.height) == size


def screen(pilot: Pilot[None]) -> list[str]:
    """The characters on the terminal now, one string per line."""
    return screen_text(pilot.app.export_screenshot())


def pane_lines(lines: list[str], pane: ChatPane) -> list[str]:
    """The part of each screen line that lies in ``pane``."""
    region = pane.region
    return [
        line[region.x : region.right].ljust(region.width)
        for line in lines[region.y : region.bottom]
    ]


def shown_with_mark(lines: list[str], body: str, mark: str) -> bool:
    """Whether the first words of ``body`` and ``mark`` are on one line of ``lines``."""
    start = body[:12]
    return any(start in line and mark in line for line in lines)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_every_own_message_shows_its_mark_at_every_size(
    start_server: ServerFactory, size: tuple[int, int]
) -> None:
    server = start_server()
    path, first = load("solution")
    _, second = load("solution")
    passwords = {user: server.account(user) for user in USERS}
    app = DemoApp(server.url, path, [first, second], passwords=passwords)
    async with app.run_test(size=size) as pilot:
        panes = dict(zip(USERS, app.panes, strict=True))
        await until(pilot, "both connected", lambda: all(map(connected, panes.values())))
        for user, body in TALK:
            await type_and_send(pilot, panes[user], body)
            for pane in panes.values():
                await until(pilot, f"{body!r} is sent", partial(is_sent, pane, body))
        lines = screen(pilot)
        for user, pane in panes.items():
            seen = pane_lines(lines, pane)
            own = [body for author, body in TALK if author == user]
            for body in own:
                assert shown_with_mark(seen, body, "✓"), (user, body, seen)
            assert sum(line.count("✓") for line in seen) == len(own), seen
            for _, body in TALK:
                assert any(body[:12] in line for line in seen), (user, body)
        assert pane_lines(lines, panes["alice"])[0].startswith("╭─ alice")
        for pane in panes.values():  # the connection line ends in whole words, no "·"
            assert not pane_lines(lines, pane)[1].strip(" │").endswith("·")
        assert " ".join(lines[-1].split()) == "^r Retry failed ^o Older messages ^q Quit"
        # Bob's long message wraps under its own first word, not under his name.
        seen = pane_lines(lines, panes["alice"])
        wrapped = next(n for n, line in enumerate(seen) if "bob  hi alice" in line)
        column = seen[wrapped].index("hi alice")
        assert seen[wrapped + 1][:column].strip(" │") == ""
        assert seen[wrapped + 1][column] != " "
        assert re.search(r"F4 +refused", "\n".join(lines))  # the switches show at every size


async def chat_with_history(server: ServerProcess, count: int) -> ChatApp:
    """Ada's client for a chat where carol already wrote ``count`` messages."""
    async with HttpTransport(server.url) as carol:
        await carol.login("carol", server.account("carol"))
        await carol.join("general")
        for n in range(count):
            await carol.send("general", f"carol-{n}", f"old message {n:03d}")
    path, flow = load("solution")
    password = server.account("ada")
    return ChatApp(ChatSession(flow, path, server.url, "ada", "general", password=password))


def newest_in_view(pilot: Pilot[None], pane: ChatPane) -> bool:
    """Whether the newest row's every line is in the timeline's view, and on screen."""
    timeline = pane.timeline
    newest = pane.rows()[-1]
    first, end = timeline.line_range(newest)
    top = round(timeline.scroll_y)
    height = timeline.scrollable_content_region.height
    if not (top <= first and end <= top + height):
        return False
    return any(newest.message.body in line for line in pane_lines(screen(pilot), pane))


async def test_the_newest_message_stays_in_view_through_resizes_and_notices(
    start_server: ServerFactory,
) -> None:
    app = await chat_with_history(start_server(), 40)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.pane
        await until(pilot, "the history is in", lambda: len(pane.rows()) == 40)
        await type_and_send(pilot, pane, "the newest")
        await until(pilot, "sent", lambda: statuses(pane, "the newest") == [Status.SENT])
        assert newest_in_view(pilot, pane)

        for size in [(80, 14), (100, 30), (200, 60), (80, 24)]:
            await pilot.resize_terminal(*size)
            await until(pilot, f"resized to {size}", partial(app_size_is, app, size))
            await pilot.pause()
            assert newest_in_view(pilot, pane), size
        timeline = pane.timeline
        assert timeline.scroll_y == timeline.max_scroll_y  # no blank rows under the newest

        pane.session.tell(Notice("a notice three lines tall\nsecond line\nthird line"))
        await until(pilot, "the notice shows", lambda: pane.query_one("#notice").display)
        await pilot.pause()
        assert newest_in_view(pilot, pane)
        pane.session.tell(None)
        await until(pilot, "the notice is gone", lambda: not pane.query_one("#notice").display)
        await pilot.pause()
        assert newest_in_view(pilot, pane)


async def test_a_user_who_scrolled_up_is_left_where_they_read(start_server: ServerFactory) -> None:
    app = await chat_with_history(start_server(), 40)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.pane
        await until(pilot, "the history is in", lambda: len(pane.rows()) == 40)
        timeline = pane.timeline
        timeline.scroll_to(y=5, animate=False, immediate=True)
        await pilot.pause()
        assert not timeline.following
        await type_and_send(pilot, pane, "written while reading")
        await until(pilot, "sent", lambda: statuses(pane, "written while reading") == [Status.SENT])
        assert timeline.scroll_y == 5
        timeline.scroll_end(animate=False, immediate=True)  # back at the bottom: follows again
        await pilot.pause()
        assert timeline.following
        await type_and_send(pilot, pane, "and one more")
        await until(pilot, "sent", lambda: statuses(pane, "and one more") == [Status.SENT])
        assert newest_in_view(pilot, pane)
