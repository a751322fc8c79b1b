"""One bad message never hurts another: bodies checked before they reach a batch,
bad frames and requests answered (never a traceback), rate limits, slow clients."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
import socketio  # type: ignore[import-untyped]
from conftest import ServerFactory
from live_support import WAIT_S, Member, RawSocket, get_json, login, server_log

from chatkit.live.client.transports import RequestFailed
from chatkit.live.server.errors import NotRegistered
from chatkit.live.server.sessions import SessionRegistry
from chatkit.live.storage import accounts
from chatkit.live.storage.accounts import AccountStore

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

POISON = [
    "lone \ud800 surrogate",
    "\udfff",
    "NUL \x00 inside",
    "\x1b[2J\x1b[31mscreen wiped",
    "carriage\rreturn",
    "bidi \u202eevil\u202c",
    "isolate \u2066x\u2069",
    "C1 \x9b31m",
    "delete \x7f",
]
CLEAN = ["two\nlines", "tab\there", "émoji 😀 ok", "مرحبا hello", "e\u0301 combining"]


async def test_a_poisoned_body_fails_alone_and_innocent_batches_commit(
    start_server: ServerFactory,
) -> None:
    server = start_server("--rate", "0")
    alice = await Member(server, "alice").start("general")
    mallory = await Member(server, "mallory").start("general")
    try:
        rounds = 20

        async def innocent(n: int) -> str:
            return (await alice.socket.send("general", f"a{n}", f"hello {n}")).client_id

        async def poisoned(n: int) -> str:
            try:
                await mallory.socket.send("general", f"m{n}", POISON[n % len(POISON)])
            except RequestFailed as refused:
                return refused.code
            return "stored"

        results = await asyncio.gather(
            *(innocent(n) for n in range(rounds * len(POISON))),
            *(poisoned(n) for n in range(rounds * len(POISON))),
        )
        count = rounds * len(POISON)
        assert results[:count] == [f"a{n}" for n in range(count)]
        assert set(results[count:]) == {"bad_request"}, "a poisoned body was not refused"
        history = await alice.socket.history("general")
        assert len(history) == count and {m.author for m in history} == {"alice"}
    finally:
        await alice.close()
        await mallory.close()
    assert "Traceback" not in server_log(server)


async def test_control_characters_are_refused_with_their_name_and_clean_text_kept(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    alice = await Member(server, "alice").start("general")
    try:
        for n, body in enumerate(POISON):
            with pytest.raises(RequestFailed) as refused:
                await alice.socket.send("general", f"p{n}", body)
            assert refused.value.code == "bad_request"
            assert "U+" in refused.value.reason or "valid text" in refused.value.reason
        stored = [await alice.socket.send("general", f"c{n}", b) for n, b in enumerate(CLEAN)]
        assert [m.body for m in stored] == CLEAN
        reply = get_json(
            f"{server.url}/api/chats/general/messages",
            method="POST",
            body={"client_id": "h1", "body": "over http \x1b[31m"},
            token=alice.socket.token,
        )
        assert (reply["_status"], reply["code"]) == (400, "bad_request")
    finally:
        await alice.close()


async def test_bad_frames_and_unknown_events_are_answered(start_server: ServerFactory) -> None:
    server = start_server()
    raw = await RawSocket(server.url).connect()
    try:
        password = server.account("alice")
        registered = await raw.call("login", {"user": "alice", "password": password})
        assert registered["ok"] is True
        unknown = await raw.call("sned", {"chat_id": "general"})
        assert unknown["code"] == "unknown_event" and "send" in str(unknown["error"])
        deep = await raw.call_raw('["send",' + "[" * 30_000 + "]" * 30_000 + "]")  # < 64 KiB
        assert isinstance(deep, dict) and "nested too deeply" in str(deep["error"]), deep
        big = await raw.call("send", {"chat_id": "general", "client_id": "c", "pad": "x" * 100_000})
        assert big["code"] == "too_large" and "65536 bytes" in str(big["error"])
        for body in ("{}", "[]", "[5]", '"send"'):
            reply = await raw.call_raw(body)
            assert isinstance(reply, dict) and reply["code"] == "bad_request", (body, reply)
        await raw.send_raw("42" + "{not json")  # no ack id: answered with an error event
        assert json.loads((await raw.frame())[2:])[0] == "error"
        assert (await raw.call("join", {"chat_id": "general"}))["ok"] is True, "connection died"

        assert raw.ws is not None
        # The server closes while the frame may still be on its way: the close can reach
        # the client during its send or during its next read, whichever comes first.
        with pytest.raises(Exception):  # noqa: B017 - whichever way the closed socket says it
            await raw.send_raw("42" + json.dumps(["send", {"pad": "x" * (2 * 1024 * 1024)}]))
            await raw.frame()
        assert raw.ws.close_code == 1009, "a frame over the hard limit must close with 1009"
    finally:
        await raw.close()
    assert "Traceback" not in server_log(server)


async def test_bad_http_bodies_get_4xx_never_500(start_server: ServerFactory) -> None:
    server = start_server()
    token = login(server, "al")
    url = f"{server.url}/api/chats/general/messages"
    for raw_body in (
        b"[" * 30_000 + b"]" * 30_000,  # under 64 KiB: it is the depth that is refused
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b"\xff\xfe not utf-8",
        b'{"client_id": "c1", "body": "\\ud800"}',
    ):
        status = _post_raw(server.url, "/api/login", raw_body)
        assert status == 400, (raw_body[:20], status)
        status = _post_raw(server.url, "/api/chats/general/messages", raw_body, token)
        assert status in (400, 403), (raw_body[:20], status)
    get_json(f"{server.url}/api/chats/general/join", method="POST", token=token)
    lone = _post_raw(
        server.url, "/api/chats/general/messages", b'{"client_id":"c1","body":"\\ud800"}', token
    )
    assert lone == 400
    assert get_json(url, token=token)["messages"] == []
    assert "Traceback" not in server_log(server)


async def test_a_flood_is_rate_limited_with_a_clear_error(start_server: ServerFactory) -> None:
    server = start_server("--rate", "0.5", "--rate-burst", "5")
    raw = socketio.AsyncClient(reconnection=False)
    await raw.connect(server.url, transports=["websocket"], wait_timeout=WAIT_S)
    try:
        replies = [await raw.call("typing", {"chat_id": "x"}, timeout=WAIT_S) for _ in range(12)]
        codes = [reply["code"] for reply in replies]
        assert "rate_limited" not in codes[:5], codes
        assert codes.count("rate_limited") >= 5, codes
        limited = next(reply for reply in replies if reply["code"] == "rate_limited")
        assert "slow down" in limited["error"] and "try again in" in limited["error"]
    finally:
        await raw.disconnect()


async def test_slow_requests_are_cut_off(start_server: ServerFactory) -> None:
    server = start_server("--request-timeout", "1")
    host, port = "127.0.0.1", server.port
    with socket.create_connection((host, port), timeout=WAIT_S) as headers_never_end:
        headers_never_end.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        assert headers_never_end.recv(1024) == b"", "a request without an end was kept open"
    with socket.create_connection((host, port), timeout=WAIT_S) as body_never_ends:
        body_never_ends.sendall(
            b"POST /api/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"user":'
        )
        answer = body_never_ends.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:40]
    assert get_json(f"{server.url}/health")["status"] == "ok"
    assert "Traceback" not in server_log(server)


async def test_the_session_cache_forgets_no_one(tmp_path: Path) -> None:
    """Dropping a session from the memory cache never signs anyone out: it is in the
    database, and the next request brings it back."""
    db = accounts.connect(tmp_path / "accounts.sqlite3")
    accounts.create_users(db, [("alice", "alice-password"), ("bob", "bob-password")])
    db.close()
    store = AccountStore(tmp_path / "accounts.sqlite3")
    await store.open()
    try:
        sessions = SessionRegistry(store, 1, ttl_s=60)
        http_only, token = await sessions.login("alice", "alice-password")
        await sessions.login("bob", "bob-password")  # alice's session leaves the cache
        assert len(sessions) == 1
        again = await sessions.by_token(token)
        assert again.user == "alice" and again.key == http_only.key
        with pytest.raises(NotRegistered):
            await sessions.login("alice", "wrong password")
    finally:
        await store.close()


def _post_raw(base: str, path: str, body: bytes, token: str | None = None) -> int:
    """POST raw bytes (not JSON-encoded by us); the HTTP status."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(base + path, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=WAIT_S) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
