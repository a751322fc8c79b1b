"""Hidden scenarios in the kit's own families: they count where the family counts.

A learner's report says only "hidden scenario failed in family duplicates": the names,
stories and code here are the teacher's.
"""

import pytest

from chatkit.engine.harness import Scenario

pytestmark = pytest.mark.family("duplicates")


async def test_the_echo_arrives_three_times_around_the_ack(kit: Scenario) -> None:
    """The echo of "hey" arrives before the ack and twice after it: one row."""
    hey = await kit.send("hey")
    kit.store(hey)
    await kit.echo(hey)
    await kit.ack(hey)
    await kit.echo(hey)
    await kit.echo(hey)
    kit.expect(["'hey' sent #1"])


async def test_two_identical_messages_each_echoed_twice(kit: Scenario) -> None:
    """You send "ok" twice; each echo comes twice. Two messages, each once."""
    first = await kit.send("ok")
    second = await kit.send("ok")
    await kit.ack(first)
    await kit.ack(second)
    for sending in (first, second, first, second):
        await kit.echo(sending)
    kit.expect(["'ok' sent #1", "'ok' sent #2"])
