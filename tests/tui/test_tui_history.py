"""Scroll-back: a chat opens on its newest page, and older pages come from the server on request.

Each page is asked for with ``before=SEQ`` (the oldest message loaded so far) and
goes through the flow's ``reconcile``, like every message the screen shows.
"""

from __future__ import annotations

import pytest
from textual import events
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
from chatkit.tui.pane import ChatPane
from chatkit.tui.session import ChatSession
from chatkit.tui.timeline import Timeline

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(45)]

PAGE = 10
OLD = [f"old {n:02d}" for n in range(1, 26)]


async def seed(server: ServerProcess, chat_id: str, bodies: list[str]) -> None:
    """Someone else (carol) wrote these before ada opens the chat."""
    async with HttpTransport(server.url) as carol:
        await carol.login("carol", server.account("carol"))
        await carol.join(chat_id)
        for body in bodies:
            await carol.send(chat_id, "carol-" + body.replace(" ", "-"), body)


async def ada_in_a_long_chat(server: ServerProcess) -> ChatApp:
    """Ada's client for a chat whose history is longer than a few pages."""
    await seed(server, "general", OLD)
    path, flow = load("solution")
    password = server.account("ada")
    return ChatApp(
        ChatSession(flow, path, server.url, "ada", "general", password=password, page_size=PAGE)
    )


def bodies(pane: ChatPane) -> list[str]:
    return [row.message.body for row in pane.rows()]


async def test_a_chat_opens_on_its_newest_page_and_pages_back_on_request(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    app = await ada_in_a_long_chat(server)
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "connected", lambda: connected(pane) and bool(pane.rows()))
        await until(pilot, "the newest page is in", lambda: bodies(pane) == OLD[-PAGE:])
        assert pane.text_of("older") == "↑ older messages: ctrl+o, or scroll up"

        await pilot.press("ctrl+o")
        await until(pilot, "a page back", lambda: bodies(pane) == OLD[-2 * PAGE :])
        assert pane.session.older_left
        timeline = pane.query_one(Timeline)
        assert timeline.scroll_y == 0  # the page came in above, and the view is at its top
        # The mouse wheel, turned up at the top (Pilot has no public wheel; this is how it clicks).
        await pilot._post_mouse_events([events.MouseScrollUp], timeline)
        await until(pilot, "the start of the chat", lambda: bodies(pane) == OLD)
        assert not pane.session.older_left
        assert pane.text_of("older") == ""
        assert all(row.status is Status.SENT and not row.mine for row in pane.rows())
        # One run of carol's messages: her name on the first only, also after paging in above.
        assert [row.named for row in pane.rows()] == [True] + [False] * (len(OLD) - 1)
        assert pane.rows()[0].text.startswith("carol  old 01  ")
        assert pane.rows()[1].text.startswith("       old 02  ")

        await pilot.press("ctrl+o")  # nothing older: nothing happens, nothing doubles
        await type_and_send(pilot, pane, "new")
        await until(pilot, "sent", lambda: statuses(pane, "new") == [Status.SENT])
        assert bodies(pane) == [*OLD, "new"]


async def test_a_resync_after_a_reconnect_reloads_what_was_paged_in(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    app = await ada_in_a_long_chat(server)
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "the newest page is in", lambda: bodies(pane) == OLD[-PAGE:])
        await pilot.press("ctrl+o")
        await until(pilot, "a page back", lambda: bodies(pane) == OLD[-2 * PAGE :])
        first = pane.rows()[0]

        server.stop()
        await until(pilot, "the drop shows", lambda: not pane.session.connected)
        server.start(port=server.port)
        await seed(server, "general", ["while ada was away"])
        await until(
            pilot,
            "the resync reloaded the rows",
            lambda: pane.rows() and pane.rows()[0] is not first,
            timeout=20,
        )
        await until(
            pilot,
            "the new one is in, and the pages paged in before are still there",
            lambda: bodies(pane) == [*OLD[-2 * PAGE :], "while ada was away"],
        )
