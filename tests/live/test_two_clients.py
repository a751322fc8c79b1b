"""Two real clients in one chat, with the reference flow, over a real server.

The echo-before-ack race is not scripted here: the server is told which order to
put on the wire (``--echo-first`` or not), and each client records what it saw.
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import ServerFactory
from live_support import Member

from chatkit.model import Status

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

PER_CLIENT = 10


@pytest.mark.parametrize("echo_first", [True, False], ids=["echo-first", "ack-first"])
async def test_both_see_each_message_exactly_once(
    start_server: ServerFactory, echo_first: bool
) -> None:
    server = start_server(*(["--echo-first"] if echo_first else []))
    alice = await Member(server, "alice").start("general")
    bob = await Member(server, "bob").start("general")
    try:
        # Both type at once: every send is in flight together, answers interleave.
        await asyncio.gather(
            *(alice.send("general", f"alice {i}") for i in range(PER_CLIENT)),
            *(bob.send("general", f"bob {i}") for i in range(PER_CLIENT)),
        )
        total = 2 * PER_CLIENT
        for member in (alice, bob):

            def sent_and_echoed(m: Member = member) -> bool:
                return m.all_sent("general", total) and len(m.echoes) >= total

            await member.until(f"{total} messages are sent and echoed", sent_and_echoed)

        views = []
        for member in (alice, bob):
            rows = member.timeline("general")
            assert [row.seq for row in rows] == list(range(1, total + 1))
            assert len({row.client_id for row in rows}) == total, "a message is shown twice"
            assert len(member.state.messages) == total
            echoed = [event for event in member.wire if event[0] == "echo"]
            assert len(echoed) == len({cid for _, cid in echoed}) == total, "an echo came twice"
            views.append([(row.seq, row.server_id, row.author, row.body) for row in rows])
        assert views[0] == views[1], "the two clients disagree on the chat"

        for member in (alice, bob):
            mine = [
                row.client_id for row in member.timeline("general") if row.author == member.user
            ]
            assert len(mine) == PER_CLIENT
            for client_id in mine:
                order = [kind for kind, cid in member.wire if cid == client_id]
                if echo_first:
                    # The server beat the optimistic update: the echo confirmed the row.
                    assert order == ["echo", "ack"], (member.user, client_id, order)
                    assert member.status_at_echo[client_id] is Status.PENDING
                else:
                    assert order == ["ack", "echo"], (member.user, client_id, order)
                    assert member.status_at_echo[client_id] is Status.SENT
    finally:
        await alice.close()
        await bob.close()
