"""Connection limits that hold: one address opening thousands of idle connections,
WebSocket or bare TCP, locks out only itself; a connection that never signs in is
closed; a polling request is answered within the deadline."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets.asyncio.client
from conftest import ServerFactory
from live_support import WAIT_S, RawSocket, ServerProcess

from chatkit.live.server.connections import AddressCounts, ConnectionGate, trusted_proxies

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

PER_ADDRESS = 256
"""`ServerSettings.max_connections_per_address`, the default these tests run with."""
CHAT_LIMIT = 100
"""`ServerSettings.max_chats_per_session`."""
BURST = 40
"""Sign-ins at once from one address: more than the server's 32 password checks."""


def health(server: ServerProcess, source: str) -> int:
    connection = http.client.HTTPConnection(
        "127.0.0.1", server.port, timeout=WAIT_S, source_address=(source, 0)
    )
    try:
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


async def idle_websocket(server: ServerProcess) -> websockets.asyncio.client.ClientConnection:
    """An Engine.IO WebSocket from 127.0.0.1 that never signs in (nor even says "40")."""
    url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    return await websockets.asyncio.client.connect(url, ping_interval=None, open_timeout=WAIT_S)


async def raw_socket_from(server: ServerProcess, source: str) -> RawSocket:
    """A Socket.IO connection (spoken by hand) from the loopback address ``source``."""
    sock = socket.create_connection(
        ("127.0.0.1", server.port), timeout=WAIT_S, source_address=(source, 0)
    )
    raw = RawSocket(server.url)
    raw.ws = await websockets.asyncio.client.connect(raw.url, sock=sock, ping_interval=None)
    assert (await raw.frame()).startswith("0{")
    await raw.send_raw("40")
    assert (await raw.frame()).startswith("40")
    return raw


async def test_one_address_with_thousands_of_idle_connections_locks_out_only_itself(
    start_server: ServerFactory,
) -> None:
    server = start_server("--sign-in-timeout", "120", "--request-timeout", "120")
    password = server.account("alice")
    sockets: list[websockets.asyncio.client.ClientConnection] = []
    refused: list[BaseException] = []
    for _ in range(0, PER_ADDRESS + 44, 50):
        opened = await asyncio.gather(
            *(idle_websocket(server) for _ in range(50)), return_exceptions=True
        )
        sockets += [ws for ws in opened if not isinstance(ws, BaseException)]
        refused += [error for error in opened if isinstance(error, BaseException)]
    bare: list[socket.socket] = []
    try:
        assert len(sockets) == PER_ADDRESS, "the cap on one address's WebSockets did not hold"
        assert all("503" in str(error) for error in refused), refused[:3]
        for _ in range(2000):
            bare.append(socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S))
        bare[-1].settimeout(WAIT_S)
        assert bare[-1].recv(64).startswith(b"HTTP/1.1 503"), "one too many was let in"
        assert health(server, "127.0.0.1") == 503, "the flooding address was not stopped"

        assert health(server, "127.0.0.2") == 200, "another address was locked out"
        other = await raw_socket_from(server, "127.0.0.3")
        try:
            started = time.monotonic()
            reply = await other.call("login", {"user": "alice", "password": password})
            assert reply["ok"] is True, reply
            assert time.monotonic() - started < 2.0, "a sign-in crawled under the flood"
        finally:
            await other.close()
    finally:
        for sock in bare:
            sock.close()
        await asyncio.gather(*(ws.close() for ws in sockets))


async def closed_by_the_server(ws: websockets.asyncio.client.ClientConnection) -> str:
    """Read (and drop) frames until the server closes the WebSocket (fail after WAIT_S);
    the reason it gave."""
    with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
        async with asyncio.timeout(WAIT_S):
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None, "the server did not close the WebSocket"
    return closed.value.rcvd.reason


async def test_a_connection_that_does_not_sign_in_is_closed(start_server: ServerFactory) -> None:
    server = start_server("--sign-in-timeout", "1")
    password = server.account("alice")
    stranger = await RawSocket(server.url).connect()
    member = await RawSocket(server.url).connect()
    try:
        assert (await member.call("login", {"user": "alice", "password": password}))["ok"]
        assert stranger.ws is not None
        assert "not signed in" in await closed_by_the_server(stranger.ws)
        assert "not signed in" in await closed_by_the_server(await idle_websocket(server))
        reply = await member.call("typing", {"chat_id": "general"})
        assert reply["code"] == "not_member", "the signed-in connection was closed too"
        assert (await member.call("logout", {}))["ok"] is True
        assert member.ws is not None
        assert "not signed in" in await closed_by_the_server(member.ws), "signed out, left open"
    finally:
        await stranger.close()
        await member.close()


def polling(
    server: ServerProcess, method: str, query: str, body: bytes | None = None, source: str = ""
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(
        "127.0.0.1", server.port, timeout=WAIT_S, source_address=(source or "127.0.0.1", 0)
    )
    try:
        connection.request(method, "/socket.io/?EIO=4&transport=polling" + query, body=body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def handshake(server: ServerProcess, source: str = "") -> str | None:
    """A new polling session's id, or None if the server refused it."""
    status, body = polling(server, "GET", "", source=source)
    if status != 200:
        return None
    opened = json.loads(body.decode()[1:])
    return str(opened["sid"])


def test_polling_sessions_are_capped_per_address_and_always_answered(
    start_server: ServerFactory,
) -> None:
    server = start_server("--connections-per-address", "5", "--request-timeout", "2")
    sids = [handshake(server) for _ in range(6)]
    assert all(sids[:5]) and sids[5] is None, "the sixth polling session was let in"
    assert handshake(server, source="127.0.0.2") is not None, "another address was refused"

    started = time.monotonic()
    status, _ = polling(server, "POST", f"&sid={sids[0]}", b"2")  # a client's PING
    assert 400 <= status < 500, status
    assert time.monotonic() - started < 2 + 1, "the polling POST outlived the deadline"


class FakeTransport(asyncio.Transport):
    """Just enough of a transport for the gate: a peer address, and closed or not."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address
        self.closed = False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return (self.address, 40000) if name == "peername" else default

    def is_closing(self) -> bool:
        return self.closed


def test_the_gate_counts_per_address_forgets_closed_ones_and_spares_trusted_proxies() -> None:
    gate = ConnectionGate(2, 5, proxies=trusted_proxies(["10.1.0.0/16"]))
    first, second, third = (FakeTransport("192.0.2.1") for _ in range(3))
    assert gate.admit(first) and gate.admit(second) and not gate.admit(third)
    first.closed = True  # upgraded to a WebSocket, then closed: never released
    assert gate.admit(third), "a closed connection was still counted"
    assert gate.admit(FakeTransport("10.1.2.3")) and gate.admit(FakeTransport("10.1.2.3"))
    assert gate.admit(FakeTransport("10.1.2.3")), "a trusted proxy was held to one address's cap"
    assert not gate.admit(FakeTransport("198.51.100.7")), "the total did not hold"
    gate.release(third)
    assert gate.admit(FakeTransport("198.51.100.7"))
    assert trusted_proxies(["*"])("203.0.113.9") and not trusted_proxies([])("127.0.0.1")


def test_engine_io_sessions_are_counted_per_address_and_in_all() -> None:
    counts = AddressCounts(per_address=2, total=3)
    assert counts.add("a", "192.0.2.1") and counts.add("b", "192.0.2.1")
    assert not counts.add("c", "192.0.2.1"), "a third session from one address"
    assert counts.add("d", "192.0.2.2")
    assert not counts.add("e", "192.0.2.3"), "over the total"
    counts.remove("a")
    counts.remove("a")  # twice: the second is a no-op
    assert counts.add("e", "192.0.2.3") and not counts.add("f", "192.0.2.1")


async def test_joins_at_once_do_not_pass_the_chat_limit_together(
    start_server: ServerFactory,
) -> None:
    """Each join checks the limit, then waits for the database: sent all at once, without
    waiting for answers, they still stop at the limit (`ServerSettings.max_chats_per_session`)."""
    server = start_server("--rate", "0")
    password = server.account("bob")
    bob = await RawSocket(server.url).connect()
    try:
        assert (await bob.call("login", {"user": "bob", "password": password}))["ok"]
        for number in range(CHAT_LIMIT + 20):
            await bob.send_raw(f'42{1000 + number}["join",{{"chat_id":"c{number}"}}]')
        answers = [await bob.frame() for _ in range(CHAT_LIMIT + 20)]
        assert sum('"ok":true' in answer for answer in answers) == CHAT_LIMIT
        again = await bob.call("login", {"user": "bob", "password": password})
        assert isinstance(again["chats"], list) and len(again["chats"]) == CHAT_LIMIT
    finally:
        await bob.close()


def test_one_address_cannot_take_every_password_check(start_server: ServerFactory) -> None:
    """A burst of sign-ins from one address keeps at most a quarter of the server's
    password checks busy: someone signing in from elsewhere meanwhile is not told busy."""
    server = start_server("--rate", "0")
    password = server.account("alice")

    def sign_in(user: str, secret: str, source: str) -> int:
        connection = http.client.HTTPConnection(
            "127.0.0.1", server.port, timeout=WAIT_S, source_address=(source, 0)
        )
        try:
            body = json.dumps({"user": user, "password": secret}).encode()
            connection.request("POST", "/api/login", body=body)
            return connection.getresponse().status
        finally:
            connection.close()

    with ThreadPoolExecutor(BURST) as pool:
        burst = [
            pool.submit(sign_in, f"ghost{n}", "wrong password", "127.0.0.1") for n in range(BURST)
        ]
        assert sign_in("alice", password, "127.0.0.2") == 200  # while the burst runs
        statuses = {future.result() for future in burst}
    assert statuses <= {401, 503}, statuses
