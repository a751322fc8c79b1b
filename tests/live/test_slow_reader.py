"""A member who never reads: disconnected with a reason, and the server's memory stays flat."""

from __future__ import annotations

import asyncio

import pytest
from live_support import Member, RawSocket, get_json, rss_mb, server_log

pytestmark = [pytest.mark.budget(40), pytest.mark.timeout(90)]

MESSAGES = 4_000
BODY = "x" * 2000
SENDERS = 10


async def test_a_reader_that_never_reads_is_cut_off_and_memory_stays_flat(start_server) -> None:
    server = start_server("--rate", "0", "--sync", "NORMAL")
    stalled = await RawSocket(server.url, max_queue=1, receive_buffer=4096).connect()
    assert (await stalled.call("register", {"user": "stalled"}))["ok"] is True
    assert (await stalled.call("join", {"chat_id": "general"}))["ok"] is True
    # From here on the stalled reader reads nothing: its socket's buffers fill up.
    senders = [await Member(server.url, f"sender{n}").start("general") for n in range(SENDERS)]
    before = rss_mb(server)
    try:

        async def send_all(member: Member, n: int) -> None:
            for m in range(MESSAGES // SENDERS):
                await member.socket.send("general", f"s{n}-{m}", BODY)

        await asyncio.gather(*(send_all(member, n) for n, member in enumerate(senders)))
        last = senders[0]
        await last.until(
            "the first sender has its last echo",
            lambda: any(e.client_id == f"s0-{MESSAGES // SENDERS - 1}" for e in last.echoes),
            timeout=30,
        )
        after = rss_mb(server)
        users = get_json(f"{server.url}/api/users")["users"]
    finally:
        for member in senders:
            await member.close()
        await stalled.close()
    sent_mb = MESSAGES * len(BODY) / 2**20
    print(
        f"\nslow reader: {MESSAGES:,} broadcasts of {len(BODY):,} B ({sent_mb:.0f} MiB) to a "
        f"member that never reads; server RSS {before:.1f} -> {after:.1f} MiB "
        f"(+{after - before:.1f} MiB)"
    )
    assert "stalled" not in users, "the reader that never reads is still connected"
    log = server_log(server)
    assert "messages were waiting unread" in log, "the disconnect did not say why"
    assert "Traceback" not in log
    assert after - before < sent_mb / 2, "the server kept what the stalled reader did not read"
