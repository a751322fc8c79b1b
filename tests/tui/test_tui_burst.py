"""A burst of 200 messages typed with no pause: every mark on the way is true.

Under a burst the screen once fell behind: every event redrew every row, the
demo's server shared the screen's event loop, acks were handled after the send
had given up waiting, and messages the server had stored showed ✗ for seconds.
Here the screen is sampled all through the burst, and each row also keeps its
own record of every status it displayed (`MessageRow.shown`): no message the
server stored may ever have been shown as failed.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from textual.pilot import Pilot
from tui_support import ServerFactory, burst, connected, load, until

from chatkit.live.client.transports import HttpTransport
from chatkit.model import Status
from chatkit.tui.app import ChatApp
from chatkit.tui.demo import USERS, DemoApp
from chatkit.tui.embedded import EmbeddedServer
from chatkit.tui.pane import ChatPane
from chatkit.tui.session import ChatSession

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

BODIES = [f"burst {n:03d}" for n in range(1, 201)]


async def type_all_and_watch(pilot: Pilot[None], pane: ChatPane) -> set[str]:
    """Type every message in one burst; return the bodies ever seen failed on screen."""
    pane.input.focus()
    await until(pilot, "the box has the focus", lambda: pane.input.has_focus)
    burst(pilot.app, "".join(f"{body}\r" for body in BODIES))
    failed: set[str] = set()

    def settled() -> bool:
        rows = pane.rows()
        failed.update(
            f"{row.message.body}: {row.message.error}"
            for row in rows
            if row.status is Status.FAILED
        )
        return len(rows) == len(BODIES) and all(row.status is Status.SENT for row in rows)

    await until(pilot, "every message is sent", settled, timeout=60)
    for row in pane.rows():
        if Status.FAILED in row.shown:
            failed.add(row.message.body)
    return failed


async def stored(url: str, user: str, password: str, chat_id: str) -> list[str]:
    async with HttpTransport(url) as reader:
        await reader.login(user, password)
        return [message.body for message in await reader.history(chat_id)]


async def test_a_burst_in_the_demo_never_shows_a_stored_message_failed() -> None:
    async with EmbeddedServer(users=USERS) as server:
        path, first = load("solution")
        _, second = load("solution")
        app = DemoApp(
            server.url, path, [first, second], passwords=server.passwords, chat_id="burst"
        )
        async with app.run_test(size=(80, 24)) as pilot:
            alice, bob = app.panes
            await until(pilot, "both connected", lambda: connected(alice) and connected(bob))
            failed = await type_all_and_watch(pilot, alice)
            await until(pilot, "bob has them all", lambda: len(bob.rows()) == len(BODIES))
        assert await stored(server.url, "alice", server.passwords["alice"], "burst") == BODIES
    assert failed == set(), f"{len(failed)} stored messages were shown as not sent"


async def test_a_burst_against_a_separate_server_never_shows_a_stored_message_failed(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    passwords: Mapping[str, str] = {"ada": server.account("ada")}
    path, flow = load("solution")
    app = ChatApp(ChatSession(flow, path, server.url, "ada", "general", password=passwords["ada"]))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, "connected", lambda: connected(app.pane))
        failed = await type_all_and_watch(pilot, app.pane)
    assert await stored(server.url, "ada", passwords["ada"], "general") == BODIES
    assert failed == set(), f"{len(failed)} stored messages were shown as not sent"
