"""Normal flow: one message, sent and confirmed the way it usually happens."""

import pytest

from chatkit.harness import Scenario
from chatkit.rules import Rule

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
