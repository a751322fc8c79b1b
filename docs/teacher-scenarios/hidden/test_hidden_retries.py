"""A hidden scenario in a family of the teacher's own ("retries")."""

import pytest

from chatkit.engine.harness import Scenario

pytestmark = pytest.mark.family("retries")


async def test_a_refused_message_is_retried_and_confirmed(kit: Scenario) -> None:
    """You send "hi"; it is refused, retried with the same client id, and confirmed: one row."""
    hi = await kit.send("hi")
    await kit.refuse(hi)
    again = await kit.retry(hi)
    await kit.ack(again)
    kit.expect(["'hi' sent #1"])
