"""Failure and rollback: a send that does not get through.

The server may refuse a message, or your client may give up waiting for its ack.
Either way the message must not vanish: it stays on screen, marked failed with a
reason the user can read, the chat says what went wrong, and the user can retry.
"""

import pytest

from chatkit.engine.harness import Scenario
from chatkit.engine.rules import Rule
from chatkit.model import TIMED_OUT

pytestmark = pytest.mark.family("failure and rollback")


async def test_a_refused_send_stays_visible_as_failed(kit: Scenario) -> None:
    """You send "hi" while offline and the server refuses it. Your words stay
    on screen, now marked failed with the reason, so you can read what happened
    and try again. Nothing is silently thrown away; send still hands back that
    row, now failed."""
    hi = await kit.send("hi")
    await kit.refuse(hi, "you are offline")
    kit.expect(["'hi' failed (you are offline)"], rule=Rule.KEEP_WORDS)
    kit.expect_returned_row(hi)


async def test_a_timed_out_send_stays_visible_as_failed(kit: Scenario) -> None:
    """You send "hi" and no answer comes back in time: ten seconds later your
    client stops waiting. "hi" is marked failed with the time-out as its reason,
    and still shows the time you wrote it."""
    hi = await kit.send("hi")
    kit.clock.tick(10)
    await kit.time_out(hi)
    kit.expect([f"'hi' failed ({TIMED_OUT})"], rule=Rule.KEEP_WORDS)


async def test_the_banner_shows_why_the_send_failed(kit: Scenario) -> None:
    """While "hi" travels, the chat shows "sending…" and no error. Once the
    server refuses it, "sending…" goes away and the chat's error banner reads
    the reason."""
    hi = await kit.send("hi")
    kit.expect_flags(sending=True, error=None)
    await kit.refuse(hi, "message blocked")
    kit.expect_flags(sending=False, error="message blocked")


async def test_the_banner_shows_the_latest_failure(kit: Scenario) -> None:
    """Two sends fail, one after the other, for different reasons. The banner
    shows the most recent reason: that is the one the user needs to act on."""
    first = await kit.send("first")
    second = await kit.send("second")
    await kit.refuse(first, "you are offline")
    await kit.time_out(second)
    kit.expect_flags(sending=False, error=TIMED_OUT)
    kit.expect(["'first' failed (you are offline)", f"'second' failed ({TIMED_OUT})"])


async def test_a_later_success_clears_the_banner(kit: Scenario) -> None:
    """ "first" was refused, so the banner shows why. Then "second" goes through:
    the connection is fine again, so the banner clears — while "first" itself
    stays failed until you retry it."""
    first = await kit.send("first")
    await kit.refuse(first, "you are offline")
    second = await kit.send("second")
    await kit.ack(second)
    kit.expect_flags(sending=False, error=None)
    kit.expect(["'second' sent #1", "'first' failed (you are offline)"])


async def test_sending_stays_on_while_another_send_is_unsettled(kit: Scenario) -> None:
    """You send "a" and "b". "a" fails, but "b" is still on its way, so the chat
    keeps showing "sending…" — and shows the failure too. When "b" is
    confirmed, "sending…" goes off and the success clears the banner."""
    a = await kit.send("a")
    b = await kit.send("b")
    await kit.refuse(a, "too fast")
    kit.expect_flags(sending=True, error="too fast")
    await kit.ack(b)
    kit.expect_flags(sending=False, error=None)
    kit.expect(["'b' sent #1", "'a' failed (too fast)"])


async def test_retry_after_a_failure_goes_through(kit: Scenario) -> None:
    """ "hi" was refused. A minute later you tap retry: the same row goes back
    to pending, still showing when you wrote it (the banner still tells you what
    went wrong last time), and when the ack arrives it is sent #1 — one row all
    along, and the banner clears."""
    hi = await kit.send("hi")
    await kit.refuse(hi, "you are offline")
    kit.clock.tick(60)
    again = await kit.retry(hi)
    kit.expect(["'hi' pending"])
    kit.expect_flags(sending=True, error="you are offline")
    await kit.ack(again)
    kit.expect(["'hi' sent #1"])
    kit.expect_flags(sending=False, error=None)


async def test_a_failed_message_and_its_retry_keep_your_words_as_typed(kit: Scenario) -> None:
    """You type "  see you\nat 5 ", spaces around it and a line break inside, and it is
    refused. The failed row keeps your words exactly as you typed them, and so does the
    retry: the server gets the same words, and confirms them as sent."""
    words = "  see you\nat 5 "
    hi = await kit.send(words)
    await kit.refuse(hi, "you are offline")
    kit.expect([f"{words!r} failed (you are offline)"])
    again = await kit.retry(hi)
    kit.expect([f"{words!r} pending"])
    await kit.ack(again)
    kit.expect([f"{words!r} sent #1"])


async def test_a_retry_that_fails_again_keeps_one_failed_row(kit: Scenario) -> None:
    """ "hi" fails, you retry, and it fails again for another reason. There is
    still one "hi" on screen, failed, and it shows the newest reason."""
    hi = await kit.send("hi")
    await kit.refuse(hi, "you are offline")
    again = await kit.retry(hi)
    await kit.refuse(again, "still offline")
    kit.expect(["'hi' failed (still offline)"])
    kit.expect_flags(sending=False, error="still offline")


async def test_a_failed_message_keeps_its_place_among_others(kit: Scenario) -> None:
    """ "a" is confirmed, "b" fails, "c" is still pending. The screen shows the
    confirmed message first, then the unconfirmed ones in the order you sent
    them — the failed "b" before the pending "c"."""
    a = await kit.send("a")
    b = await kit.send("b")
    await kit.send("c")
    await kit.ack(a)
    await kit.refuse(b, "rejected")
    kit.expect(["'a' sent #1", "'b' failed (rejected)", "'c' pending"], rule=Rule.KEEP_WORDS)


async def test_a_failed_message_stays_while_others_talk(kit: Scenario) -> None:
    """Your "hi" failed. Meanwhile Bob's messages keep arriving. They appear in
    server order above your failed message, which stays at the bottom, still
    failed, still retryable."""
    kit.client()
    hi = await kit.send("hi")
    await kit.refuse(hi, "you are offline")
    await kit.echo(kit.post("anyone here?", by="bob"))
    await kit.echo(kit.post("hello?", by="bob"))
    kit.expect(
        ["bob: 'anyone here?' sent #1", "bob: 'hello?' sent #2", "'hi' failed (you are offline)"]
    )
    kit.expect_flags(sending=False, error="you are offline")


async def test_a_failure_leaves_other_pending_messages_alone(kit: Scenario) -> None:
    """ "a", "b" and "c" travel together. Only "b" is refused. "a" and "c" are
    still pending, exactly as they were: a rollback touches one message only."""
    await kit.send("a")
    b = await kit.send("b")
    await kit.send("c")
    await kit.refuse(b, "rejected")
    kit.expect(["'a' pending", "'b' failed (rejected)", "'c' pending"], rule=Rule.KEEP_WORDS)
    kit.expect_flags(sending=True, error="rejected")


async def test_a_refusal_after_the_echo_changes_nothing(kit: Scenario) -> None:
    """The server stored "hi" and its echo confirmed it. Only then does a
    refusal come back for the same send (a proxy on the way timed out and
    answered for the server). Rollback must check first: the message is
    confirmed, so it stays sent and no error is shown."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.echo(hi)
    await kit.refuse(hi, "bad gateway")
    kit.expect(["'hi' sent #1"], rule=Rule.KEEP_WORDS)
    kit.expect_flags(sending=False, error=None)
