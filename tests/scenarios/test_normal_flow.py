"""Normal flow: one message, sent and confirmed the way it usually happens."""

import pytest

from chatkit.engine.harness import Scenario
from chatkit.engine.rules import Rule, RuleBroken

pytestmark = pytest.mark.family("normal flow")


async def test_message_shows_as_pending_at_once(kit: Scenario) -> None:
    """You type "hi" and press enter. Before the server has said anything, the
    message must already be on screen, marked pending, and the chat must show
    "sending…". Nobody waits for a round trip to see their own words."""
    await kit.send("hi")
    kit.expect(["'hi' pending"], rule=Rule.INSTANT)
    kit.expect_flags(sending=True, error=None)


async def test_ack_confirms_the_message(kit: Scenario) -> None:
    """You send "hi"; the server stores it as #1 and acks. The pending row turns
    into the confirmed message #1 — the same row, not a second one — and the
    "sending…" indicator goes away."""
    hi = await kit.send("hi")
    await kit.ack(hi)
    kit.expect(["'hi' sent #1"])
    kit.expect_flags(sending=False, error=None)


async def test_ack_then_echo_shows_it_once(kit: Scenario) -> None:
    """The usual order: the ack of "hi" arrives, then the realtime echo of the
    same message. The echo carries your client id, so it is recognised as the
    message already on screen and nothing new appears."""
    hi = await kit.send("hi")
    await kit.ack(hi)
    await kit.echo(hi)
    kit.expect(["'hi' sent #1"])


async def test_confirmed_message_takes_its_id_and_time_from_the_server(kit: Scenario) -> None:
    """Your client stamped "hi" with its own clock when you pressed enter, and
    it had no server id yet. Once the ack arrives the server is the truth: the
    row now carries the server's id, its sequence number and its timestamp. (The
    server already holds two messages of another chat, so its id for "hi", #3, is
    not its place in this chat, 1: each goes in its own field.)"""
    kit.post("standup at 10", by="bob", chat="random")
    kit.post("ok", by="bob", chat="random")
    hi = await kit.send("hi")
    stored = await kit.ack(hi)
    row = kit.state().get(stored.client_id)
    if row is None or (row.server_id, row.seq, row.created_at) != (
        stored.id,
        stored.seq,
        stored.created_at,
    ):
        raise RuleBroken(
            Rule.SERVER_TRUTH,
            "the confirmed row should carry the server's id, sequence number and timestamp",
            expected=[f"id={stored.id} seq={stored.seq} created_at={stored.created_at}"],
            actual=[
                "no row"
                if row is None
                else f"id={row.server_id} seq={row.seq} created_at={row.created_at}"
            ],
        )


async def test_send_returns_the_row_it_shows(kit: Scenario) -> None:
    """`send` hands back the message it put on screen — the very same row, not a
    copy — so the caller (a screen, a test) can keep an eye on it while it
    travels. After the ack, that row is the confirmed "hi"."""
    hi = await kit.send("hi")
    await kit.ack(hi)
    kit.expect_returned_row(hi)
    kit.expect(["'hi' sent #1"])


async def test_two_messages_one_after_the_other(kit: Scenario) -> None:
    """You send "hi", it is confirmed; then "how are you?", confirmed too. Each
    is a row of its own, in the order the server stored them."""
    hi = await kit.send("hi")
    await kit.ack(hi)
    await kit.echo(hi)
    how = await kit.send("how are you?")
    kit.expect(["'hi' sent #1", "'how are you?' pending"])
    await kit.ack(how)
    await kit.echo(how)
    kit.expect(["'hi' sent #1", "'how are you?' sent #2"])
    kit.expect_flags(sending=False, error=None)


async def test_a_message_from_someone_else_appears(kit: Scenario) -> None:
    """Bob writes "hello" on his phone. The server stores it and broadcasts it to
    the chat; your client has never seen it, so it becomes a new, already
    confirmed row. Your own "sending…" indicator stays off: it is not your send."""
    kit.client()  # your client is open before Bob writes
    hello = kit.post("hello", by="bob")
    await kit.echo(hello)
    kit.expect(["bob: 'hello' sent #1"], rule=Rule.OTHERS)
    kit.expect_flags(sending=False, error=None)


async def test_a_short_conversation_reads_the_same_for_both(kit: Scenario) -> None:
    """You and Bob each have a real client. You say "hi", Bob answers "hey".
    Each of you sees your own message at once, and in the end both screens show
    the same two messages in the same order — the server's order."""
    kit.client("bob")  # Bob has the chat open from the start
    hi = await kit.send("hi")
    await kit.ack(hi)
    await kit.echo(hi)
    hey = await kit.send("hey", by="bob")
    kit.expect(["you: 'hi' sent #1", "'hey' pending"], user="bob")
    await kit.ack(hey)
    await kit.echo(hey)
    kit.expect(["'hi' sent #1", "bob: 'hey' sent #2"])
    kit.expect(["you: 'hi' sent #1", "'hey' sent #2"], user="bob")
