"""Benchmark one, two and three live server processes sharing one database and one Redis.

    python benchmarks/many_servers.py            # the full run (about two minutes)
    python benchmarks/many_servers.py --quick    # a smoke run

Each run starts real ``chatkit serve`` processes on loopback, on one database,
and a real ``redis-server``; 30 Socket.IO clients spread evenly over the
processes, in rooms of two whose two members are on different processes
whenever there are several (so every broadcast crosses Redis). Each client sends
one message at a time and waits for its ack (a closed loop). Reported, as the
live server benchmark does (`live_server.py`, whose figures and CPU accounting
this reuses): messages acked per second, the 50th and 99th percentile of the
time from emit to ack, and CPU time as shares of one core — here "srv cpu" is
all the server processes together, with redis-server (PostgreSQL's own processes
count among "others").

The runs: one process without Redis (the single server as it ships), then one,
two and three processes with ``--redis``; on SQLite (one file), and on
PostgreSQL too when its programs are installed (the tests' own PostgreSQL, in
``tests/live/postgres_server.py``).

**What this shows on a two-core machine.** More processes do not make it
faster here: the processes, Redis and the clients all share two cores, and every
message now also goes through Redis (published by one process, read by every
other), so the figures show the cost of the message queue more than a speed-up.
Several processes are for more connections than one process holds, for servers
on several hosts, and for staying up when one process dies; their throughput
grows with cores and hosts, which this machine does not have.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from live_server import (
    HEADER,
    ROOM_SIZE,
    SERVER_ARGS,
    START_TIMEOUT_S,
    Result,
    drive,
)

from chatkit.live.client.transports import SocketIOTransport
from chatkit.live.server.cluster.secret import new_secret_file
from chatkit.live.tools.process import ServerProcess
from chatkit.live.tools.redis_process import RedisProcess

CLIENTS = 30
CAVEAT = (
    "On two cores the server processes, Redis and these clients share the machine, and "
    "every message also crosses Redis: the figures show the cost of the message queue, "
    "not the speed-up more cores or hosts would give."
)


def start_servers(
    count: int, db: str | Path, logs: Path, redis_url: str | None, passwords: dict[str, str]
) -> list[ServerProcess]:
    """``count`` servers on ``db`` (with ``--redis redis_url`` unless None), sharing the
    accounts made so far (they are in the one database)."""
    servers = []
    args = list(SERVER_ARGS)
    if redis_url is not None:
        secret = logs / "cluster.secret"
        if not secret.exists():
            new_secret_file(secret)
        args += ["--redis", redis_url, "--cluster-secret-file", str(secret)]
    for n in range(count):
        log = logs / f"server-{len(list(logs.iterdir()))}-{n}.log"
        server = ServerProcess(db, log, args, start_timeout=START_TIMEOUT_S)
        server.passwords = passwords
        servers.append(server)
        try:
            server.start()
        except BaseException:
            for started in servers:
                started.stop()
            raise
    return servers


async def load(
    servers: list[ServerProcess],
    redis: RedisProcess | None,
    label: str,
    total: int,
    max_seconds: float,
    tag: str,
) -> Result:
    """`live_server.load`, with the clients spread over several servers: the two
    members of a room sit on different servers whenever there are several."""
    transports = []
    for i in range(CLIENTS):
        server = servers[(i // ROOM_SIZE + i % ROOM_SIZE) % len(servers)]
        user = f"u{i}"
        password = servers[0].account(user)
        transports.append(
            SocketIOTransport(server.url, user, password=password, reconnection=False)
        )
    pids = [s.process.pid for s in servers if s.process is not None]
    if redis is not None and redis.process is not None:
        pids.append(redis.process.pid)
    return await drive(transports, pids, label, total, max_seconds, tag)


async def on_database(
    name: str, db: str | Path, redis: RedisProcess, logs: Path, args: argparse.Namespace
) -> list[Result]:
    """The four runs on one database, each printed as it ends."""
    passwords: dict[str, str] = {}
    results = []
    runs = [(1, None), *((count, redis) for count in (1, 2, 3))]
    for n, (count, queue) in enumerate(runs):
        label = f"{name} ×{count}" + (" + Redis" if queue is not None else ", no Redis")
        redis_url = queue.url(n + 1) if queue is not None else None  # a fresh database each
        servers = start_servers(count, db, logs, redis_url, passwords)
        try:
            result = await load(
                servers, queue, label, args.messages, args.max_seconds, f"{name[:2]}{n}"
            )
        finally:
            for server in servers:
                server.stop()
        results.append(result)
        print(result.row(), flush=True)
    return results


def postgres_database() -> tuple[object, str] | None:
    """The tests' PostgreSQL, started, and a fresh database's URL; None if not installed."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "live"))
    from postgres_server import PostgresServer, find_binaries

    binaries = find_binaries()
    if binaries is None:
        return None
    server = PostgresServer(binaries).start()
    return server, server.new_database()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--messages", type=int, default=3000, help="messages per run, at most (default 3000)"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=10.0, help="time cap per run (default 10)"
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.max_seconds = 300, 3.0
    if not RedisProcess.installed():
        print("many_servers: redis-server is not installed: apt-get install redis-server")
        return 2
    postgres = None if args.no_postgres else postgres_database()
    with tempfile.TemporaryDirectory(prefix="chatkit-bench-many-") as tmp:
        work = Path(tmp)
        logs = work / "logs"
        logs.mkdir()
        redis = RedisProcess(work).start()
        try:
            print(HEADER, flush=True)
            asyncio.run(on_database("SQLite", work / "live.sqlite3", redis, logs, args))
            if postgres is not None:
                asyncio.run(on_database("PostgreSQL", postgres[1], redis, logs, args))
        finally:
            redis.stop()
            if postgres is not None:
                postgres[0].stop()  # type: ignore[attr-defined]
    print()
    print(
        f"×N: N server processes on one database; {CLIENTS} clients, rooms of {ROOM_SIZE} "
        "(members on different servers when several)"
    )
    if postgres is None and not args.no_postgres:
        print("PostgreSQL is not installed: its runs were left out")
    print(CAVEAT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
