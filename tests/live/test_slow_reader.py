"""A member who never reads: disconnected with a reason, and the server's memory stays flat."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import ServerFactory
from live_support import RawSocket, get_json, rss_mb, server_log

from chatkit.live.client.transports import SocketIOTransport
from chatkit.model import ServerMessage

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

MESSAGES = 3_000
BODY = "é" * 2000
"""The longest body there is; JSON escapes each character, so 12 KB on the wire."""
SENDERS = 3


async def test_a_reader_that_never_reads_is_cut_off_and_memory_stays_flat(
    start_server: ServerFactory,
) -> None:
    server = start_server("--rate", "0", "--sync", "NORMAL")
    stalled = await RawSocket(server.url, max_queue=1, receive_buffer=4096).connect()
    password = server.account("stalled")
    assert (await stalled.call("login", {"user": "stalled", "password": password}))["ok"]
    assert (await stalled.call("join", {"chat_id": "general"}))["ok"] is True
    # From here on the stalled reader reads nothing: its socket's buffers fill up.
    heard: set[str] = set()
    changed = asyncio.Event()

    def echo(message: ServerMessage) -> None:
        heard.add(message.client_id)
        changed.set()

    senders = [
        SocketIOTransport(server.url, f"sender{n}", password=server.account(f"sender{n}"))
        for n in range(SENDERS)
    ]
    senders[0].on("message", echo)
    for sender in senders:
        await sender.connect()
        await sender.join("general")
    try:

        async def send_all(sender: SocketIOTransport, n: int, first: int, last: int) -> None:
            for m in range(first, last):
                await sender.send("general", f"s{n}-{m}", BODY)

        async def phase(first: int, last: int) -> float:
            """Send messages ``first`` to ``last`` from every sender; the server's RSS after."""
            await asyncio.gather(*(send_all(s, n, first, last) for n, s in enumerate(senders)))
            last_one = f"s{SENDERS - 1}-{last - 1}"
            async with asyncio.timeout(30):  # its echo comes after every broadcast before it
                while last_one not in heard:
                    changed.clear()
                    await changed.wait()
            return rss_mb(server)

        per_sender = MESSAGES // SENDERS
        warm = await phase(0, per_sender // 2)  # the queue limit is reached in here
        token = senders[0].token
        online = get_json(f"{server.url}/api/users", token=token)["users"]
        assert isinstance(online, list), online
        assert "stalled" not in online, "the first half did not fill the stalled reader's queue"
        after = await phase(per_sender // 2, per_sender)
    finally:
        for sender in senders:
            await sender.close()
        await stalled.close()
    later_mb = MESSAGES / 2 * len(json.dumps(BODY)) / 2**20
    size = len(json.dumps(BODY))
    print(
        f"\nslow reader: {MESSAGES:,} broadcasts of {size:,} B to a member that never reads; "
        f"server RSS {warm:.1f} MiB after the first half (it was cut off there), "
        f"{after:.1f} MiB after the other {later_mb:.0f} MiB (+{after - warm:.1f} MiB)"
    )
    log = server_log(server)
    assert "messages were waiting unread" in log, "the disconnect did not say why"
    assert "Traceback" not in log
    assert after - warm < later_mb / 3, "the server kept what the stalled reader did not read"
