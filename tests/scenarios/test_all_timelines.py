"""All timelines: every ordering of a few sends, acks, echoes and failures.

The other families each pick one ordering by hand. A real network picks any: the
echo may beat the ack, the ack may be lost after the echo, the server may store the
messages in another order than you sent them. Here the timeline explorer
(`chatkit.engine.timelines`) takes a small world and runs your ``send``, ``reconcile`` and
``rollback`` under *every* ordering of its events that could really happen, checking
every rule of the design after every step. When a rule breaks, the failure tells the
shortest ordering that breaks it, step by step, with what your screen showed.
"""

from collections.abc import Callable

import pytest

from chatkit.engine.harness import Scenario
from chatkit.engine.timelines import (
    DEFAULT_SIZE,
    ONE_MESSAGE,
    TWO_RETRIES,
    Exploration,
    SmallWorld,
    world_of_size,
)

pytestmark = pytest.mark.family("all timelines")

RecordProperty = Callable[[str, object], None]
"""pytest's ``record_property`` fixture: how many timelines were checked goes in the report."""


async def check_every_ordering(
    world: SmallWorld, kit: Scenario, record_property: RecordProperty
) -> Exploration:
    """Explore ``world`` with your flow on its phone; on a broken rule, tell the
    counterexample and raise."""
    result = await kit.explore(world)
    record_property("timelines checked", result.orderings)
    result.raise_if_broken()
    return result


@pytest.mark.budget(5)
@pytest.mark.timeout(10)
async def test_one_message_in_every_order(kit: Scenario, record_property: RecordProperty) -> None:
    """You send "hi" while bob posts "hey". The server stores "hi", acks it and
    echoes it twice, and stores and echoes bob's message — in any order that could
    happen: the echo before the ack, bob's message numbered before or after yours,
    the second echo last or in between. In all 63 orderings "hi" must be shown once,
    pending until the first confirmation, then sent with the server's number."""
    await check_every_ordering(ONE_MESSAGE, kit, record_property)


@pytest.mark.budget(60)  # about 2 s on a quiet machine: room for one grading thirty at once
@pytest.mark.timeout(70)
async def test_three_messages_in_every_order(
    kit: Scenario, record_property: RecordProperty
) -> None:
    """You send "hi", "ok" and "ok" again. "hi" is acked and echoed twice; the
    ack of the first "ok" is lost, so your client gives up on it, yet its echo
    arrives; the second "ok" is refused. Every one of the 62,370 orderings of
    those events is checked: each message once, statuses that never go back,
    "sending…" exactly while a send is on its way, the banner showing the latest
    failure, and two messages with the same words kept as two messages."""
    await check_every_ordering(world_of_size(DEFAULT_SIZE), kit, record_property)


@pytest.mark.budget(60)
@pytest.mark.timeout(70)
async def test_two_retries_in_every_order(kit: Scenario, record_property: RecordProperty) -> None:
    """Two messages fail: the ack of "ok" is lost and "no" is refused. You retry
    each while it shows failed. Meanwhile the server's echoes arrive whenever they
    like — before the failure, between the failure and your retry, while the retry
    travels, after it. In all 34,584 orderings each retry must reuse its message's
    client id, nothing may be shown twice, and a message the server confirmed
    stays sent."""
    await check_every_ordering(TWO_RETRIES, kit, record_property)
