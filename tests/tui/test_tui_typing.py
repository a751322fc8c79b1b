"""Every Enter sends exactly one message with exactly the words typed, however fast they come.

The keys go into the app's queue all at once (`burst`), the way a terminal hands
over a fast typist's keys, so the next message's keys are already waiting when
an Enter is handled. The client once read and cleared its input box in two steps
with those keys in between, and merged two messages into one row or sent one
twice. A multi-line paste is one message, newlines kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from functools import partial

import pytest
from textual.pilot import Pilot
from tui_support import ServerFactory, ServerProcess, burst, connected, load, paste, until

from chatkit.model import Status
from chatkit.tui.demo import USERS, DemoApp
from chatkit.tui.pane import ChatPane

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

SIZE = (160, 42)
TYPED = [f"quick {n:02d} from alice" for n in range(1, 51)]
PASTED = "a pasted paragraph:\n  line two, indented\nline three — with ünïcode ✓"
AFTER = "typed right after the paste"


def demo_app(server: ServerProcess) -> DemoApp:
    path, first = load("solution")
    _, second = load("solution")
    passwords = {user: server.account(user) for user in USERS}
    return DemoApp(server.url, path, [first, second], passwords=passwords)


@contextlib.asynccontextmanager
async def alice_at_her_keyboard(
    server: ServerProcess,
) -> AsyncIterator[tuple[DemoApp, Pilot[None], ChatPane, ChatPane]]:
    """The demo running headless, both panes connected, alice's box focused."""
    app = demo_app(server)
    async with app.run_test(size=SIZE) as pilot:
        alice, bob = app.panes
        await until(pilot, "both connected", lambda: connected(alice) and connected(bob))
        alice.input.focus()
        await until(pilot, "alice's box has the focus", lambda: alice.input.has_focus)
        yield app, pilot, alice, bob


def bodies(pane: ChatPane) -> list[str]:
    return [row.message.body for row in pane.rows()]


def has_answer(pane: ChatPane) -> bool:
    """Whether bob's "got them", the barrier after the burst, is on ``pane``."""
    return "got them" in bodies(pane)


def all_sent(pane: ChatPane, expected: list[str]) -> bool:
    rows = pane.rows()
    return len(rows) >= len(expected) and all(row.status is Status.SENT for row in rows)


async def test_fifty_messages_typed_without_a_pause_and_a_paste_arrive_once_and_intact(
    start_server: ServerFactory,
) -> None:
    async with alice_at_her_keyboard(start_server()) as (app, pilot, alice, bob):
        burst(app, "".join(f"{body}\r" for body in TYPED))
        paste(app, PASTED)
        burst(app, "\r" + AFTER + "\r")

        expected = [*TYPED, PASTED, AFTER]
        for pane in (alice, bob):
            await until(
                pilot,
                f"{pane.session.user} shows all {len(expected)} messages sent",
                partial(all_sent, pane, expected),
                timeout=20,
            )
        # A barrier: bob answers, so anything alice's client sent twice is on the wire before it.
        bob.input.focus()
        await until(pilot, "bob's box has the focus", lambda: bob.input.has_focus)
        burst(app, "got them\r")
        for pane in (alice, bob):
            await until(pilot, "bob's answer arrived", partial(has_answer, pane))
            assert bodies(pane) == [*expected, "got them"], pane.session.user
            assert all(row.status is Status.SENT for row in pane.rows())
        assert [row.message.body.count("\n") for row in bob.rows_for(PASTED)] == [2]
        assert alice.input.text == "" and bob.input.text == ""


async def test_a_paste_is_sent_only_by_enter_and_a_blank_enter_sends_nothing(
    start_server: ServerFactory,
) -> None:
    async with alice_at_her_keyboard(start_server()) as (app, pilot, alice, bob):
        paste(app, "two lines\nof text\n")
        burst(app, "\r\r")  # the second Enter finds the box empty
        await until(pilot, "bob has the paste", lambda: bodies(bob) == ["two lines\nof text\n"])
        burst(app, "and one more\r")
        await until(pilot, "bob has the last one", lambda: len(bodies(bob)) == 2)
        assert bodies(bob) == ["two lines\nof text\n", "and one more"]
        assert bodies(alice) == bodies(bob)


async def test_ctrl_j_enter_and_a_paste_in_one_chunk_are_taken_in_the_order_pressed(
    start_server: ServerFactory,
) -> None:
    """ctrl+j was once a binding run after the keys behind it: ``h1`` ctrl+j ``h2`` Enter
    sent ``h1h2`` and left the new line in the box for the next message."""
    async with alice_at_her_keyboard(start_server()) as (app, pilot, alice, bob):
        burst(app, "h1\nh2\r")
        paste(app, "p1\np2")
        burst(app, "\rh3\nh4\r")
        expected = ["h1\nh2", "p1\np2", "h3\nh4"]
        await until(pilot, "bob has all three", lambda: len(bodies(bob)) >= len(expected))
        await until(pilot, "alice's are sent", partial(all_sent, alice, expected))
        assert bodies(bob) == expected
        assert bodies(alice) == expected
        assert alice.input.text == ""


async def test_a_blank_enter_keeps_the_box_as_it_was_and_says_why_beside_it(
    start_server: ServerFactory,
) -> None:
    async with alice_at_her_keyboard(start_server()) as (app, pilot, alice, bob):
        burst(app, "   \r")
        await until(pilot, "the reason shows", lambda: alice.text_of("hint"))
        assert alice.text_of("hint") == "only spaces: type some words first"
        assert alice.input.text == "   "  # nothing taken, nothing given back twice
        assert alice.text_of("notice") == ""  # said beside the box, not at the top
        burst(app, "ok\r")
        await until(pilot, "bob has it", lambda: bodies(bob) == ["   ok"])
        assert alice.text_of("hint") == ""
        assert alice.input.text == ""
