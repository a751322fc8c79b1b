"""Several server processes, one database, one Redis: the chat is one chat.

Each test starts real ``chatkit serve --redis …`` processes on one SQLite file (the
first also on one PostgreSQL database) and a real ``redis-server`` (`redis_server`),
and real clients spread over them:

- thirty clients on three processes (fifteen people, each signed in on two of
  them with one token) hear every message of their chats exactly once, and each
  shows the chat exactly as the store has it, in seq order;
- a send that fails over from one process (Socket.IO) to another (HTTP) with the
  same client id is stored once;
- killing one process (SIGKILL) in the middle of load loses no acknowledged
  message, and its members reconnect to another process and carry on;
- typing notices and fault switch changes cross processes (two changes made at
  once on two processes both count), and a process that starts later takes the
  switches as they are.

A token one process issued is accepted by the others: sessions live in the shared
database. Messages from different processes may *arrive* in either order (each
process publishes after its own commit); the members' timelines are in seq order.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from conftest import ServerFactory
from live_support import Member, ServerProcess, get_json, login

from chatkit.live.client.transports import SocketIOTransport
from chatkit.model import DeliveryError, Status

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

WAIT_S = 15.0
"""The longest a test waits for something it expects (three servers share two cores)."""


def cluster(
    start_server: ServerFactory, redis_url: str, count: int, db: str | None = None
) -> list[ServerProcess]:
    """``count`` servers on one database (the test's SQLite file unless ``db``), sharing
    ``redis_url``; their accounts are one set, in that database, so they share passwords."""
    servers = [start_server("--redis", redis_url, "--rate", "0", db=db) for _ in range(count)]
    for server in servers[1:]:
        server.passwords = servers[0].passwords
    return servers


def history(server: ServerProcess, token: str, chat_id: str) -> list[tuple[int, str]]:
    """The store's history of a chat, as (seq, client id), read over HTTP."""
    return [(m["seq"], m["client_id"]) for m in messages(server, token, chat_id)]


def messages(server: ServerProcess, token: str, chat_id: str) -> list[dict[str, Any]]:
    reply = get_json(f"{server.url}/api/chats/{chat_id}/messages?limit=500", token=token)
    assert reply["ok"] is True, reply
    found = reply["messages"]
    assert isinstance(found, list)
    return found


def heard(member: Member, chat_id: str) -> list[tuple[int, str]]:
    """What reached a member of a chat, in arrival order, as (seq, client id)."""
    return [(m.seq, m.client_id) for m in member.echoes if m.chat_id == chat_id]


async def test_thirty_members_on_three_servers_hear_every_message_once(
    start_server: ServerFactory, redis_url: str, database: str | None
) -> None:
    servers = cluster(start_server, redis_url, 3, database)
    chats = ["alpha", "beta", "gamma"]
    users = [f"m{k:02d}" for k in range(15)]
    chats_of = {user: chats[k % 3 : k % 3 + 1 + k % 2] for k, user in enumerate(users)}
    # Thirty clients: fifteen people with a phone and a tablet each, on two servers.
    phones = [Member(servers[k % 3], user, ack_timeout=WAIT_S) for k, user in enumerate(users)]
    tablets = [Member(servers[(k + 1) % 3], u, ack_timeout=WAIT_S) for k, u in enumerate(users)]
    members = phones + tablets
    try:
        await asyncio.gather(*(m.start(*chats_of[m.user]) for m in phones))
        for phone, tablet in zip(phones, tablets, strict=True):
            tablet.socket.token = phone.socket.token  # one session, issued by another server
        await asyncio.gather(*(m.start(*chats_of[m.user]) for m in tablets))
        assert all(t.socket.token == p.socket.token for p, t in zip(phones, tablets, strict=True))

        async def talk(member: Member) -> None:
            for n in range(3):
                for chat_id in chats_of[member.user]:
                    sent = await member.send(chat_id, f"{member.user} #{n}")
                    assert sent.status is Status.SENT, sent

        await asyncio.gather(*(talk(m) for m in members))
        stored = {}
        for chat_id in chats:
            writers = [m for m in members if chat_id in chats_of[m.user]]
            rows = history(servers[2], writers[0].http.token or "", chat_id)
            stored[chat_id] = rows
            assert len(rows) == 3 * len(writers)
            assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
        for member in members:
            for chat_id in chats_of[member.user]:
                want = stored[chat_id]

                def all_in(
                    m: Member = member, c: str = chat_id, w: list[tuple[int, str]] = want
                ) -> bool:
                    return len(heard(m, c)) >= len(w)

                await member.until(f"{chat_id} is all in", all_in, WAIT_S)
                assert Counter(heard(member, chat_id)) == Counter(want), "not each exactly once"
                assert member.repeats == 0, f"a server delivered {member.user} a message again"
                timeline = [(row.seq, row.client_id) for row in member.timeline(chat_id)]
                assert timeline == want, f"{member.user} shows {chat_id} unlike the store"
    finally:
        await asyncio.gather(*(m.close() for m in members))


async def test_a_send_that_fails_over_to_another_server_is_stored_once(
    start_server: ServerFactory, redis_url: str
) -> None:
    first, second = cluster(start_server, redis_url, 2)
    lost = get_json(
        f"{first.url}/api/faults",
        method="PUT",
        body={"lose_acks": 1.0},  # every Socket.IO ack, on every server; HTTP stays reliable
        token=first.admin_token,
    )
    assert lost["ok"] is True, lost
    alice = Member(first, "alice", ack_timeout=0.5, failover=True, http_url=second.url)
    bob = Member(second, "bob")
    try:
        await alice.start("general")
        await bob.start("general")
        hi = await alice.send("general", "hi")
        assert (hi.status, hi.seq) == (Status.SENT, 1)
        assert len(alice.failovers) == 1, "the Socket.IO ack was meant to be lost"
        token = login(second, "bob")
        assert history(second, token, "general") == [(1, hi.client_id)]
        await bob.until("the echo is in", lambda: len(bob.echoes) == 1)
        await alice.until("the echo is in", lambda: len(alice.echoes) == 1)
        assert alice.all_sent("general", 1)
    finally:
        await alice.close()
        await bob.close()


async def test_a_killed_server_loses_no_acked_message_and_its_members_carry_on(
    start_server: ServerFactory, redis_url: str
) -> None:
    servers = cluster(start_server, redis_url, 3)
    victim = servers[0]
    urls = [s.url for s in servers]
    members = [
        Member(s, f"u{i}", fallback_urls=tuple(u for u in urls if u != s.url))
        for i, s in enumerate(servers * 2)
    ]
    acked: set[str] = set()
    progress = asyncio.Event()
    killed = asyncio.Event()
    after_kill: Counter[str] = Counter()
    per_member = 40

    async def talk(member: Member) -> None:
        for n in range(per_member):
            sent = await member.send("general", f"{member.user} #{n}")
            while sent.status is not Status.SENT:  # its server went: wait for the next one
                await member.until("reconnected", member.reconnected.is_set, WAIT_S)
                sent = await member.client.retry(sent.client_id)
            acked.add(sent.client_id)
            progress.set()
            if killed.is_set():
                after_kill[member.user] += 1

    try:
        await asyncio.gather(*(m.start("general") for m in members))
        load = [asyncio.ensure_future(talk(m)) for m in members]
        async with asyncio.timeout(WAIT_S):
            while len(acked) < 80:  # a third of the load
                progress.clear()
                await progress.wait()
        victim.kill()
        killed.set()
        await asyncio.wait_for(asyncio.gather(*load), WAIT_S)
        token = login(servers[1], "u1")
        stored = history(servers[1], token, "general")
        assert len(stored) == len(members) * per_member
        assert acked <= {client_id for _, client_id in stored}, "an acked message was lost"
        stranded = {m.user for m in members if m.server is victim}
        for member in members:
            if member.user in stranded:
                assert member.reconnected.is_set()
                assert member.socket.url != victim.url
                assert after_kill[member.user] > 0, f"{member.user} did not carry on"
        # The victim may have stored (and acked) a message and died before publishing it:
        # the other servers' members hear of it only from history. Every other message
        # reaches them live, and no server delivers them one twice. (The victim's members
        # missed what was sent while they reconnected: their resync fetched it. A message
        # the victim delivered just before it died may reach them again from their new
        # server; their transport hands it on once.)
        must_hear = {
            (m["seq"], m["client_id"])
            for m in messages(servers[1], token, "general")
            if m["author"] not in stranded
        }
        for member in members:
            if member.user not in stranded:

                def live_heard(m: Member = member) -> bool:
                    return must_hear <= set(heard(m, "general"))

                await member.until("every message of a live server is heard", live_heard, WAIT_S)
                assert member.repeats == 0, f"a server delivered {member.user} a message again"
            assert max(Counter(heard(member, "general")).values()) == 1, "heard twice"
            assert set(heard(member, "general")) <= set(stored)
            await member.client.resync("general")

            def chat_in(m: Member = member) -> bool:
                return m.all_sent("general", len(stored))

            await member.until("the chat is all in", chat_in, WAIT_S)
            assert [(r.seq, r.client_id) for r in member.timeline("general")] == stored
    finally:
        await asyncio.gather(*(m.close() for m in members))


async def test_typing_and_fault_switches_cross_servers(
    start_server: ServerFactory, redis_url: str
) -> None:
    first, second, third = cluster(start_server, redis_url, 3)
    typing: dict[str, list[tuple[str, bool]]] = {"bob": [], "alice-too": []}
    changes: dict[str, list[dict[str, object]]] = {"alice": [], "bob": [], "carol": []}
    event = asyncio.Event()

    def transport(
        server: ServerProcess, user: str, name: str, **options: object
    ) -> SocketIOTransport:
        def on_typing(chat_id: str, who: str, on: bool) -> None:
            typing.setdefault(name, []).append((who, on))
            event.set()

        def on_faults(faults: dict[str, object]) -> None:
            changes.setdefault(name, []).append(faults)
            event.set()

        made = SocketIOTransport(
            server.url,
            user,
            password=server.account(user),
            **options,  # type: ignore[arg-type]
        )
        made.on("typing", on_typing)
        made.on("faults", on_faults)
        return made

    async def until_true(what: str, predicate: Callable[[], bool]) -> None:
        try:
            async with asyncio.timeout(WAIT_S):
                while not predicate():
                    event.clear()
                    await event.wait()
        except TimeoutError:
            raise AssertionError(f"timed out waiting until {what}") from None

    alice = transport(first, "alice", "alice")
    bob = transport(second, "bob", "bob")
    carol = transport(third, "carol", "carol")
    clients = [alice, bob, carol]
    try:
        for client in clients:
            await client.connect()
            await client.join("general")
        alice_too = transport(third, "alice", "alice-too", token=alice.token)  # same session
        clients.append(alice_too)
        await alice_too.connect()
        await alice_too.join("general")

        await alice.typing("general", True)
        await until_true("bob sees alice typing", lambda: typing["bob"] == [("alice", True)])
        await bob.typing("general", True)  # after alice's, on the same channel
        await until_true("alice's other connection sees bob", lambda: bool(typing["alice-too"]))
        assert typing["alice-too"] == [("bob", True)], "a typist heard their own typing"

        for told in changes.values():
            told.clear()  # what each heard at sign-in
        changed = get_json(
            f"{first.url}/api/faults", method="PUT", body={"refuse": 1.0}, token=first.admin_token
        )
        assert changed["ok"] is True, changed
        await until_true(
            "every connection is told", lambda: all(len(changes[n]) >= 1 for n in changes)
        )
        assert all(told == [changed["faults"]] for told in changes.values())
        refused = get_json(f"{second.url}/api/faults", token=second.admin_token)
        assert refused["faults"] == changed["faults"]
        with pytest.raises(DeliveryError, match="refused"):
            await bob.send("general", "c1", "refused on the second server too")

        # Two hosts turn different switches at once, on different servers: both count.
        def turn(server: ServerProcess, switch: dict[str, object]) -> dict[str, object]:
            return get_json(
                f"{server.url}/api/faults", method="PUT", body=switch, token=server.admin_token
            )

        turned = await asyncio.gather(
            asyncio.to_thread(turn, first, {"latency_ms": 5}),
            asyncio.to_thread(turn, second, {"echo_first": True}),
        )
        assert all(reply["ok"] is True for reply in turned), turned
        both = {**changed["faults"], "latency_ms": 5, "echo_first": True}  # type: ignore[dict-item]
        # A server that heard the second change before the first shows only the second.
        await until_true("both are told", lambda: all(t[-1] == both for t in changes.values()))

        fourth = start_server("--redis", redis_url)
        later = get_json(f"{fourth.url}/api/faults", token=fourth.admin_token)
        assert later["faults"] == both, "a server started later has its own"
        for told in changes.values():
            assert len(told) <= 3 and len({str(t) for t in told}) == len(told), "told twice"
    finally:
        for client in clients:
            await client.close()
