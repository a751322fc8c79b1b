"""Server-first arrival: the realtime echo beats the ack to your screen.

The server answers your send (the ack) and broadcasts the message to the chat (the
echo) at almost the same moment, over two different paths. Either may arrive
first. When the echo wins, your client must recognise it — by its client id — as
the message already on screen as pending.
"""

import pytest

from chatkit.engine.harness import Scenario
from chatkit.engine.rules import Rule, RuleBroken

pytestmark = pytest.mark.family("server-first arrival")


async def test_echo_before_ack_shows_the_message_once(kit: Scenario) -> None:
    """You send "hi". The server stores it, and its broadcast reaches you before
    the ack does. The echo carries your client id, so it confirms the pending
    row instead of adding a second "hi". When the ack finally lands, nothing
    changes."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.echo(hi)
    kit.expect(["'hi' sent #1"])
    await kit.ack(hi)
    kit.expect(["'hi' sent #1"])


async def test_echo_confirms_while_the_send_still_waits(kit: Scenario) -> None:
    """You send "hi"; the echo arrives while your send is still waiting for its
    ack. The echo is proof enough: "hi" is sent #1 right away, and since none of
    your sends is unsettled any more, the "sending…" indicator goes off."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.echo(hi)
    kit.expect(["'hi' sent #1"], rule=Rule.SERVER_TRUTH)
    kit.expect_flags(sending=False, error=None)


async def test_the_late_ack_reuses_the_confirmed_row(kit: Scenario) -> None:
    """The echo confirmed "hi"; then the ack arrives with the same message. Your
    client should find the row the echo already confirmed — the very same row
    object your send returned — and leave it as it is."""
    hi = await kit.send("hi")
    stored = kit.store(hi)
    await kit.echo(hi)
    row = kit.state().get(stored.client_id)
    await kit.ack(hi)
    if row is None or kit.state().get(stored.client_id) is not row or hi.task.result() is not row:
        raise RuleBroken(
            Rule.IDENTITY,
            "after the echo confirmed 'hi', the ack should land on that same row",
        )
    kit.expect(["'hi' sent #1"])


async def test_two_messages_whose_echoes_come_back_reversed(kit: Scenario) -> None:
    """You send "one" and "two". The server stores them in that order, but the
    echo of "two" reaches you first, then the echo of "one", then both acks.
    Whatever order the news arrives in, the screen shows the server's order."""
    one = await kit.send("one")
    two = await kit.send("two")
    kit.store(one)
    kit.store(two)
    await kit.echo(two)
    kit.expect(["'two' sent #2", "'one' pending"], rule=Rule.SERVER_TRUTH)
    await kit.echo(one)
    await kit.ack(one)
    await kit.ack(two)
    kit.expect(["'one' sent #1", "'two' sent #2"])


async def test_a_late_echo_slots_into_server_order(kit: Scenario) -> None:
    """You send "hi" while Bob is typing. Bob's "yo" is stored first (#1), yours
    second (#2). The echo of your message arrives before Bob's. When Bob's
    finally comes, it goes above yours: the timeline follows the server's
    numbers, not the order the events reached you."""
    hi = await kit.send("hi")
    yo = kit.post("yo", by="bob")
    kit.store(hi)
    await kit.echo(hi)
    kit.expect(["'hi' sent #2"])
    await kit.echo(yo)
    await kit.ack(hi)
    kit.expect(["bob: 'yo' sent #1", "'hi' sent #2"], rule=Rule.SERVER_TRUTH)


async def test_bob_sees_your_message_before_you_get_the_ack(kit: Scenario) -> None:
    """Bob is in the chat with you. You send "lunch?"; the server stores it and
    broadcasts it, so Bob sees it confirmed while your own client still waits
    for the ack — then for you, too, the echo confirms it. Both of you see it
    once."""
    kit.client("bob")
    lunch = await kit.send("lunch?")
    kit.store(lunch)
    await kit.echo(lunch, to="bob")
    kit.expect(["you: 'lunch?' sent #1"], user="bob", rule=Rule.OTHERS)
    kit.expect(["'lunch?' pending"])
    await kit.echo(lunch, to="you")
    await kit.ack(lunch)
    kit.expect(["'lunch?' sent #1"])
    kit.expect(["you: 'lunch?' sent #1"], user="bob")


async def test_the_echo_wins_and_then_the_ack_is_lost(kit: Scenario) -> None:
    """You send "hi"; its echo confirms it. Then your client gives up waiting for
    the ack, which got lost on the way. The message did get through — the echo
    proved it — so it stays sent: no failure, no error banner."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.echo(hi)
    await kit.time_out(hi)
    kit.expect(["'hi' sent #1"], rule=Rule.MONOTONIC)
    kit.expect_flags(sending=False, error=None)


async def test_an_echo_first_success_clears_an_old_error(kit: Scenario) -> None:
    """Your "first" was refused, so the chat shows its reason. Then you send
    "second", and its echo arrives before its ack: that is a successful send,
    so the error banner goes away right then, even before the ack."""
    first = await kit.send("first")
    await kit.refuse(first, "you are offline")
    kit.expect_flags(sending=False, error="you are offline")
    second = await kit.send("second")
    kit.store(second)
    await kit.echo(second)
    kit.expect_flags(sending=False, error=None)
    await kit.ack(second)
    kit.expect(["'second' sent #1", "'first' failed (you are offline)"])
