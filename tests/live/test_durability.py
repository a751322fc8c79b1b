"""What the server keeps: across a restart, and through a SIGKILL in mid-burst."""

from __future__ import annotations

import asyncio

import pytest
from conftest import ServerFactory
from live_support import Member, get_json

from chatkit.live.client.transports import HttpTransport, SocketIOTransport
from chatkit.model import DeliveryError, ServerMessage, Status

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

BURST = 400
IN_FLIGHT = 32
KILL_AFTER_ACKS = 100


async def test_restart_keeps_history_and_clients_resume(start_server: ServerFactory) -> None:
    server = start_server()
    alice = await Member(server, "alice").start("general")
    try:
        for body in ("one", "two", "three"):
            await alice.send("general", body)
        before = [(r.seq, r.server_id, r.client_id, r.body) for r in alice.timeline("general")]
        first_id = alice.timeline("general")[0].client_id
        token = alice.socket.token

        await asyncio.to_thread(server.stop)
        server.start(port=server.port)  # same port, same database

        # The transport reconnects by itself, signs in again, rejoins, and resyncs.
        await alice.until("alice has reconnected", alice.reconnected.is_set)
        after = [(r.seq, r.server_id, r.client_id, r.body) for r in alice.timeline("general")]
        assert after == before
        assert all(row.status is Status.SENT for row in alice.timeline("general"))
        assert alice.socket.token == token, "the session did not survive the restart"

        four = await alice.send("general", "four")
        assert (four.status, four.seq) == (Status.SENT, 4)

        # Idempotency survived the restart: an old client id is recognised, not stored again.
        again = await alice.socket.send("general", first_id, "one")
        assert (again.seq, again.id) == (before[0][0], before[0][1])

        async with HttpTransport(server.url) as reader:
            await reader.login("reader", server.account("reader"))
            await reader.join("general")
            history = await reader.history("general")
        assert [(m.seq, m.body) for m in history] == [
            (1, "one"),
            (2, "two"),
            (3, "three"),
            (4, "four"),
        ]
    finally:
        await alice.close()


async def test_sigkill_mid_burst_loses_no_acknowledged_message(
    start_server: ServerFactory, database: str | None
) -> None:
    server = start_server("--rate", "0", db=database)  # a burst, on purpose
    acked: list[ServerMessage] = []
    enough = asyncio.Event()
    gate = asyncio.Semaphore(IN_FLIGHT)
    sender = SocketIOTransport(
        server.url, "alice", password=server.account("alice"), ack_timeout=5.0, reconnection=False
    )
    await sender.connect()
    await sender.join("burst")

    async def send(n: int) -> None:
        async with gate:
            try:
                message = await sender.send("burst", f"burst-{n:04d}", f"message {n}")
            except DeliveryError:
                return  # in flight when the server died: it may or may not be stored
            acked.append(message)
            if len(acked) >= KILL_AFTER_ACKS:
                enough.set()

    sends = [asyncio.create_task(send(n)) for n in range(BURST)]
    try:
        async with asyncio.timeout(15):
            await enough.wait()
        server.kill()  # SIGKILL, with sends still in flight
        await asyncio.gather(*sends)
    finally:
        await sender.close()
    assert KILL_AFTER_ACKS <= len(acked) < BURST, "the kill did not land mid-burst"

    server.start()
    async with HttpTransport(server.url) as reader:
        await reader.login("auditor", server.account("auditor"))
        await reader.join("burst")
        history = await reader.history("burst")
    stored = {message.client_id: message for message in history}
    missing = [m.client_id for m in acked if stored.get(m.client_id) != m]
    assert not missing, f"{len(missing)} acknowledged messages were lost: {missing[:5]}"
    assert [m.seq for m in history] == list(range(1, len(history) + 1)), "gaps or repeats"
    assert len(stored) == len(history), "a client id is stored twice"
    health = get_json(f"{server.url}/health")
    assert health["status"] == "ok"
