"""Greetings: a family of the teacher's own, which the learners may read.

A family the grader does not know counts with weight 10 (``chatkit.grading.families``).
"""

import pytest

from chatkit.engine.harness import Scenario

pytestmark = pytest.mark.family("greetings")


async def test_hello_is_confirmed(kit: Scenario) -> None:
    """You say hello; the server acks it."""
    hello = await kit.send("hello")
    await kit.ack(hello)
    kit.expect(["'hello' sent #1"])
