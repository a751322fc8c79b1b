"""Edge cases: late news, retries, bad input and a frozen clock.

The corners where optimistic updates usually break: proof of delivery that arrives
after the client already gave up, a retry of something the server secretly stored,
input that must never be sent, two messages created in the very same instant, and
bookkeeping that must be cleaned up once a send is settled.
"""

from datetime import datetime, timedelta

import pytest

from chatkit import MAX_BODY_CHARS, InvalidMessage, Message
from chatkit.engine.harness import Scenario, Sending
from chatkit.engine.rules import Rule, RuleBroken
from chatkit.model import TIMED_OUT
from chatkit.sandbox.world import DEVICE_ZONE

pytestmark = pytest.mark.family("edge cases")


def expect_stored_once(kit: Scenario, sending: Sending) -> None:
    """The server holds exactly one copy of this message."""
    copies = [
        stored
        for stored in kit.server.stored.get(sending.chat_id, [])
        if stored.client_id == sending.client_id
    ]
    if len(copies) != 1:
        raise RuleBroken(
            Rule.IDEMPOTENT_RETRY,
            f"the server stored {sending.body!r} {len(copies)} times; a retry must reuse the "
            "client id so the server recognises it",
        )


def expect_nothing_in_flight(kit: Scenario) -> None:
    """Every send has settled, so nothing may be left in the chat's in_flight set."""
    left = kit.state().chat(kit.chat_id).in_flight
    if left:
        raise RuleBroken(
            Rule.BOOKKEEPING,
            f"every send has settled, but in_flight still holds {len(left)} client id(s)",
        )


async def test_a_late_echo_after_a_time_out_proves_delivery(kit: Scenario) -> None:
    """You send "hi". The server stores it, but the ack is lost and your client
    gives up: "hi" is failed. Then the echo of "hi" arrives after all — proof
    that the server has it. The row moves from failed to sent, and the banner
    clears."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.time_out(hi)
    kit.expect([f"'hi' failed ({TIMED_OUT})"])
    await kit.echo(hi)
    kit.expect(["'hi' sent #1"], rule=Rule.MONOTONIC)
    kit.expect_flags(sending=False, error=None)


async def test_an_echo_after_a_refusal_proves_delivery(kit: Scenario) -> None:
    """A proxy between you and the server answers "bad gateway" — but the
    server had already stored "hi". When its echo arrives, the failed row
    turns into the confirmed message: the server is the truth."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.refuse(hi, "bad gateway")
    kit.expect(["'hi' failed (bad gateway)"])
    await kit.echo(hi)
    kit.expect(["'hi' sent #1"], rule=Rule.SERVER_TRUTH)
    kit.expect_flags(sending=False, error=None)


async def test_retry_reuses_the_client_id_and_is_stored_once(kit: Scenario) -> None:
    """The server stored "hi", but its ack was lost and your client marked it
    failed. You retry. The retry carries the same client id, so the server
    recognises the message, stores nothing new and acks its existing copy.
    That late ack confirms your row: one "hi" on screen, one on the server."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.time_out(hi)
    again = await kit.retry(hi)
    if again.client_id != hi.client_id:
        raise RuleBroken(Rule.IDEMPOTENT_RETRY, "the retry should reuse the client id")
    await kit.ack(again)
    kit.expect(["'hi' sent #1"], rule=Rule.IDEMPOTENT_RETRY)
    expect_stored_once(kit, hi)
    kit.expect_flags(sending=False, error=None)


async def test_retry_of_a_message_the_echo_already_confirmed(kit: Scenario) -> None:
    """ "hi" timed out, so it showed as failed with a retry button. Just before
    you tap it, the late echo arrives and confirms "hi". Your tap still goes
    through: but "hi" is sent, and sent is final. The retry must leave the
    confirmed row alone — not pending again, not a second copy."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.time_out(hi)
    await kit.echo(hi)
    retry = await kit.retry(hi)
    kit.expect(["'hi' sent #1"], rule=Rule.MONOTONIC)
    expect_stored_once(kit, hi)
    kit.expect_flags(sending=False, error=None)
    kit.expect_returned_row(retry)


async def test_a_stale_retry_leaves_the_banner_of_a_real_failure(kit: Scenario) -> None:
    """ "hi" timed out, and its late echo then confirmed it. Next "ok" is refused,
    and the banner says why. Now you tap the retry button "hi" still showed a
    moment ago: "hi" is sent, so there is nothing to do. The banner still tells
    of "ok", which really failed and waits for its own retry."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.time_out(hi)
    await kit.echo(hi)
    ok = await kit.send("ok")
    await kit.refuse(ok, "slow down")
    await kit.retry(hi)
    kit.expect(["'hi' sent #1", "'ok' failed (slow down)"])
    kit.expect_flags(sending=False, error="slow down")


async def test_retry_tapped_twice_shows_one_row(kit: Scenario) -> None:
    """ "hi" was refused. You tap retry, and tap it again before anything comes
    back (the button had not gone yet). "hi" goes back to pending once: one row,
    with its one client id, whether the second tap sends it again or sees it is
    already on its way. When the server answers, "hi" is sent #1, stored once."""
    hi = await kit.send("hi")
    await kit.refuse(hi, "you are offline")
    first = await kit.retry(hi)
    second = await kit.retry(hi)
    kit.expect(["'hi' pending"], rule=Rule.EXACTLY_ONCE)
    await kit.ack(first)
    if second.request is not None:
        await kit.ack(second)
    kit.expect(["'hi' sent #1"], rule=Rule.EXACTLY_ONCE)
    expect_stored_once(kit, hi)
    kit.expect_flags(sending=False, error=None)


async def test_retry_tapped_twice_and_refused_again_shows_the_newest_reason(
    kit: Scenario,
) -> None:
    """ "hi" was refused. You tap retry twice, and the server refuses it again: "still
    offline", and, if the second tap sent it too, "server busy" after that. "hi" ends
    failed, once, with the newest reason, and so does the banner: a refusal of a message
    already shown failed is news all the same."""
    hi = await kit.send("hi")
    await kit.refuse(hi, "you are offline")
    first = await kit.retry(hi)
    second = await kit.retry(hi)
    await kit.refuse(first, "still offline")
    newest = "still offline"
    if second.request is not None:
        await kit.refuse(second, "server busy")
        newest = "server busy"
    kit.expect([f"'hi' failed ({newest})"], rule=Rule.KEEP_WORDS)
    kit.expect_flags(sending=False, error=newest)


async def test_retry_tapped_twice_refused_then_stored_ends_sent(kit: Scenario) -> None:
    """ "hi" was refused. You tap retry twice; the server refuses the first retry ("still
    offline") and stores the second. Whatever came back before, a message the server
    stored is sent: "hi" ends sent #1, once, and the banner goes. (If the second tap did
    not send "hi" again, nothing was stored: it ends failed with the newest reason.)"""
    hi = await kit.send("hi")
    await kit.refuse(hi, "you are offline")
    first = await kit.retry(hi)
    second = await kit.retry(hi)
    await kit.refuse(first, "still offline")
    if second.request is None:
        kit.expect(["'hi' failed (still offline)"], rule=Rule.KEEP_WORDS)
        kit.expect_flags(sending=False, error="still offline")
        return
    await kit.ack(second)
    kit.expect(["'hi' sent #1"], rule=Rule.SERVER_TRUTH)
    expect_stored_once(kit, hi)
    kit.expect_flags(sending=False, error=None)


async def test_the_echo_arrives_while_the_retry_travels(kit: Scenario) -> None:
    """ "hi" timed out and you retried it. While the retry is on its way, the
    echo of the original send arrives: "hi" is confirmed. Then the retry's ack
    comes back with the same stored message. Still one row, stored once."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.time_out(hi)
    again = await kit.retry(hi)
    kit.expect(["'hi' pending"])
    await kit.echo(hi)
    kit.expect(["'hi' sent #1"])
    await kit.ack(again)
    kit.expect(["'hi' sent #1"])
    expect_stored_once(kit, hi)


async def test_the_retry_times_out_after_the_echo_confirmed_it(kit: Scenario) -> None:
    """You retried "hi"; the echo of the original confirms it; then the retry
    itself times out. The time-out is old news — the message is delivered — so
    "hi" stays sent and no error is shown."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.time_out(hi)
    again = await kit.retry(hi)
    await kit.echo(hi)
    await kit.time_out(again)
    kit.expect(["'hi' sent #1"], rule=Rule.MONOTONIC)
    kit.expect_flags(sending=False, error=None)
    expect_nothing_in_flight(kit)


async def test_a_message_retried_five_times_keeps_its_id(kit: Scenario) -> None:
    """On a train, "on my way" fails again and again: refused, then stored but
    its ack lost, refused, lost again, refused — and you tap retry each time.
    Every retry carries the very same client id (the fifth as much as the
    first), so when the last one is acked the server still holds one copy and
    your screen shows one message."""
    hi = await kit.send("on my way")
    await kit.refuse(hi, "no signal")
    attempt = await kit.retry(hi)
    kit.store(attempt)
    await kit.time_out(attempt)
    for trouble in ("refuse", "time out", "refuse"):
        attempt = await kit.retry(attempt)
        if trouble == "refuse":
            await kit.refuse(attempt, "no signal")
        else:
            await kit.time_out(attempt)
    attempt = await kit.retry(attempt)
    await kit.ack(attempt)
    kit.expect(["'on my way' sent #1"], rule=Rule.IDEMPOTENT_RETRY)
    expect_stored_once(kit, hi)
    kit.expect_flags(sending=False, error=None)


async def test_an_empty_message_is_refused(kit: Scenario) -> None:
    """You press enter in an empty box. There is nothing to send: `send` raises
    InvalidMessage with a clear reason, and nothing appears on screen."""
    error = await kit.send_invalid("")
    if not isinstance(error, InvalidMessage) or not str(error).strip():
        raise RuleBroken(Rule.BAD_INPUT, "the refusal should say why")
    kit.expect([], rule=Rule.BAD_INPUT)


async def test_a_whitespace_only_message_is_refused(kit: Scenario) -> None:
    """You type three spaces and a newline and press enter; then a tab, a line
    break as Windows writes it, two no-break spaces, a wide space from a
    Japanese keyboard. Every one is empty too: refused with InvalidMessage,
    nothing shown, nothing sent."""
    for blank in ("   \n", "\t", "\r\n", "\u00a0\u00a0", "\u3000"):
        await kit.send_invalid(blank)
    kit.expect([], rule=Rule.BAD_INPUT)
    if kit.server.requests:
        raise RuleBroken(Rule.BAD_INPUT, "a blank message should never reach the server")


async def test_a_message_over_the_size_limit_is_refused(kit: Scenario) -> None:
    """You paste a whole log file — one character more than the limit. It is
    refused with InvalidMessage before anything is shown or sent."""
    await kit.send_invalid("x" * (MAX_BODY_CHARS + 1))
    kit.expect([], rule=Rule.BAD_INPUT)
    if kit.server.requests:
        raise RuleBroken(Rule.BAD_INPUT, "a too-long message should never reach the server")


async def test_a_message_exactly_at_the_limit_is_sent(kit: Scenario) -> None:
    """A message of exactly the maximum length is allowed: the limit is
    inclusive. It is sent and confirmed like any other."""
    body = "y" * MAX_BODY_CHARS
    long = await kit.send(body)
    await kit.ack(long)
    kit.expect([f"{body!r} sent #1"], rule=Rule.BAD_INPUT)


async def test_the_limit_counts_characters_not_bytes(kit: Scenario) -> None:
    """You write a message of exactly the maximum number of characters, in
    Cyrillic with an emoji at the end: many more bytes than characters. The
    limit is on characters, so it is sent and confirmed like any other."""
    body = "ж" * (MAX_BODY_CHARS - 1) + "🎉"
    long = await kit.send(body)
    await kit.ack(long)
    kit.expect([f"{body!r} sent #1"], rule=Rule.BAD_INPUT)


async def test_spaces_count_towards_the_limit(kit: Scenario) -> None:
    """You paste a message of exactly the maximum length, with a space before
    it and a line break after it. The words are sent as typed, spaces
    included, so it is two characters too long: refused with InvalidMessage
    before anything is shown or sent."""
    await kit.send_invalid(" " + "x" * MAX_BODY_CHARS + "\n")
    kit.expect([], rule=Rule.BAD_INPUT)
    if kit.server.requests:
        raise RuleBroken(Rule.BAD_INPUT, "a too-long message should never reach the server")


async def test_everyones_words_are_shown_as_the_server_stored_them(kit: Scenario) -> None:
    """Bob pastes two lines of code from his Windows laptop, the second indented
    with a tab: if a < b && c > d: / print("it's done") 🎉. You answer <3 &
    "thanks" 🙏 café, its é typed as e and an accent. The server stores every
    character as it was sent, and every screen shows it that way: nothing
    escaped, nothing added, dropped or tidied (not the Windows line break, not
    the tab, not the accent), on your phone and on Bob's."""
    code = """if a < b && c > d:\r\n\tprint("it's done") 🎉"""
    thanks = """<3 & "thanks" 🙏 cafe\u0301"""
    his = await kit.send(code, by="bob")
    kit.store(his)
    await kit.echo(his)
    await kit.ack(his)
    mine = await kit.send(thanks)
    kit.store(mine)
    await kit.echo(mine)
    await kit.ack(mine)
    kit.expect([f"bob: {code!r} sent #1", f"{thanks!r} sent #2"], rule=Rule.SERVER_TRUTH)
    kit.expect([f"{code!r} sent #1", f"you: {thanks!r} sent #2"], user="bob")


async def test_the_words_are_shown_and_sent_exactly_as_typed(kit: Scenario) -> None:
    """You type "  see you at 5 :)  " with spaces around it, and "ok\nbye" on two
    lines. Then you paste a shopping list from a Windows app: "milk\r\n\teggs\n",
    with a Windows line break, a tab and a line break at the end. Each is yours,
    exactly as typed: shown, sent and confirmed with every space, tab and line
    break kept."""
    spaced = await kit.send("  see you at 5 :)  ")
    two_lines = await kit.send("ok\nbye")
    pasted = await kit.send("milk\r\n\teggs\n")
    await kit.ack(spaced)
    await kit.ack(two_lines)
    await kit.ack(pasted)
    kit.expect(
        ["'  see you at 5 :)  ' sent #1", "'ok\\nbye' sent #2", "'milk\\r\\n\\teggs\\n' sent #3"],
        rule=Rule.KEEP_WORDS,
    )


async def test_bad_input_leaves_the_chat_as_it_was(kit: Scenario) -> None:
    """Your chat has a confirmed "a", a failed "b" and a pending "c". Then you
    try to send an empty message. The refusal changes nothing: same rows, same
    "sending…", same error banner."""
    a = await kit.send("a")
    b = await kit.send("b")
    await kit.send("c")
    await kit.ack(a)
    await kit.refuse(b, "rejected")
    await kit.send_invalid("")
    await kit.send_invalid(" " * 5)
    kit.expect(["'a' sent #1", "'b' failed (rejected)", "'c' pending"], rule=Rule.BAD_INPUT)
    kit.expect_flags(sending=True, error="rejected")


async def test_many_sends_in_one_frozen_instant_get_unique_ids(kit: Scenario) -> None:
    """The clock is frozen (as in a test, or on a device whose clock ticks
    coarsely) and you send twenty messages in the very same instant; so does
    Bob, once, on his phone. Each still gets a client id of its own, with room
    for every device's: an id made from the time would repeat, and what every
    copy of the flow puts in its ids (the time, a name written in the code)
    tells no device from another. Each row's created_at is that frozen instant,
    read from the clock. A minute later the clock moves on, and the next message
    is created at the new time."""
    frozen = kit.clock.now  # the scenario's clock moves only when the scenario moves it
    sends = [await kit.send(f"tap {n}") for n in range(1, 21)]
    sends.append(await kit.send("same here", by="bob"))
    ids = {sending.client_id for sending in sends}
    if len(ids) != len(sends):
        raise RuleBroken(Rule.UNIQUE_IDS, f"{len(sends)} messages share {len(ids)} client ids")
    kit.clock.tick(60)
    await kit.send("a minute later")
    kit.expect([f"'tap {n}' pending" for n in range(1, 21)] + ["'a minute later' pending"])
    *taps, later = kit.state().chat(kit.chat_id).rows
    for row in taps:
        expect_created_at(row, frozen)
    expect_created_at(later, kit.clock.now)


def expect_created_at(row: Message, now: datetime) -> None:
    """The row was created when the clock read ``now`` (in any time zone)."""
    if row.created_at != now:
        raise RuleBroken(
            Rule.INSTANT,
            f"{row.body!r} was created at {row.created_at}, but the clock read {now}"
            + _why_off(row.created_at, now),
        )


def _why_off(created: object, now: datetime) -> str:
    """What a created_at that is off by a second or less, or by the phone's time zone, is."""
    if not isinstance(created, datetime) or created.tzinfo is None:
        return ""
    off = abs(created - now)
    if off < timedelta(seconds=1):
        return ": cut or rounded to the second, it is another time"
    zone = DEVICE_ZONE.utcoffset(None)
    if off == zone:
        return (
            f"; that is the phones' time zone ({DEVICE_ZONE.tzname(None)}, UTC+05:30) apart: a "
            "local time labelled as UTC, or the other way round. datetime.now(UTC) reads the "
            "clock in UTC"
        )
    return ""


async def test_frozen_clock_sends_are_confirmed_once_each(kit: Scenario) -> None:
    """With the clock frozen you send "a", "b" and "c" in the same instant,
    and the server confirms them in reverse. Three different messages, three
    rows, each confirmed by its own ack."""
    a = await kit.send("a")
    b = await kit.send("b")
    c = await kit.send("c")
    for sending in (c, b, a):
        await kit.ack(sending)
        await kit.echo(sending)
    kit.expect(["'c' sent #1", "'b' sent #2", "'a' sent #3"], rule=Rule.UNIQUE_IDS)


async def test_nothing_stays_in_flight_once_everything_settles(kit: Scenario) -> None:
    """Five sends, five fates: acked, echoed before its ack, refused, timed out
    and then confirmed by a late echo, and failed then retried successfully.
    Once everything has settled, the bookkeeping of unsettled sends is empty —
    a set that only grows is a memory leak."""
    acked = await kit.send("acked")
    echoed = await kit.send("echoed first")
    refused = await kit.send("refused")
    late = await kit.send("late")
    retried = await kit.send("retried")
    await kit.ack(acked)
    kit.store(echoed)
    await kit.echo(echoed)
    await kit.ack(echoed)
    await kit.refuse(refused, "rejected")
    kit.store(late)
    await kit.time_out(late)
    await kit.echo(late)
    await kit.refuse(retried, "you are offline")
    again = await kit.retry(retried)
    await kit.ack(again)
    expect_nothing_in_flight(kit)
    kit.expect(
        [
            "'acked' sent #1",
            "'echoed first' sent #2",
            "'late' sent #3",
            "'retried' sent #4",
            "'refused' failed (rejected)",
        ]
    )
    kit.expect_flags(sending=False, error=None)


async def test_a_rollback_after_confirmation_leaves_no_trace(kit: Scenario) -> None:
    """ "hi" is confirmed by its echo, then its send times out anyway. The
    rollback does nothing — the message got through — and it must not leave
    "hi" behind in the bookkeeping of unsettled sends either."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.echo(hi)
    await kit.time_out(hi)
    expect_nothing_in_flight(kit)
    kit.expect(["'hi' sent #1"], rule=Rule.BOOKKEEPING)


async def test_a_late_ack_after_a_time_out_proves_delivery(kit: Scenario) -> None:
    """Your client stopped waiting for the ack of "hi" and marked it failed. Then
    the ack turns up after all — the server had stored it. A late ack is proof
    of delivery: the failed row becomes sent #1, and the banner clears."""
    hi = await kit.send("hi")
    await kit.time_out(hi)
    kit.expect(["'hi' failed"], rule=Rule.KEEP_WORDS)
    await kit.late_ack(hi)
    kit.expect(["'hi' sent #1"], rule=Rule.MONOTONIC)
    kit.expect_flags(sending=False, error=None)


async def test_a_late_ack_after_the_echo_changes_nothing(kit: Scenario) -> None:
    """The echo of "hi" confirmed it, then your client gave up on the ack, and
    then the ack arrived late. The message was confirmed at the echo; neither
    the time-out nor the late ack may change it."""
    hi = await kit.send("hi")
    kit.store(hi)
    await kit.echo(hi)
    await kit.time_out(hi)
    await kit.late_ack(hi)
    kit.expect(["'hi' sent #1"], rule=Rule.MONOTONIC)
