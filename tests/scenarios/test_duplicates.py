"""Duplicates: the same message reaches you more than once — or looks like another.

Networks repeat themselves. An echo can arrive twice, a reconnect replays the
chat's history, a reload replaces it wholesale. Each message must still be on
screen exactly once. And the opposite trap: two different messages that happen
to say the same thing are two messages, because identity is the client id, never
the text.
"""

import pytest

from chatkit.engine.harness import Scenario
from chatkit.engine.rules import Rule

pytestmark = pytest.mark.family("duplicates")


async def test_the_echo_arrives_twice(kit: Scenario) -> None:
    """The server's broadcast of "hi" reaches you twice — the connection
    hiccuped and the event was redelivered. The second copy is recognised by
    its client id and ignored: "hi" is on screen once."""
    hi = await kit.send("hi")
    await kit.ack(hi)
    await kit.echo(hi)
    await kit.echo(hi)
    kit.expect(["'hi' sent #1"])


async def test_two_echoes_before_the_ack(kit: Scenario) -> None:
    """The echo of "hi" arrives twice before the ack, and then the ack. Three
    pieces of news about one message: one row."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.echo(hi)
    await kit.echo(hi)
    await kit.ack(hi)
    kit.expect(["'hi' sent #1"])
    kit.expect_flags(sending=False, error=None)


async def test_a_message_from_someone_else_echoed_twice(kit: Scenario) -> None:
    """Bob's "hello" is broadcast to you twice. The first copy becomes a new
    row; the second is the same message (same client id) and adds nothing."""
    kit.client()
    hello = kit.post("hello", by="bob")
    await kit.echo(hello)
    await kit.echo(hello)
    kit.expect(["bob: 'hello' sent #1"], rule=Rule.OTHERS)


async def test_bob_says_the_same_thing_twice(kit: Scenario) -> None:
    """Bob answers "ok" to one question, then "ok" to the next, quickly: the
    server stores both within the same second. Same words, same author, same
    time, but two messages: each has a client id of its own and a number of
    its own. Both show."""
    first = kit.post("ok", by="bob")
    second = kit.post("ok", by="bob")
    await kit.echo(first)
    await kit.echo(second)
    kit.expect(["bob: 'ok' sent #1", "bob: 'ok' sent #2"], rule=Rule.NO_TEXT_MATCHING)


async def test_the_same_number_in_two_chats_is_two_messages(kit: Scenario) -> None:
    """Bob writes "morning!" in "general" and Carol writes "stand-up in 5"
    in "work". The server numbers each chat's messages from 1, so both are
    #1 — of different chats. Two messages, one in each chat, both shown."""
    kit.client("you", chats=("work",))
    await kit.echo(kit.post("morning!", by="bob"))
    await kit.echo(kit.post("stand-up in 5", by="carol", chat="work"))
    kit.expect(["bob: 'morning!' sent #1"], rule=Rule.OTHERS)
    kit.expect(["carol: 'stand-up in 5' sent #1"], chat="work", rule=Rule.OTHERS)


async def test_backfill_after_reconnect_adds_nothing_you_have(kit: Scenario) -> None:
    """You sent "a" and "b", both confirmed. Your connection drops and comes
    back, and the client merges the chat's history from the server. Both
    messages are in that history — and already on your screen, so nothing is
    added."""
    a = await kit.send("a")
    b = await kit.send("b")
    await kit.ack(a)
    await kit.ack(b)
    await kit.backfill()
    kit.expect(["'a' sent #1", "'b' sent #2"])


async def test_backfill_brings_what_you_missed_once(kit: Scenario) -> None:
    """While you were disconnected Bob wrote twice; their echoes never reached
    you. The backfill after the reconnect shows them, in server order. When a
    delayed echo of one of them turns up afterwards, it is not added again."""
    kit.client()
    hi = await kit.send("hi")
    await kit.ack(hi)
    first = kit.post("are you there?", by="bob")
    kit.post("hello??", by="bob")
    await kit.backfill()
    expected = ["'hi' sent #1", "bob: 'are you there?' sent #2", "bob: 'hello??' sent #3"]
    kit.expect(expected, rule=Rule.OTHERS)
    await kit.echo(first)
    await kit.backfill()
    kit.expect(expected)


async def test_backfill_confirms_a_message_still_waiting_for_its_ack(kit: Scenario) -> None:
    """The server stored your "b", but the connection dropped before the ack or
    the echo reached you. After the reconnect, the history includes "b" with
    your client id: the pending row is confirmed in place. The ack that comes
    later changes nothing."""
    a = await kit.send("a")
    await kit.ack(a)
    b = await kit.send("b")
    await kit.send("c")
    kit.store(b)
    await kit.backfill()
    kit.expect(["'a' sent #1", "'b' sent #2", "'c' pending"])
    await kit.ack(b)
    kit.expect(["'a' sent #1", "'b' sent #2", "'c' pending"])


async def test_resync_keeps_pending_and_failed_messages_once(kit: Scenario) -> None:
    """You reload the chat from the server. Its list replaces your confirmed
    rows — here "a" and Bob's "x". Your failed "b" and your pending "c" are not
    on the server, so they must survive the reload: still there, still once,
    still failed and pending."""
    a = await kit.send("a")
    b = await kit.send("b")
    await kit.send("c")
    await kit.ack(a)
    await kit.refuse(b, "you are offline")
    kit.post("x", by="bob")
    await kit.resync()
    kit.expect(
        ["'a' sent #1", "bob: 'x' sent #2", "'b' failed (you are offline)", "'c' pending"],
        rule=Rule.RESYNC,
    )
    kit.expect_flags(sending=True, error="you are offline")


async def test_resync_after_an_echo_keeps_the_message(kit: Scenario) -> None:
    """Bob's "hello" reached you by its echo. Then you reload the chat: the server's
    list replaces your confirmed rows, and "hello" is in it, so it shows again, once.
    Remembering that you saw it already must not make it vanish now."""
    kit.client()
    await kit.echo(kit.post("hello", by="bob"))
    await kit.resync()
    kit.expect(["bob: 'hello' sent #1"], rule=Rule.RESYNC)


async def test_resync_confirms_a_pending_message_the_server_has(kit: Scenario) -> None:
    """Your "hi" is pending, but the server already stored it. You reload the
    chat: the server's list includes "hi" with your client id, so your pending
    row becomes the confirmed message — one row, not a pending "hi" plus a
    sent one. Then the ack arrives and nothing changes."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.resync()
    kit.expect(["'hi' sent #1"], rule=Rule.RESYNC)
    kit.expect_flags(sending=False, error=None)
    await kit.ack(hi)
    kit.expect(["'hi' sent #1"])


async def test_resync_twice_changes_nothing(kit: Scenario) -> None:
    """Reloading a chat twice in a row gives the same screen as reloading it
    once: the server's messages once each, then your unconfirmed ones."""
    a = await kit.send("a")
    await kit.ack(a)
    b = await kit.send("b")
    await kit.time_out(b)
    await kit.resync()
    await kit.resync()
    kit.expect(["'a' sent #1", "'b' failed"], rule=Rule.RESYNC)


async def test_identical_bodies_are_two_messages(kit: Scenario) -> None:
    """You send "ok", then "ok" again — you really meant it twice. The server
    stores them in the opposite order. Matching by text would mix them up or
    merge them; matching by client id keeps two rows, each with its own server
    number."""
    first = await kit.send("ok")
    second = await kit.send("ok")
    kit.expect(["'ok' pending", "'ok' pending"])
    await kit.ack(second)
    kit.expect(["'ok' sent #1", "'ok' pending"], rule=Rule.NO_TEXT_MATCHING)
    await kit.echo(second)
    await kit.ack(first)
    await kit.echo(first)
    kit.expect(["'ok' sent #1", "'ok' sent #2"], rule=Rule.NO_TEXT_MATCHING)


async def test_identical_bodies_one_fails_one_succeeds(kit: Scenario) -> None:
    """Two messages both say "on my way". The first is refused, the second goes
    through. Exactly one "on my way" is sent and exactly one is failed — the
    failure belongs to the message that failed, not to whichever row says the
    same thing."""
    first = await kit.send("on my way")
    second = await kit.send("on my way")
    await kit.refuse(first, "rejected")
    await kit.ack(second)
    kit.expect(["'on my way' sent #1", "'on my way' failed (rejected)"], rule=Rule.NO_TEXT_MATCHING)


async def test_bob_says_the_same_thing_as_you(kit: Scenario) -> None:
    """You type "hi" and so does Bob, at the same moment. Bob's "hi" reaches
    you first. It is Bob's message, not the echo of yours, so it is a new row
    and your "hi" stays pending until its own ack."""
    hi = await kit.send("hi")
    await kit.echo(kit.post("hi", by="bob"))
    kit.expect(["bob: 'hi' sent #1", "'hi' pending"], rule=Rule.NO_TEXT_MATCHING)
    await kit.ack(hi)
    kit.expect(["bob: 'hi' sent #1", "'hi' sent #2"])


async def test_your_own_message_from_another_device_is_a_new_row(kit: Scenario) -> None:
    """You type "hi" on your laptop while you are still sending "hi" from your
    phone. The laptop's message is yours too, with the same words, but it
    carries a client id your phone never made, so the phone shows it as a new
    row. The phone's own "hi" is confirmed by its own ack."""
    hi = await kit.send("hi")
    await kit.echo(kit.post("hi", by="you"))
    kit.expect(["'hi' sent #1", "'hi' pending"], rule=Rule.NO_TEXT_MATCHING)
    await kit.ack(hi)
    await kit.echo(hi)
    kit.expect(["'hi' sent #1", "'hi' sent #2"])


async def test_a_new_phone_never_reuses_the_ids_of_an_old_one(kit: Scenario) -> None:
    """You sent "a" and "b" from your phone; the server has both. Then you
    reinstall the app (or sign in on a new phone) and type "c" before the
    history has even loaded. The new app starts from nothing — but "c" still
    needs a client id no message ever had, or the server takes it for "a"
    sent again. Once everything arrives, the new phone shows all three."""
    a = await kit.send("a")
    await kit.ack(a)
    b = await kit.send("b")
    await kit.ack(b)
    kit.phone("you", "your new phone")
    c = await kit.send("c", by="your new phone")
    await kit.ack(c)
    await kit.resync("your new phone")
    kit.expect(["'a' sent #1", "'b' sent #2", "'c' sent #3"], user="your new phone")
    await kit.echo(c, to="you")
    kit.expect(["'a' sent #1", "'b' sent #2", "'c' sent #3"], rule=Rule.NO_TEXT_MATCHING)
