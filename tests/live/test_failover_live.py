"""Failover over the real transports: Socket.IO first, the HTTP send endpoint second."""

from __future__ import annotations

import pytest
from conftest import ServerFactory
from live_support import Member, get_json

from chatkit.failover import both_failed
from chatkit.live.server.faults import FaultSettings
from chatkit.live.server.service import REFUSED_REASON
from chatkit.model import TIMED_OUT, Status

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

ACK_TIMEOUT_S = 0.5
"""How long the Socket.IO transport waits for an ack the server was told to lose."""


async def test_failover_over_real_transports_never_duplicates(start_server: ServerFactory) -> None:
    server = start_server("--lose-acks", "1.0")  # every Socket.IO ack is lost; HTTP is fine
    alice = Member(server, "alice", ack_timeout=ACK_TIMEOUT_S, failover=True)
    await alice.start("general")
    bob = await Member(server, "bob").start("general")
    faults = f"{server.url}/api/faults"
    try:
        # 1. Stored and echoed, ack lost: the HTTP resend gets the same message back.
        hi = await alice.send("general", "hi")
        assert (hi.status, hi.seq) == (Status.SENT, 1)
        assert [f.reason for f in alice.failovers] == [TIMED_OUT]

        # 2. Refused on Socket.IO (nothing stored): HTTP delivers it, once.
        get_json(
            faults, method="PUT", body={"lose_acks": 0, "refuse": 1.0}, token=server.admin_token
        )
        again = await alice.send("general", "again")
        assert (again.status, again.seq) == (Status.SENT, 2)
        assert alice.failovers[-1].reason == REFUSED_REASON

        # 3. Both refuse: the message fails, with both reasons, and keeps its words.
        get_json(faults, method="PUT", body={"on_http": True}, token=server.admin_token)
        lost = await alice.send("general", "lost")
        assert lost.status is Status.FAILED
        assert lost.error == both_failed(REFUSED_REASON, REFUSED_REASON)

        # 4. The network heals; the retry reuses the client id and is stored once.
        reset = get_json(
            faults, method="PUT", body={"refuse": 0, "on_http": False}, token=server.admin_token
        )
        assert reset["faults"] == FaultSettings(lose_acks=0).to_json()
        retried = await alice.client.retry(lost.client_id)
        assert (retried.status, retried.seq) == (Status.SENT, 3)

        for member in (alice, bob):

            def every_message(m: Member = member) -> bool:
                return m.all_sent("general", 3)

            def every_echo(m: Member = member) -> bool:
                return len(m.echoes) == 3

            await member.until("every message is in", every_message)
            await member.until("every echo is in", every_echo)
            rows = member.timeline("general")
            assert [(r.seq, r.body) for r in rows] == [(1, "hi"), (2, "again"), (3, "lost")]
            assert len({e.client_id for e in member.echoes}) == 3, "an echo came twice"
            assert member.repeats == 0, "the server delivered a message again"
        history = await bob.socket.history("general")
        assert [(m.seq, m.body) for m in history] == [(1, "hi"), (2, "again"), (3, "lost")]
    finally:
        await alice.close()
        await bob.close()
