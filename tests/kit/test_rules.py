"""The rule watch on hand-made screens: what it accepts and what it names.

The scenarios exercise every rule through a real flow; these tests pin the watch's own
reading of a screen where a flow that breaks the rule is hard to come by, or where its
story once said something false.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chatkit.engine.rules import (
    ID_BITS,
    Rule,
    RuleBroken,
    RuleWatch,
    StateShapeError,
    check_id_room,
    check_state_shape,
    id_room_bits,
)
from chatkit.model import Message, ServerMessage, Status
from chatkit.state import ChatState

WHEN = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
IST = timezone(timedelta(hours=5, minutes=30))


def sent_row(state: ChatState, watch: RuleWatch, client_id: str, body: str) -> Message:
    """A pending row of yours, its send reaching the server."""
    row = Message(client_id, "general", "you", body, WHEN)
    state.add(row)
    state.chat("general").in_flight.add(client_id)
    watch.sent(client_id)
    watch.check()
    return row


def fail(state: ChatState, row: Message, reason: str) -> None:
    row.status, row.error = Status.FAILED, reason
    chat = state.chat("general")
    chat.in_flight.discard(row.client_id)
    chat.error = reason


def test_the_banner_follows_a_row_that_fails_again_for_another_reason() -> None:
    """A row already failed that fails again with a new reason is the latest failure: the
    banner must show the new reason (it once expected the old one, since the row's status
    had not changed, and a flow's story said the banner should read a stale reason)."""
    state = ChatState("you")
    watch = RuleWatch(state)
    first = sent_row(state, watch, "c1", "first")
    second = sent_row(state, watch, "c2", "second")
    fail(state, second, "you are offline")
    watch.check()
    fail(state, second, "no answer")
    watch.check()  # the banner reads the latest failure: no rule broken
    fail(state, first, "blocked")
    watch.check()
    state.chat("general").error = "no answer"
    with pytest.raises(RuleBroken, match="should read 'blocked'") as broken:
        watch.check()
    assert broken.value.rule is Rule.LOADING_AND_ERRORS


def test_a_send_that_failed_must_not_stay_pending() -> None:
    """Once a send has finished with a failure, its row shows failed, not pending (a flow
    that rolled back another row instead once had its story blame the banner)."""
    state = ChatState("you")
    watch = RuleWatch(state)
    first = sent_row(state, watch, "c1", "first")
    second = sent_row(state, watch, "c2", "second")
    fail(state, second, "you are offline")
    state.chat("general").in_flight.add("c1")
    watch.failed(first.client_id, None)
    with pytest.raises(RuleBroken, match="'first' is still shown as pending") as broken:
        watch.check()
    assert broken.value.rule is Rule.KEEP_WORDS
    watch.resent(first.client_id)  # a retry: pending again, on purpose
    watch.check()


@pytest.mark.parametrize(
    ("settle", "told"),
    [
        ("confirmed", "'first' disappeared from the screen, though it showed sent"),
        ("pending", "'first' disappeared from the screen while it was still on its way"),
        ("failed", "'first' disappeared from the screen; a failed send must stay"),
    ],
)
def test_a_message_that_vanished_is_named_as_it_last_showed(settle: str, told: str) -> None:
    """The story names the message that left the screen and how it last showed (it once
    always spoke of a failed send, of a confirmed row that a reload lost)."""
    state = ChatState("you")
    watch = RuleWatch(state)
    first = sent_row(state, watch, "c1", "first")
    if settle == "confirmed":
        stored = ServerMessage(1, "general", 1, "c1", "you", "first", WHEN)
        watch.told(stored)
        first.confirm(stored)
        state.chat("general").in_flight.discard("c1")
    elif settle == "failed":
        fail(state, first, "you are offline")
    watch.check()
    state.chat("general").rows.remove(first)
    del state.messages["c1"]
    with pytest.raises(RuleBroken, match=told) as broken:
        watch.check()
    assert broken.value.rule is Rule.KEEP_WORDS


def test_a_new_row_says_it_was_created_when_it_showed() -> None:
    """Rule 1: a row's created_at is the clock's time when it first shows, in any zone
    (a flow that stamped every row from the wrong clock once lost a single point)."""
    state = ChatState("you")
    watch = RuleWatch(state)
    state.add(Message("c1", "general", "you", "on time", WHEN.astimezone(IST)))
    watch.check(now=WHEN)
    state.add(Message("c2", "general", "you", "hours off", WHEN.replace(tzinfo=IST)))
    with pytest.raises(RuleBroken, match=r"'hours off' was created at .* clock read") as broken:
        watch.check(now=WHEN)
    assert broken.value.rule is Rule.INSTANT


def test_a_row_sits_in_the_chat_it_names() -> None:
    state = ChatState("you")
    watch = RuleWatch(state)
    lunch = ServerMessage(1, "random", 1, "bob-1", "bob", "lunch?", WHEN)
    watch.told(lunch)
    state.chat("random")
    state.chat("general").rows.append(Message.from_server(lunch))
    state.messages["bob-1"] = state.chat("general").rows[-1]
    with pytest.raises(RuleBroken, match="belongs to chat 'random'") as broken:
        watch.check()
    assert broken.value.rule is Rule.OTHERS


def test_a_sent_row_shows_the_servers_words() -> None:
    state = ChatState("you")
    watch = RuleWatch(state)
    code = ServerMessage(1, "general", 1, "bob-1", "bob", "a < b", WHEN)
    watch.told(code)
    row = Message.from_server(code)
    row.body = "a &lt; b"
    state.add(row)
    with pytest.raises(RuleBroken, match="the server stored 'a < b'") as broken:
        watch.check()
    assert broken.value.rule is Rule.SERVER_TRUTH


def test_a_pending_row_tells_no_failure_and_says_its_time_zone() -> None:
    state = ChatState("you")
    watch = RuleWatch(state)
    row = sent_row(state, watch, "c1", "hi")
    row.error = "not delivered"
    with pytest.raises(RuleBroken, match="still shows the failure reason") as broken:
        watch.check()
    assert broken.value.rule is Rule.LOADING_AND_ERRORS
    row.error = None
    row.created_at = WHEN.replace(tzinfo=None)
    with pytest.raises(RuleBroken, match="no time zone") as broken:
        watch.check()
    assert broken.value.rule is Rule.INSTANT


def test_a_failed_row_tells_the_reason_its_send_failed_for() -> None:
    """A row that fails tells why its send failed: a flow that put a reason of its own
    ("not delivered") once had its story name rule 3, the timeline's rule."""
    state = ChatState("you")
    watch = RuleWatch(state)
    hi = sent_row(state, watch, "c1", "hi")
    fail(state, hi, "not delivered")
    watch.failed(hi.client_id, "message blocked")
    with pytest.raises(RuleBroken, match="failed because 'message blocked'") as broken:
        watch.check()
    assert broken.value.rule is Rule.KEEP_WORDS
    watch.failed(hi.client_id, None)  # a failover client's own reason: any will do
    watch.check()


def test_an_unconfirmed_row_keeps_the_words_typed() -> None:
    """Failed or on its way again, a row shows the words as typed until the server's copy
    confirms them: a rollback that tidied them up once went unseen."""
    state = ChatState("you")
    watch = RuleWatch(state)
    hi = sent_row(state, watch, "c1", " hi ")
    fail(state, hi, "you are offline")
    watch.failed(hi.client_id, "you are offline")
    watch.check()
    hi.body = "hi"
    with pytest.raises(RuleBroken, match="you typed ' hi ', but the row shows 'hi'") as broken:
        watch.check()
    assert broken.value.rule is Rule.KEEP_WORDS


def bits(count: int, seed: int) -> int:
    """``count`` random bits, the same on every run."""
    return random.Random(seed).getrandbits(count)


DEVICE = "9f86d081884c7d659a2feaa0c55ad015"
"""A device's own random id, as a flow might draw once per phone."""


@pytest.mark.parametrize(
    "ids",
    [
        [f"{n:032x}" for n in range(10**30, 10**30 + 8)],  # uuid4().hex-like, 128 bits
        [f"{n:08x}-{n % 9999:04x}-1f0c-8a3b-0242ac120002" for n in range(10**9, 10**9 + 8)],
        [str(bits(64, n)) for n in range(8)],  # 64 random bits, in decimal
        [f"{DEVICE}-{n}" for n in range(1, 9)],  # a device's random id and a counter
        [f"UhVHh82hRgHz.{n}" for n in range(1, 9)],  # … 72 random bits of it, url-safe
        [f"you-{n:032x}" for n in range(10**30, 10**30 + 8)],  # a name, then a full id
    ],
    ids=["hex", "uuid1", "decimal", "device_and_counter", "short_device_and_counter", "named"],
)
def test_ids_with_room_for_every_device_pass(ids: list[str]) -> None:
    assert id_room_bits(ids) >= ID_BITS
    check_id_room(ids)


@pytest.mark.parametrize(
    "ids",
    [
        [f"{bits(32, n):08x}" for n in range(8)],  # uuid4().hex[:8]
        [f"you-{bits(32, n):08x}" for n in range(8)],  # a name, then 8 hex digits
        [f"general-you-{bits(32, n):08x}" for n in range(8)],  # … a longer name
        [f"{DEVICE[:8]}-{n}" for n in range(1, 9)],  # a short device id and a counter
        [str(1000 + 7 * n) for n in range(8)],  # four random digits
        [f"{bits(32, n):08x}-general" for n in range(8)],  # 8 hex digits, then the chat
        [f"{bits(32, n):08x}@you" for n in range(8)],  # … then the user
        [f"a{bits(32, n):08x}-general-{n}" for n in range(8)],  # a tag on either side
    ],
    ids=[
        "8_hex",
        "named_8_hex",
        "long_named_8_hex",
        "short_device",
        "4_digits",
        "8_hex_then_chat",
        "8_hex_then_user",
        "tags_around",
    ],
)
def test_ids_with_too_little_room_are_named(ids: list[str]) -> None:
    """Ids that never meet on one phone, but would among millions of devices."""
    with pytest.raises(RuleBroken) as broken:
        check_id_room(ids)
    assert broken.value.rule is Rule.UNIQUE_IDS
    assert repr(ids[0]) in str(broken.value) and "2^60" in str(broken.value)


FROZEN = "1765000000123456789"
"""time.time_ns() on a frozen clock: the same on every phone."""


@pytest.mark.parametrize(
    ("ids", "bobs"),
    [
        ([f"{DEVICE}-{bits(32, n):08x}" for n in range(8)], f"{DEVICE}-{bits(32, 99):08x}"),
        ([f"{FROZEN}-{bits(28, n)}" for n in range(8)], f"{FROZEN}-{bits(28, 99)}"),
        ([f"{bits(28, n):07x}.{DEVICE}" for n in range(8)], f"{bits(28, 99):07x}.{DEVICE}"),
    ],
    ids=["constant_then_8_hex", "frozen_time_then_28_bits", "28_bits_then_constant"],
)
def test_what_another_phones_ids_share_is_no_devices_own(ids: list[str], bobs: str) -> None:
    """A part every phone's ids have (a constant written in the flow, the time on a frozen
    clock) looks like a device's own id on one phone; beside another phone's, it is not."""
    assert id_room_bits(ids) >= ID_BITS, "alone, the shared part could be the device's"
    with pytest.raises(RuleBroken) as broken:
        check_id_room(ids, [bobs])
    assert broken.value.rule is Rule.UNIQUE_IDS


def frozen_uuid1(node: int, seed: int) -> list[str]:
    """`uuid.uuid1` on a frozen clock, as a phone makes it: each id a tick after the last,
    a random clock sequence each, and the device's own 48-bit node."""
    rng = random.Random(seed)
    stamp = 0x1F0C8A3B_2C4D5E6F
    return [
        uuid.UUID(
            fields=(
                (stamp + n) & 0xFFFFFFFF,
                ((stamp + n) >> 32) & 0xFFFF,
                ((stamp + n) >> 48) & 0x0FFF,
                rng.getrandbits(6),
                rng.getrandbits(8),
                node,
            ),
            version=1,
        ).hex
        for n in range(8)
    ]


def test_uuid1_on_a_frozen_clock_counts_its_node_as_the_devices_own() -> None:
    """What varies from one uuid1 to the next on a frozen clock is a tick and a clock
    sequence; what tells devices apart is the node. Beside another device's uuid1s (the same
    ticks, another node) they have room enough; beside a phone with the same node, not."""
    mine, bobs = frozen_uuid1(0x9F86D081884D, 1), frozen_uuid1(0x1B4F0E9851B1, 2)
    check_id_room(mine, bobs)
    with pytest.raises(RuleBroken):
        check_id_room(mine, frozen_uuid1(0x9F86D081884D, 3))


def test_a_device_id_of_each_phones_own_still_counts_beside_another_phone() -> None:
    other_device = "0" + DEVICE[1:]
    ids = [f"{DEVICE}-{n}" for n in range(1, 9)]
    check_id_room(ids, [f"{other_device}-1", f"{other_device}-2"])


def test_a_row_of_the_wrong_kind_names_the_field_and_its_kind() -> None:
    """A value of the wrong kind is named with its field and the kind it must be (once the
    message listed every kind, and not the field at fault)."""
    state = ChatState("you")
    row = Message("c1", "general", "you", "hi", WHEN)
    row.seq = "3"  # type: ignore[assignment]
    state.add(row)
    with pytest.raises(StateShapeError, match="'hi' holds a str in seq: it must be an int or None"):
        check_state_shape(state)
