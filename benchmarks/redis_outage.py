"""What a Redis outage costs three live servers under load: figures, never assertions.

    python benchmarks/redis_outage.py            # Redis stopped 10 s, then stalled 8 s
    python benchmarks/redis_outage.py --quick    # 2 s each

Each run starts a real ``redis-server`` and three ``chatkit serve --redis``
processes on one SQLite file, on loopback, with six Socket.IO clients (two per
server) in two chats, each sending ``--rate`` messages a second. Then Redis goes
away for the outage's length — stopped (SIGKILL, then started again on its port)
or stalled (SIGSTOP, then SIGCONT) — and comes back, and the load goes on a
little. Reported per run: messages acked while Redis was away; how long after
Redis returned every client had every message acked before it returned; messages
a client heard more than once (there should be none); how many clients were
told delivery was degraded, and that it was back; and how many the servers shed
as slow readers (there should be none: a catch-up waits for them to keep up).

These are the audit's two outages (10 s stopped, 8 s stalled). The clients share
this one process, so past a few hundred messages a second they, not the servers,
are the slowest to take in a catch-up (each server logs how long its own took).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from chatkit.live.client.transports import SocketIOTransport
from chatkit.live.server.cluster.secret import new_secret_file
from chatkit.live.tools.process import ServerProcess
from chatkit.live.tools.redis_process import RedisProcess
from chatkit.live.wire import EVENT_DELIVERY
from chatkit.model import ServerMessage

CHATS = ("general", "second")
PER_SERVER = 2
WAIT_S = 60.0
"""The longest the benchmark waits for the clients to have every message."""
HEADER = (
    f"{'outage':<22} {'acked':>7} {'while away':>10} {'all in after':>12} "
    f"{'heard twice':>11} {'told':>5} {'back':>5} {'shed':>5}"
)
SHED = "messages were waiting unread"
"""What a server logs when it disconnects a reader that fell too far behind."""


@dataclass
class Client:
    """One client: what it heard, and what it was told about delivery."""

    transport: SocketIOTransport
    heard: Counter[str] = field(default_factory=Counter)
    told: list[bool] = field(default_factory=list)


@dataclass
class Run:
    label: str
    clients: list[Client]
    acked: set[str] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def hears(self, client: Client, message: ServerMessage) -> None:
        client.heard[message.client_id] += 1
        self.changed.set()

    def notice(self, client: Client, data: object) -> None:
        if isinstance(data, dict) and isinstance(data.get("degraded"), bool):
            client.told.append(data["degraded"])

    async def talk(self, client: Client, chat_id: str, rate: float) -> None:
        """Send one message after another, at most ``rate`` a second (a pacing clock)."""
        began, count = time.monotonic(), 0
        while not self.stop.is_set():
            client_id = uuid.uuid4().hex
            await client.transport.send(chat_id, client_id, f"#{count}")
            self.acked.add(client_id)
            count += 1
            await asyncio.sleep(max(0.0, began + count / rate - time.monotonic()))

    async def until_all_have(self, wanted: set[str]) -> float:
        """Seconds until every client heard every message in ``wanted``."""
        began = time.monotonic()
        async with asyncio.timeout(WAIT_S):
            while not all(wanted <= set(c.heard) for c in self.clients):
                self.changed.clear()
                await self.changed.wait()
        return time.monotonic() - began


async def outage(
    label: str,
    servers: list[ServerProcess],
    go: Callable[[], None],
    back: Callable[[], None],
    seconds: float,
    rate: float,
) -> str:
    clients: list[Client] = []
    run = Run(label, clients)
    for k, server in enumerate(servers):
        for n in range(PER_SERVER):
            user = f"u{k}{n}"
            client = Client(SocketIOTransport(server.url, user, password=server.account(user)))
            client.transport.on("message", partial(run.hears, client))
            client.transport.sio.on(EVENT_DELIVERY, handler=lambda d, c=client: run.notice(c, d))
            clients.append(client)
    for client in clients:
        await client.transport.connect()
        for chat_id in CHATS:
            await client.transport.join(chat_id)
    talkers = [
        asyncio.ensure_future(run.talk(c, CHATS[n % 2], rate)) for n, c in enumerate(clients)
    ]
    try:
        await asyncio.sleep(1.0)  # load before the outage
        go()
        before = len(run.acked)
        await asyncio.sleep(seconds)  # the outage
        while_away = len(run.acked) - before
        back()
        due = set(run.acked)
        took = await run.until_all_have(due)
        await asyncio.sleep(1.0)  # load after
        run.stop.set()
        await asyncio.gather(*talkers)
        await run.until_all_have(set(run.acked))
    finally:
        run.stop.set()
        for talker in talkers:
            talker.cancel()
        await asyncio.gather(*talkers, return_exceptions=True)
        for client in clients:
            await client.transport.close()
    twice = sum(1 for c in clients for n in c.heard.values() if n > 1)
    told = sum(1 for c in clients if True in c.told)
    restored = sum(1 for c in clients if c.told[-1:] == [False])
    shed = sum(server.log.read_text().count(SHED) for server in servers)
    return (
        f"{label:<22} {len(run.acked):>7} {while_away:>10} {took:>11.2f}s "
        f"{twice:>11} {told:>5} {restored:>5} {shed:>5}"
    )


def restarter(queue: RedisProcess) -> Callable[[], None]:
    """Start ``queue`` again on its port (after a kill)."""
    port = queue.port

    def restart() -> None:
        queue.start(port=port)

    return restart


def start_servers(work: Path, url: str, name: str) -> list[ServerProcess]:
    secret = work / "cluster.secret"
    if not secret.exists():
        new_secret_file(secret)
    args = ["--rate", "0", "--redis", url, "--cluster-secret-file", str(secret)]
    servers: list[ServerProcess] = []
    for n in range(3):
        server = ServerProcess(work / f"{name}.sqlite3", work / f"{name}-{n}.log", args)
        if servers:
            server.passwords = servers[0].passwords
        servers.append(server.start())
    return servers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stopped", type=float, default=10.0, help="seconds stopped (10)")
    parser.add_argument("--stalled", type=float, default=8.0, help="seconds stalled (8)")
    parser.add_argument(
        "--rate", type=float, default=10.0, help="messages a second per client (10; six clients)"
    )
    parser.add_argument("--quick", action="store_true", help="2 s outages, for a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.stopped = args.stalled = 2.0
    if not RedisProcess.installed():
        print("redis_outage: redis-server is not installed: apt-get install redis-server")
        return 2
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory(prefix="chatkit-bench-outage-") as tmp:
        work = Path(tmp)
        for name, seconds in (("stopped", args.stopped), ("stalled", args.stalled)):
            queue = RedisProcess(work).start()
            servers = start_servers(work, queue.url(0), name)
            go, back = (
                (queue.kill, restarter(queue)) if name == "stopped" else (queue.pause, queue.resume)
            )
            try:
                row = asyncio.run(
                    outage(f"{name} {seconds:g} s", servers, go, back, seconds, args.rate)
                )
                print(row, flush=True)
            finally:
                for server in servers:
                    server.stop()
                if queue.process is not None:
                    queue.resume()
                queue.stop()
    print()
    print(
        f"six clients, two per server, {args.rate:g} messages a second each; 'all in after': "
        "from Redis's return until every client had every message acked before it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
