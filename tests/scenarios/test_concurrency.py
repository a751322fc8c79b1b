"""Concurrency: many sends in flight at once, answered in any order.

People type faster than networks answer. Several of your messages can be on their
way at the same time, the server can answer them out of order, some may fail while
others succeed, and other people keep talking in between. Each message must still
end up once, in the right place, with the right status.
"""

import pytest

from chatkit.engine.harness import Scenario
from chatkit.engine.rules import Rule, RuleBroken, describe_timeline

pytestmark = pytest.mark.family("concurrency")


def expect_chat(
    kit: Scenario, chat_id: str, expected: list[str], *, sending: bool, error: str | None
) -> None:
    """Like ``kit.expect`` and ``kit.expect_flags``, for a chat other than the main one."""
    state = kit.state()
    actual = describe_timeline(state, chat_id)
    if actual != expected:
        raise RuleBroken(
            Rule.EXACTLY_ONCE,
            f"the timeline of chat {chat_id!r} is not what it should be",
            expected=expected,
            actual=actual,
        )
    chat = state.chat(chat_id)
    if (chat.sending, chat.error) != (sending, error):
        raise RuleBroken(
            Rule.LOADING_AND_ERRORS,
            f"the indicator and banner of chat {chat_id!r} are not what they should be",
            expected=[f"sending={sending}", f"error={error!r}"],
            actual=[f"sending={chat.sending}", f"error={chat.error!r}"],
        )


async def test_three_sends_in_flight_at_once(kit: Scenario) -> None:
    """You fire off "a", "b" and "c" before any answer comes back. All three
    are on screen as pending right away, in the order you typed them. Then the
    acks arrive one by one and each row is confirmed in place."""
    a = await kit.send("a")
    b = await kit.send("b")
    c = await kit.send("c")
    kit.expect(["'a' pending", "'b' pending", "'c' pending"], rule=Rule.INSTANT)
    await kit.ack(a)
    kit.expect(["'a' sent #1", "'b' pending", "'c' pending"])
    await kit.ack(b)
    await kit.ack(c)
    kit.expect(["'a' sent #1", "'b' sent #2", "'c' sent #3"])
    kit.expect_flags(sending=False, error=None)


async def test_acks_come_back_in_reverse_order(kit: Scenario) -> None:
    """The server stores "a", "b", "c" in that order, but the acks travel back
    in reverse: "c" first, "a" last. Each ack confirms its own row — matched by
    client id, not by position — and the screen keeps the server's order."""
    a = await kit.send("a")
    b = await kit.send("b")
    c = await kit.send("c")
    for sending in (a, b, c):
        kit.store(sending)
    await kit.ack(c)
    kit.expect(["'c' sent #3", "'a' pending", "'b' pending"], rule=Rule.IDENTITY)
    await kit.ack(b)
    await kit.ack(a)
    kit.expect(["'a' sent #1", "'b' sent #2", "'c' sent #3"], rule=Rule.SERVER_TRUTH)


async def test_the_server_stores_them_in_another_order(kit: Scenario) -> None:
    """You send "a" then "b", but "b" reaches the server first and gets #1.
    The server is the truth: once both are confirmed, "b" comes first."""
    a = await kit.send("a")
    b = await kit.send("b")
    await kit.ack(b)
    await kit.ack(a)
    kit.expect(["'b' sent #1", "'a' sent #2"], rule=Rule.SERVER_TRUTH)


@pytest.mark.budget(5)
async def test_fifty_messages_in_flight(kit: Scenario) -> None:
    """You paste fifty lines, one message each, before the first answer comes
    back. All fifty are pending with fifty different client ids. The server
    stores them in order and acks them back to front, with the echoes mixed in.
    In the end there are exactly fifty confirmed rows and nothing is sending."""
    sends = [await kit.send(f"line {n}") for n in range(1, 51)]
    for sending in sends:
        kit.store(sending)
    for sending in reversed(sends):
        await kit.ack(sending)
        if int(sending.body.split()[1]) % 3 == 0:
            await kit.echo(sending)
    kit.expect([f"'line {n}' sent #{n}" for n in range(1, 51)])
    kit.expect_flags(sending=False, error=None)
    if kit.state().chat(kit.chat_id).in_flight:
        raise RuleBroken(Rule.BOOKKEEPING, "in_flight should be empty once every send settled")


async def test_some_succeed_and_some_fail(kit: Scenario) -> None:
    """Four messages travel together. "a" is confirmed, "b" is refused, "c"
    times out, and "d" is confirmed last. The successes take their server
    numbers, the failures stay at the bottom with their reasons, and since the
    last thing to happen was a success, the banner is clear."""
    a = await kit.send("a")
    b = await kit.send("b")
    c = await kit.send("c")
    d = await kit.send("d")
    await kit.ack(a)
    await kit.refuse(b, "rejected")
    await kit.time_out(c)
    kit.expect_flags(sending=True, error="no answer from the server in time")
    await kit.ack(d)
    kit.expect(["'a' sent #1", "'d' sent #2", "'b' failed (rejected)", "'c' failed"])
    kit.expect_flags(sending=False, error=None)


async def test_a_failure_after_the_successes_keeps_the_banner(kit: Scenario) -> None:
    """The same four messages, but this time the refusal of "d" is the last
    answer to arrive. The newest news is bad news, so the banner shows it."""
    a = await kit.send("a")
    b = await kit.send("b")
    c = await kit.send("c")
    d = await kit.send("d")
    await kit.ack(c)
    await kit.ack(a)
    await kit.ack(b)
    await kit.refuse(d, "slow down")
    kit.expect(["'c' sent #1", "'a' sent #2", "'b' sent #3", "'d' failed (slow down)"])
    kit.expect_flags(sending=False, error="slow down")


def expect_report_failed(kit: Scenario) -> None:
    """The "work" chat after "report is ready" was refused there: the row failed, the
    chat's banner telling why, and nothing on its way."""
    expect_chat(
        kit,
        "work",
        ["'report is ready' failed (no access to this chat)"],
        sending=False,
        error="no access to this chat",
    )


async def test_two_chats_at_once(kit: Scenario) -> None:
    """You have two chats open, "general" and "work", and send into both. The
    send in "work" fails; the one in "general" succeeds. Each chat keeps its
    own rows, its own "sending…" indicator and its own banner: a failure in
    one does not show up in the other."""
    hi = await kit.send("hi")
    report = await kit.send("report is ready", chat="work")
    expect_chat(kit, "work", ["'report is ready' pending"], sending=True, error=None)
    kit.expect(["'hi' pending"])
    await kit.refuse(report, "no access to this chat")
    expect_report_failed(kit)
    kit.expect_flags(sending=True, error=None)
    await kit.ack(hi)
    kit.expect(["'hi' sent #1"])
    kit.expect_flags(sending=False, error=None)
    expect_report_failed(kit)


async def test_a_failure_in_the_chat_you_left(kit: Scenario) -> None:
    """You send "report is ready" in "work", then go back to "general" and send
    "hi". The send in "work" fails while you write in "general": the failure
    belongs to "work". Its row fails there, its "sending…" goes off there and
    its banner shows there; "general" still shows "hi" on its way, no banner."""
    report = await kit.send("report is ready", chat="work")
    hi = await kit.send("hi")
    await kit.refuse(report, "no access to this chat")
    expect_report_failed(kit)
    kit.expect(["'hi' pending"])
    kit.expect_flags(sending=True, error=None)
    await kit.ack(hi)
    kit.expect(["'hi' sent #1"])
    kit.expect_flags(sending=False, error=None)


async def test_bob_writes_in_another_chat_after_you_send_in_this_one(kit: Scenario) -> None:
    """You send "hi" in "general", and it is confirmed. Then Bob writes
    "lunch?" in "random", another chat you are in. His message belongs to
    "random": it shows there, not in the chat you just sent in. Each chat
    numbers its own messages, so "lunch?" is #1 of "random" while "hi" is #1
    of "general"."""
    kit.client("you", chats=("random",))
    hi = await kit.send("hi")
    await kit.ack(hi)
    await kit.echo(kit.post("lunch?", by="bob", chat="random"))
    kit.expect(["'hi' sent #1"], rule=Rule.OTHERS)
    kit.expect(["bob: 'lunch?' sent #1"], chat="random", rule=Rule.OTHERS)


async def test_others_talk_while_your_messages_travel(kit: Scenario) -> None:
    """You send "a" and "b". While they travel, Bob's "x" is stored first, then
    yours, then Bob's "y" lands between them. Echoes and acks arrive in a
    jumble; the screen ends up in the server's order, each message once."""
    kit.client()
    a = await kit.send("a")
    b = await kit.send("b")
    x = kit.post("x", by="bob")
    kit.store(a)
    y = kit.post("y", by="bob")
    kit.store(b)
    await kit.echo(y)
    await kit.ack(b)
    kit.expect(["bob: 'y' sent #3", "'b' sent #4", "'a' pending"])
    await kit.echo(b)
    await kit.echo(x)
    await kit.echo(a)
    await kit.ack(a)
    kit.expect(["bob: 'x' sent #1", "'a' sent #2", "bob: 'y' sent #3", "'b' sent #4"])


async def test_you_and_bob_send_at_the_same_time(kit: Scenario) -> None:
    """You and Bob press enter at the same moment. Each of you sees your own
    message at once, as pending. The server stores Bob's first. After the acks
    and echoes, both screens show the same two messages in the same order."""
    mine = await kit.send("see you at 5", by="you")
    his = await kit.send("see you at 6", by="bob")
    kit.expect(["'see you at 5' pending"])
    kit.expect(["'see you at 6' pending"], user="bob")
    kit.store(his)
    kit.store(mine)
    await kit.echo(mine)
    await kit.echo(his)
    await kit.ack(mine)
    await kit.ack(his)
    kit.expect(["bob: 'see you at 6' sent #1", "'see you at 5' sent #2"])
    kit.expect(["'see you at 6' sent #1", "you: 'see you at 5' sent #2"], user="bob")


async def test_three_phones_talk_in_one_chat(kit: Scenario) -> None:
    """You, Bob and Carol each send two messages from your own phones, all of
    them in flight at once. Every phone picks its own client ids — so no two
    of the six messages may share one — and after the acks and echoes each
    phone shows the same six messages, once each, in the server's order."""
    people = ("you", "bob", "carol")
    sends = [await kit.send(f"{who} {n}", by=who) for n in (1, 2) for who in people]
    for sending in sends:
        kit.store(sending)
    for sending in sends:
        await kit.echo(sending)
        await kit.ack(sending)
    for who in people:
        kit.expect(
            [
                f"{'' if s.user == who else s.user + ': '}'{s.body}' sent #{number}"
                for number, s in enumerate(sends, start=1)
            ],
            user=who,
        )


BURST = 2_000
"""Messages in a burst: enough that ids with a few digits of chance collide for sure."""
BURST_BUDGET = 10.0
"""A burst is 4,000 commands' worth of work for a phone: ample room on a loaded machine
(a flow that waits forever is stopped by its phone long before)."""


@pytest.mark.budget(BURST_BUDGET)
async def test_a_burst_of_two_thousand_sends(kit: Scenario) -> None:
    """You paste a long list and your client sends it as 2,000 messages, all in
    flight at once, and the server acks them in reverse. Each needs a client id
    of its own: an id with a few random digits, or made from the clock, repeats
    long before 2,000. Every message ends up once, confirmed, in server order."""
    sends = await kit.send_many([f"line {n}" for n in range(1, BURST + 1)])
    kit.store_many(sends)
    await kit.ack_many(list(reversed(sends)))
    kit.expect([f"'line {n}' sent #{n}" for n in range(1, BURST + 1)])
    kit.expect_flags(sending=False, error=None)


@pytest.mark.budget(BURST_BUDGET)
async def test_a_burst_across_twenty_chats(kit: Scenario) -> None:
    """You forward an announcement to twenty chats, a hundred lines each, all
    at once: 2,000 messages in flight across chats. Client ids must be unique
    across every chat, not just within one; each chat ends with its own hundred
    messages, confirmed once each."""
    chats = tuple(f"team-{n}" for n in range(1, 21))
    sends = await kit.send_many([f"note {n}" for n in range(1, BURST + 1)], chats=chats)
    await kit.ack_many(sends)
    for number, chat_id in enumerate(chats):
        expected = [
            f"'note {n}' sent #{seq}"
            for seq, n in enumerate(range(number + 1, BURST + 1, len(chats)), start=1)
        ]
        expect_chat(kit, chat_id, expected, sending=False, error=None)
