"""The HTTP side (health, users, paged history, idempotent send), typing, and the
fault switches (live updates, seeded replay, latency)."""

from __future__ import annotations

import time

import pytest
from conftest import ServerFactory
from live_support import Member, get_json, login

from chatkit.live.client.transports import RequestFailed
from chatkit.model import DeliveryError

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def test_health_users_paged_history_and_idempotent_send(start_server: ServerFactory) -> None:
    server = start_server()
    assert get_json(f"{server.url}/health")["status"] == "ok"
    token = login(server, "carol")
    messages = f"{server.url}/api/chats/general/messages"
    get_json(f"{server.url}/api/chats/general/join", method="POST", token=token)

    for n in range(1, 8):
        reply = get_json(
            messages, method="POST", body={"client_id": f"c{n}", "body": f"m{n}"}, token=token
        )
        assert (reply["_status"], reply["created"]) == (201, True)
    repeat = get_json(messages, method="POST", body={"client_id": "c3", "body": "m3"}, token=token)
    stored = repeat["message"]
    assert isinstance(stored, dict), repeat
    assert (repeat["_status"], repeat["created"], stored["seq"]) == (200, False, 3)

    def seqs(query: str) -> tuple[list[int], bool]:
        page = get_json(f"{messages}{query}", token=token)
        found, has_more = page["messages"], page["has_more"]
        assert isinstance(found, list) and isinstance(has_more, bool), page
        return [m["seq"] for m in found], has_more

    assert seqs("?limit=3") == ([5, 6, 7], True)  # the newest page, newest last
    assert seqs("?limit=3&before=5") == ([2, 3, 4], True)
    assert seqs("?limit=3&before=2") == ([1], False)
    assert seqs("?after=5") == ([6, 7], False)
    assert seqs("") == ([1, 2, 3, 4, 5, 6, 7], False)

    alice = await Member(server, "alice").start("general")
    bob = await Member(server, "bob").start("general")
    try:
        assert get_json(f"{server.url}/api/users", token=token)["users"] == ["alice", "bob"]
        assert [m.seq for m in await alice.http.history("general")] == list(range(1, 8))
    finally:
        await alice.close()
        await bob.close()


async def test_typing_reaches_the_others_only(start_server: ServerFactory) -> None:
    server = start_server()
    seen: dict[str, list[tuple[str, str, bool]]] = {"alice": [], "bob": []}
    alice = Member(server, "alice")
    bob = Member(server, "bob")
    for member in (alice, bob):

        def typing(chat_id: str, user: str, typing: bool, member: Member = member) -> None:
            seen[member.user].append((chat_id, user, typing))
            member.notify()

        member.socket.on("typing", typing)
    await alice.start("general")
    await bob.start("general")
    try:
        await alice.socket.typing("general")
        await bob.until("bob sees alice typing", lambda: len(seen["bob"]) == 1)
        assert seen["bob"] == [("general", "alice", True)]
        await alice.send("general", "done typing")
        await alice.until("alice has her echo", lambda: len(alice.echoes) == 1)
        assert seen["alice"] == [], "the typist was told about their own typing"
    finally:
        await alice.close()
        await bob.close()


async def test_seeded_faults_replay_and_update_live(start_server: ServerFactory) -> None:
    server = start_server("--refuse", "0.5", "--seed", "7")
    alice = await Member(server, "alice", admin_token=server.admin_token).start("general")
    faults = f"{server.url}/api/faults"
    try:

        async def outcomes(prefix: str) -> list[bool]:
            results = []
            for n in range(16):
                try:
                    await alice.socket.send("general", f"{prefix}{n}", "dice")
                    results.append(True)
                except RequestFailed as refused:
                    assert refused.code == "refused"
                    results.append(False)
            return results

        first = await outcomes("a")
        assert 0 < sum(first) < len(first), "a share of 0.5 refused none or all"
        get_json(
            faults, method="PUT", body={"seed": 7}, token=server.admin_token
        )  # restart the dice
        assert await outcomes("b") == first, "the same seed did not replay the same faults"

        bad = get_json(faults, method="PUT", body={"lose_acks": 1.5}, token=server.admin_token)
        assert bad["_status"] == 400
        switches = get_json(faults, token=server.admin_token)["faults"]
        assert isinstance(switches, dict), switches
        assert switches["refuse"] == 0.5, "a bad update changed something"

        updated = await alice.socket.set_faults(refuse=0, latency_ms=150)
        assert (updated["refuse"], updated["latency_ms"]) == (0, 150)
        started = time.perf_counter()
        await alice.socket.send("general", "slow", "slow")
        assert time.perf_counter() - started >= 0.15

        await alice.socket.set_faults(latency_ms=0, lose_acks=1.0)
        alice.socket.ack_timeout = 0.3
        with pytest.raises(DeliveryError):
            await alice.socket.send("general", "lost", "lost")
    finally:
        await alice.close()
