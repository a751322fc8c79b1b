"""Failover: a second transport rescues a send, and never shows a message twice.

Your client talks to the server over a primary transport (a WebSocket) and, when
that fails, over a fallback (plain HTTP), through `chatkit.failover.FailoverServer`.
The fallback resends with the same client id, so a server that already stored the
message answers with its stored copy. Your flow sees one `server.send` that
either returns the server's copy or raises `DeliveryError` — and must stay
correct whichever road the message took.

Each scenario gives you a failover client (``kit.client(failover=True)``): the
scripted server answers each transport's request in turn, as in the other families.
"""

import pytest

from chatkit.engine.harness import PRIMARY, Scenario
from chatkit.failover import both_failed

pytestmark = pytest.mark.family("failover")


async def test_primary_refuses_then_fallback_delivers(kit: Scenario) -> None:
    """You send "hi". The primary transport (the WebSocket) turns it down: the
    server is busy. Your client quietly tries the fallback (plain HTTP) with the
    same client id, and that one gets through: the server stores "hi" as #1 and
    answers. While the fallback works, "hi" is still pending; in the end there is
    one row, sent #1, and no error banner: the user never needed to know the
    first road was closed."""
    kit.client(failover=True)
    hi = await kit.send("hi")
    await kit.refuse(hi, "the server is busy")
    kit.expect_fallback(hi)
    kit.expect(["'hi' pending"])
    kit.expect_flags(sending=True, error=None)
    await kit.ack(hi)
    kit.expect(["'hi' sent #1"])
    kit.expect_flags(sending=False, error=None)
    assert len(kit.server.stored[kit.chat_id]) == 1


async def test_lost_ack_then_fallback_returns_the_same_message(kit: Scenario) -> None:
    """You send "hi" over the primary. The server stores it as #1, but its answer
    is lost on the way back and your client gives up waiting. The fallback sends
    "hi" again with the same client id; the server recognises it and answers with
    the message it already has, #1, storing nothing new. You see one row, sent #1,
    and the server holds one message: no duplicate, on either side."""
    kit.client(failover=True)
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.time_out(hi)
    kit.expect_fallback(hi)
    kit.expect(["'hi' pending"])
    stored = await kit.ack(hi)
    assert stored.seq == 1
    kit.expect(["'hi' sent #1"])
    kit.expect_flags(sending=False, error=None)
    assert len(kit.server.stored[kit.chat_id]) == 1


async def test_both_transports_fail_and_the_message_fails_with_a_reason(kit: Scenario) -> None:
    """You send "hi". The primary refuses it (the server is busy) and the fallback
    cannot reach the server either (you are offline). Now the message really did
    not get through: it stays on screen as failed, with the reason the failover
    gives — both causes — and the error banner shows the same reason. The words
    are kept, so you can retry."""
    kit.client(failover=True)
    hi = await kit.send("hi")
    await kit.refuse(hi, "the server is busy")
    kit.expect_fallback(hi)
    await kit.refuse(hi, "you are offline")
    reason = both_failed("the server is busy", "you are offline")
    kit.expect([f"'hi' failed ({reason})"])
    kit.expect_flags(sending=False, error=reason)
    assert kit.server.stored == {}


async def test_echo_arrives_while_failing_over(kit: Scenario) -> None:
    """You send "hi". The server stores it as #1 and broadcasts it: your own echo
    arrives first and confirms the row, sent #1. But the primary's answer is lost,
    so the failover asks again over the fallback, which answers with #1 once
    more. An answer for a message already confirmed must change nothing: still
    one row, still sent #1, no banner."""
    kit.client(failover=True)
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.echo(hi)
    kit.expect(["'hi' sent #1"])
    await kit.time_out(hi)
    if kit.failed_over(hi):  # a send that stopped waiting once its echo came has no fallback
        kit.expect(["'hi' sent #1"])
        await kit.ack(hi)
    kit.expect(["'hi' sent #1"])
    kit.expect_flags(sending=False, error=None)
    assert len(kit.server.stored[kit.chat_id]) == 1


async def test_echo_then_both_transports_fail_keeps_it_sent(kit: Scenario) -> None:
    """You send "hi". The server stores it as #1 and your echo arrives: sent #1.
    Then the primary's answer is lost and the fallback cannot reach the server,
    so your flow is told the send failed. But the echo already proved the
    server has "hi": a failure that comes after the confirmation must not undo
    it. The row stays sent #1, with no error banner."""
    kit.client(failover=True)
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.echo(hi)
    await kit.time_out(hi)
    if kit.failed_over(hi):  # a send that stopped waiting once its echo came has no fallback
        await kit.refuse(hi, "you are offline")
    kit.expect(["'hi' sent #1"])
    kit.expect_flags(sending=False, error=None)
    assert len(kit.server.stored[kit.chat_id]) == 1


async def test_retry_after_both_fail_reuses_the_stored_message(kit: Scenario) -> None:
    """You send "hi". The server does store it as #1, but the answer is lost, and
    then the fallback cannot reach the server at all: "hi" shows as failed. You
    press retry. The retry must reuse the message's client id, so the server
    recognises "hi" and answers with #1 instead of storing it again. One row,
    sent #1, the banner cleared; one message on the server."""
    kit.client(failover=True)
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.time_out(hi)
    kit.expect_fallback(hi)
    await kit.refuse(hi, "you are offline")
    kit.expect(["'hi' failed"])
    again = await kit.retry(hi)
    assert again.via == PRIMARY
    kit.expect(["'hi' pending"])
    stored = await kit.ack(again)
    assert stored.seq == 1
    kit.expect(["'hi' sent #1"])
    kit.expect_flags(sending=False, error=None)
    assert len(kit.server.stored[kit.chat_id]) == 1


async def test_late_echo_proves_a_failed_send_got_through(kit: Scenario) -> None:
    """You send "hi". The server stores it as #1, but the primary's answer is lost
    and the fallback is refused, so "hi" shows as failed. Then the echo of #1
    arrives after all: the server had it from the start. A failed message the
    server proves it stored becomes sent #1 — the same row, not a second one —
    and the banner clears."""
    kit.client(failover=True)
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.time_out(hi)
    kit.expect_fallback(hi)
    await kit.refuse(hi, "you are offline")
    kit.expect(["'hi' failed"])
    await kit.echo(hi)
    kit.expect(["'hi' sent #1"])
    kit.expect_flags(sending=False, error=None)
    assert len(kit.server.stored[kit.chat_id]) == 1


async def test_two_sends_fail_over_independently(kit: Scenario) -> None:
    """You send "one", then "two". The primary refuses "two", so it travels over
    the fallback while "one" is still waiting for its answer on the primary.
    "one" is answered first and becomes #1; "two" arrives as #2. Each message
    settles on its own: "sending…" stays on until both are settled, and in the
    end both are sent, in server order, each shown once."""
    kit.client(failover=True)
    one = await kit.send("one")
    two = await kit.send("two")
    await kit.refuse(two, "the server is busy")
    kit.expect_fallback(two)
    kit.expect(["'one' pending", "'two' pending"])
    await kit.ack(one)
    kit.expect(["'one' sent #1", "'two' pending"])
    kit.expect_flags(sending=True, error=None)
    await kit.ack(two)
    kit.expect(["'one' sent #1", "'two' sent #2"])
    kit.expect_flags(sending=False, error=None)
    assert len(kit.server.stored[kit.chat_id]) == 2
