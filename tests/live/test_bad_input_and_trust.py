"""Untrusted input: malformed payloads, a forged author, chats one has not joined."""

from __future__ import annotations

import pytest
import socketio  # type: ignore[import-untyped]
from conftest import ServerFactory
from live_support import Member, get_json, login

from chatkit.live.client.transports import RequestFailed, SocketIOTransport
from chatkit.model import MAX_BODY_CHARS

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

WAIT_S = 5

NOT_AN_OBJECT: list[object] = [None, "hello", 42, ["general", "c1", "hi"], True]
BAD_SENDS = [
    {},
    {"chat_id": "general"},
    {"chat_id": "general", "client_id": "c1"},
    {"chat_id": "general", "client_id": "c1", "body": ""},
    {"chat_id": "general", "client_id": "c1", "body": "   \n\t"},
    {"chat_id": "general", "client_id": "c1", "body": "x" * (MAX_BODY_CHARS + 1)},
    {"chat_id": "general", "client_id": "c1", "body": 42},
    {"chat_id": "general", "client_id": "c1", "body": None},
    {"chat_id": "general", "client_id": "c1", "body": ["hi"]},
    {"chat_id": "general", "client_id": "c1", "body": {"text": "hi"}},
    {"chat_id": 7, "client_id": "c1", "body": "hi"},
    {"chat_id": "", "client_id": "c1", "body": "hi"},
    {"chat_id": "two words", "client_id": "c1", "body": "hi"},
    {"chat_id": "x" * 65, "client_id": "c1", "body": "hi"},
    {"chat_id": "general", "client_id": "", "body": "hi"},
    {"chat_id": "general", "client_id": "c\n1", "body": "hi"},
    {"chat_id": "general", "client_id": 12, "body": "hi"},
    {"chat_id": "general", "client_id": "c" * 129, "body": "hi"},
    {"chat_id": "elsewhere", "client_id": "c1", "body": "not a member here"},
]
OTHER_BAD_EVENTS = [
    ("login", {"user": ""}),
    ("login", {"user": 5}),
    ("login", {"user": "alice"}),
    ("login", {"user": "alice", "password": "not her password"}),
    ("login", {"user": "mallory", "password": "x"}),  # this connection is already alice
    ("login", {"token": "forged"}),
    ("login", {"token": 12}),
    ("join", {"chat_id": None}),
    ("join", {}),
    ("leave", {"chat_id": ["general"]}),
    ("typing", {"chat_id": "general", "typing": "yes"}),
    ("typing", {"chat_id": "elsewhere"}),
    ("history", {"chat_id": "general", "limit": 0}),
    ("history", {"chat_id": "general", "after": -1}),
    ("history", {"chat_id": "general", "before": "soon"}),
    ("history", {"chat_id": "elsewhere"}),
    ("faults", {"refuse": 1}),  # no admin token
    ("faults", {}),
]


async def test_malformed_payloads_get_errors_and_the_connection_lives(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    raw = socketio.AsyncClient(reconnection=False)
    await raw.connect(server.url, transports=["websocket"], wait_timeout=WAIT_S)
    try:
        early = await raw.call(
            "send", {"chat_id": "general", "client_id": "c0", "body": "hi"}, timeout=WAIT_S
        )
        assert early["ok"] is False and early["code"] == "not_registered"

        password = server.account("alice")
        registered = await raw.call(
            "login", {"user": "alice", "password": password}, timeout=WAIT_S
        )
        assert registered["ok"] is True
        assert (await raw.call("join", {"chat_id": "general"}, timeout=WAIT_S))["ok"] is True

        for payload in NOT_AN_OBJECT:
            reply = await raw.call("send", payload, timeout=WAIT_S)
            assert reply["ok"] is False and reply["code"] == "bad_request", (payload, reply)
        reply = await raw.call("send", ({"chat_id": "general"}, {"body": "hi"}), timeout=WAIT_S)
        assert reply["ok"] is False, "two arguments must be refused"

        for payload in BAD_SENDS:
            reply = await raw.call("send", payload, timeout=WAIT_S)
            assert reply["ok"] is False, (payload, reply)
            assert isinstance(reply["error"], str) and reply["error"], reply
            assert raw.connected, f"the connection died after {payload!r}"
        for event, payload in OTHER_BAD_EVENTS:
            reply = await raw.call(event, payload, timeout=WAIT_S)
            assert reply["ok"] is False, (event, payload, reply)
            assert raw.connected, f"the connection died after {event} {payload!r}"

        good = await raw.call(
            "send", {"chat_id": "general", "client_id": "c1", "body": "hi"}, timeout=WAIT_S
        )
        assert good["ok"] is True and good["message"]["author"] == "alice"
        history = await raw.call("history", {"chat_id": "general"}, timeout=WAIT_S)
        assert [m["body"] for m in history["messages"]] == ["hi"], "a bad payload was stored"
    finally:
        await raw.disconnect()


async def test_malformed_http_requests_get_errors(start_server: ServerFactory) -> None:
    server = start_server()
    token = login(server, "alice")
    url = f"{server.url}/api/chats/general/messages"
    assert get_json(f"{server.url}/api/chats/general/join", method="POST", token=token)["ok"]

    assert get_json(url, method="POST", body={"client_id": "c1", "body": "hi"})["_status"] == 401
    forged = get_json(url, method="POST", body={"client_id": "c1", "body": "hi"}, token="forged")
    assert forged["_status"] == 401
    for body in (
        ["hi"],
        "hi",
        {"client_id": "c1"},
        {"client_id": 5, "body": "hi"},
        {"client_id": "c1", "body": " "},
        {"client_id": "c1", "body": "x" * 2001},
    ):
        reply = get_json(url, method="POST", body=body, token=token)
        assert reply["_status"] == 400 and reply["ok"] is False, (body, reply)
    oversized = get_json(
        url, method="POST", body={"client_id": "c1", "body": "x" * 70_000}, token=token
    )
    assert (oversized["_status"], oversized["code"]) == (413, "too_large")
    for query in ("?limit=0", "?after=-1", "?before=x", "?limit=99999999999999999999999"):
        reply = get_json(f"{url}{query}", token=token)
        assert reply["_status"] == 400, (query, reply)
    other = get_json(f"{server.url}/api/chats/elsewhere/messages", token=token)
    assert other["_status"] == 403

    ok = get_json(url, method="POST", body={"client_id": "c1", "body": "hi"}, token=token)
    assert ok["_status"] == 201
    stored = get_json(url, token=token)["messages"]
    assert isinstance(stored, list), stored
    assert [m["body"] for m in stored] == ["hi"]


async def test_nobody_sends_as_someone_else(start_server: ServerFactory) -> None:
    server = start_server()
    alice = await Member(server, "alice").start("general")
    bob = await Member(server, "bob").start("general")
    try:
        forged = await alice.socket.call(
            "send",
            {
                "chat_id": "general",
                "client_id": "a1",
                "body": "hi",
                "author": "bob",
                "user": "bob",
                "id": 99,
                "seq": 42,
            },
        )
        assert forged["ok"] is True
        message = forged["message"]
        assert isinstance(message, dict), forged
        assert (message["author"], message["seq"]) == ("alice", 1)
        await bob.until("bob sees alice's message", lambda: len(bob.echoes) == 1)
        assert bob.echoes[0].author == "alice"

        # Bob cannot hijack alice's client id to claim or overwrite her message.
        with pytest.raises(RequestFailed) as refused:
            await bob.socket.send("general", "a1", "not yours")
        assert refused.value.code == "conflict"
        history = await bob.socket.history("general")
        assert [(m.author, m.body) for m in history] == [("alice", "hi")]
    finally:
        await alice.close()
        await bob.close()


async def test_a_client_only_reads_chats_it_joined(start_server: ServerFactory) -> None:
    server = start_server()
    alice = await Member(server, "alice").start("general", "secret")
    bob = await Member(server, "bob").start("general")
    try:
        await alice.send("secret", "for alice only")
        await alice.send("general", "for everyone")
        # Alice sent the secret first; when bob has the second message, he would
        # have had the first too, had it been sent to him.
        await bob.until("bob sees the general message", lambda: len(bob.echoes) == 1)
        assert [m.body for m in bob.echoes] == ["for everyone"]

        for attempt in (
            bob.socket.history("secret"),
            bob.http.history("secret"),
            bob.socket.send("secret", "b1", "let me in"),
        ):
            with pytest.raises(RequestFailed) as refused:
                await attempt
            assert refused.value.code == "not_member"
        sneaky = SocketIOTransport(
            server.url, "bob", password=server.account("bob"), reconnection=False
        )
        await sneaky.connect()
        try:
            with pytest.raises(RequestFailed):
                await sneaky.history("secret")  # a fresh session has no chats either
        finally:
            await sneaky.close()

        await bob.socket.leave("general")
        await alice.send("general", "after bob left")
        await alice.send("secret", "alice again")
        await alice.until("alice has her echoes", lambda: len(alice.echoes) == 4)
        await bob.socket.join("secret")
        await alice.send("secret", "now bob is here")
        await bob.until("bob sees the secret chat", lambda: len(bob.echoes) == 2)
        assert [m.body for m in bob.echoes] == ["for everyone", "now bob is here"]
    finally:
        await alice.close()
        await bob.close()
