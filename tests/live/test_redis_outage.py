"""Exactly once through a Redis outage: stopped (SIGKILL, then started again on its port) or
stalled (SIGSTOP, then SIGCONT), under load across three servers.

Each test runs a ``redis-server`` of its own (`RedisProcess`: it is killed or paused)
and three ``chatkit serve --redis`` processes on one SQLite file, with two members
on each, all in two chats, every one of them sending one message after another
(at most `RATE` a second) for the whole test. Then Redis goes away, long enough that every member was told
cross-server delivery is degraded and the members went on sending (every send is
still stored and acked: the database is not Redis), and comes back. Then:

- every message acked before Redis came back reaches every member within
  `BACK_WITHIN_S` of its return;
- every member hears every stored message of its chats exactly once (a message
  reaches a server by more than one road: its packet, the catch-up read, a stalled
  publish Redis carries out late; each is delivered once);
- every member was told when delivery was degraded, and when it was back;
- while Redis was away, ``typing`` answered ``unavailable`` and a fault change a 503
  (never ``internal``, never 200 with nothing changed); after Redis restarted empty,
  a fault change on an older server takes effect on every server, one started since
  included.

And when Redis holds every publish for a while but the link holds (``CLIENT
PAUSE … WRITE``), the messages whose publish failed reach the others later, once,
and nobody is told anything is degraded.

Nothing sleeps to wait: each phase waits on what it needs (acks counted, notices
heard) with a deadline. (``CHATKIT_REDIS_OUTAGE_S`` makes the outage itself last
longer: that is the scenario, not a wait.)
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from conftest import ServerFactory
from live_support import Member, ServerProcess, get_json, server_log

from chatkit.live.client.transports import RequestFailed
from chatkit.live.tools.redis_process import RedisProcess
from chatkit.live.wire import EVENT_DELIVERY
from chatkit.model import Status

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

CHATS = ("general", "second")
WAIT_S = 20.0
"""The longest a phase waits for what it expects (three servers share two cores)."""
BACK_WITHIN_S = 2.0
"""The promise: what was acked before Redis returned reaches everyone this soon after."""
RATE = 10.0
"""Messages a second each of the six members sends at most: 60 a second in all, more than
the audit's outage saw (675 in 15 s). All six clients share the test's one process, and
they, not the servers, are what is slowest to take in a long outage's catch-up."""
BEFORE = 30
"""Messages acked before Redis goes away."""
DURING = 60
"""Messages acked while Redis is away (load during the outage)."""
AFTER = 30
"""Messages acked after Redis is back, before the load stops."""
HOLD_S = float(os.environ.get("CHATKIT_REDIS_OUTAGE_S", "0"))
"""How long Redis stays away at least. By default only as long as the phases need (about
a second, stalled: until its stall is noticed); ``CHATKIT_REDIS_OUTAGE_S=10`` runs the
audit's ten seconds (then the history to catch up is ten seconds of load)."""


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of this test's own, to stop and start."""
    if not RedisProcess.installed():
        pytest.skip("redis-server is not installed")
    folder = tmp_path / "redis"
    folder.mkdir()
    process = RedisProcess(folder).start()
    yield process
    if process.process is not None:
        process.resume()  # a paused one would not hear the SIGTERM
    process.stop()


class Cluster:
    """Three servers, six members in both chats, each member talking in one of them."""

    def __init__(self, start_server: ServerFactory, url: str) -> None:
        self.servers = [start_server("--redis", url, "--rate", "0") for _ in range(3)]
        for server in self.servers[1:]:
            server.passwords = self.servers[0].passwords
        self.members = [
            Member(server, f"u{k}{n}", ack_timeout=WAIT_S)
            for k, server in enumerate(self.servers)
            for n in range(2)
        ]
        self.told: dict[str, list[bool]] = {m.user: [] for m in self.members}
        """Each member's ``delivery`` notices, as ``degraded``."""
        self.acked: dict[str, float] = {}
        """Every acked message's client id, with when its ack came."""
        self.progress = asyncio.Event()
        self.stop = asyncio.Event()
        self._load: list[asyncio.Future[None]] = []

    async def start(self) -> None:
        for member in self.members:
            told = told_to(self.told[member.user], member.notify, self.progress.set)
            member.socket.sio.on(EVENT_DELIVERY, handler=told)
        await asyncio.gather(*(m.start(*CHATS) for m in self.members))
        self._load = [asyncio.ensure_future(self._talk(m, n)) for n, m in enumerate(self.members)]

    async def _talk(self, member: Member, n: int) -> None:
        """Send one message after another, at most `RATE` a second (a pacing clock)."""
        chat_id = CHATS[n % 2]
        count = 0
        began = time.monotonic()
        while not self.stop.is_set():
            sent = await member.send(chat_id, f"{member.user} #{count}")
            assert sent.status is Status.SENT, sent
            self.acked[sent.client_id] = time.monotonic()
            count += 1
            self.progress.set()
            await asyncio.sleep(max(0.0, began + count / RATE - time.monotonic()))

    async def until(self, what: str, predicate: Callable[[], bool]) -> None:
        try:
            async with asyncio.timeout(WAIT_S):
                while not predicate():
                    self.progress.clear()
                    await self.progress.wait()
        except TimeoutError:
            raise AssertionError(f"timed out waiting until {what}") from None

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self._load), WAIT_S)

    async def close(self) -> None:
        self.stop.set()
        for load in self._load:
            load.cancel()
        await asyncio.gather(*self._load, return_exceptions=True)
        await asyncio.gather(*(m.close() for m in self.members))


def heard(member: Member) -> Counter[str]:
    return Counter(m.client_id for m in member.echoes)


def hears_all(member: Member, client_ids: set[str]) -> Callable[[], bool]:
    return lambda: client_ids <= set(heard(member))


def told_last(cluster: Cluster, member: Member, *, degraded: bool) -> Callable[[], bool]:
    return lambda: cluster.told[member.user][-1:] == [degraded]


def told_to(told: list[bool], *wake: Callable[[], None]) -> Callable[[object], None]:
    """A ``delivery`` handler that keeps what a member is told in ``told``, and calls
    ``wake`` (whatever waits for it)."""

    def heard(data: object) -> None:
        if isinstance(data, dict) and isinstance(data.get("degraded"), bool):
            told.append(data["degraded"])
            for call in wake:
                call()

    return heard


def shows(member: Member, switch: str, value: object) -> Callable[[], bool]:
    return lambda: member.socket.faults.get(switch) == value


def stored(server: ServerProcess, member: Member) -> set[str]:
    found: set[str] = set()
    for chat_id in CHATS:
        after, more = 0, True
        while more:
            reply = get_json(
                f"{server.url}/api/chats/{chat_id}/messages?limit=500&after={after}",
                token=member.http.token,
            )
            assert reply["ok"] is True, reply
            assert isinstance(reply["messages"], list)
            found |= {m["client_id"] for m in reply["messages"]}
            after, more = reply["messages"][-1]["seq"], reply["has_more"] is True
    return found


def faults_of(server: ServerProcess) -> dict[str, object]:
    reply = get_json(f"{server.url}/api/faults", token=server.admin_token)
    faults = reply["faults"]
    assert isinstance(faults, dict), reply
    return faults


def turn(server: ServerProcess, **switches: object) -> dict[str, object]:
    return get_json(
        f"{server.url}/api/faults", method="PUT", body=switches, token=server.admin_token
    )


async def outage(
    start_server: ServerFactory,
    queue: RedisProcess,
    go: Callable[[], None],
    back: Callable[[], None],
) -> None:
    """The scenario: load, Redis away (``go``), load, Redis back (``back``), load; then
    every promise checked."""
    cluster = Cluster(start_server, queue.url(0))
    first = cluster.servers[0]
    members = cluster.members
    late: Member | None = None
    try:
        for latency in (1, 2):  # the switches' version moves on before the outage
            assert turn(first, latency_ms=latency)["ok"] is True
        await cluster.start()
        await cluster.until("load before the outage", lambda: len(cluster.acked) >= BEFORE)

        go()
        went = time.monotonic()
        await cluster.until(
            "every member is told delivery is degraded",
            lambda: all(told_last(cluster, m, degraded=True)() for m in members),
        )
        at_told = len(cluster.acked)
        newcomer = Member(cluster.servers[1], "newcomer")
        newcomer_told: list[bool] = []
        newcomer.socket.sio.on(EVENT_DELIVERY, handler=told_to(newcomer_told, newcomer.notify))
        await newcomer.start()
        await newcomer.until("a newcomer is told at once", lambda: newcomer_told == [True])
        await newcomer.close()
        await cluster.until(
            "load during the outage", lambda: len(cluster.acked) >= at_told + DURING
        )
        with pytest.raises(RequestFailed) as typing:
            await members[0].socket.typing(CHATS[0])
        assert typing.value.code == "unavailable", typing.value
        refused = await asyncio.to_thread(turn, first, refuse=1.0)
        assert refused["_status"] == 503 and refused["code"] == "unavailable", refused
        assert faults_of(first)["refuse"] == 0.0
        await asyncio.sleep(max(0.0, HOLD_S - (time.monotonic() - went)))  # the outage's length

        back()
        returned = time.monotonic()
        due = set(cluster.acked)
        for member in members:
            await member.until("what was acked before Redis returned is in", hears_all(member, due))
        took = time.monotonic() - returned
        assert took <= BACK_WITHIN_S, f"the messages missed took {took:.2f} s after Redis returned"

        at_return = len(cluster.acked)
        await cluster.until(
            "load after the outage", lambda: len(cluster.acked) >= at_return + AFTER
        )
        await cluster.finish()
        every = stored(first, members[0])
        for server in cluster.servers:
            assert "messages were waiting unread" not in server_log(server), "a member was shed"
        assert set(cluster.acked) <= every, "an acked message was not stored"
        for member in members:
            await member.until("every message is in", hears_all(member, every))
            counts = heard(member)
            assert set(counts) == every
            twice = [client_id for client_id, n in counts.items() if n > 1]
            assert not twice, f"{member.user} heard {len(twice)} message(s) more than once"
            assert member.repeats == 0, f"a server delivered {member.user} a message again"
            await member.until("told it is back", told_last(cluster, member, degraded=False))
            assert cluster.told[member.user][0] is True

        # Redis lost the switches (restarted empty), and a server started since offers its
        # own, at version 1; a change on an older server (its switches at version 3) must
        # take effect everywhere all the same.
        wiper = redis.Redis.from_url(queue.url(0))
        wiper.delete("chatkit:0:faults")
        wiper.close()
        later = start_server("--redis", queue.url(0))
        late = Member(later, "late")
        await late.start()
        assert late.socket.faults["latency_ms"] == 0, "the key was not empty"
        changed = turn(first, refuse=0.25)
        assert changed["_status"] == 200 and changed["faults"]["refuse"] == 0.25, changed  # type: ignore[index]
        for member in [*members, late]:
            await member.until("told of the change", shows(member, "refuse", 0.25))
        for server in [*cluster.servers, later]:
            faults = faults_of(server)
            assert (faults["refuse"], faults["latency_ms"]) == (0.25, 2), server.url
    finally:
        await cluster.close()
        if late is not None:
            await late.close()


async def test_redis_stopped_and_restarted_under_load_every_member_hears_every_message_once(
    start_server: ServerFactory, queue: RedisProcess
) -> None:
    port = queue.port

    def restart() -> None:
        queue.start(port=port)

    await outage(start_server, queue, queue.kill, restart)


async def test_redis_stalled_under_load_every_member_hears_every_message_once(
    start_server: ServerFactory, queue: RedisProcess
) -> None:
    await outage(start_server, queue, queue.pause, queue.resume)


async def test_messages_whose_publish_failed_reach_the_others_later_once(
    start_server: ServerFactory, queue: RedisProcess
) -> None:
    """Redis holds every write (``CLIENT PAUSE … WRITE``) for longer than a publish may
    take, but answers pings: the link holds, the publishes fail, and the heads announced
    once they go through again make the others read the messages from the database."""
    first = start_server("--redis", queue.url(0), "--rate", "0")
    second = start_server("--redis", queue.url(0), "--rate", "0")
    second.passwords = first.passwords
    alice, bob = Member(first, "alice"), Member(second, "bob")
    told: list[object] = []
    bob.socket.sio.on(EVENT_DELIVERY, handler=told.append)
    admin = redis.Redis.from_url(queue.url(0))
    try:
        await alice.start("general")
        await bob.start("general")
        admin.client_pause(2500, all=False)  # writes (PUBLISH among them) wait 2.5 s
        sent = [await alice.send("general", f"held #{n}") for n in range(5)]
        assert all(m.status is Status.SENT for m in sent), "a send waited for Redis"
        want = {m.client_id for m in sent}
        await bob.until("every held message is in", hears_all(bob, want), WAIT_S)
        assert heard(bob) == Counter(want), "not each exactly once"
        late = await alice.send("general", "after the pause")
        await bob.until("the next one is in", hears_all(bob, {late.client_id}), WAIT_S)
        assert max(heard(bob).values()) == 1
        assert bob.repeats == 0, "a server delivered a message again"
        assert told == [], "the link held: nobody is told delivery is degraded"
    finally:
        admin.close()
        await alice.close()
        await bob.close()
