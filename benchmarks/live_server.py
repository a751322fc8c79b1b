"""Benchmark the live server on loopback: throughput and ack latency, against a naive baseline.

    python benchmarks/live_server.py            # the full run (about half a minute)
    python benchmarks/live_server.py --quick    # a smoke run

What it measures, each against a real server in its own process on 127.0.0.1:

1. The live server (SQLite, WAL, synchronous=FULL, group commit) with 10,000
   messages already stored, at 1, 10 and 50 concurrent Socket.IO clients. Each
   client sends one message at a time and waits for its ack (a closed loop, the
   way a person or a flow sends); clients share chats in rooms of two, so every
   message is also broadcast to the sender and to one other member. Reported:
   messages acked per second, and the 50th and 99th percentile of the time from
   emit to ack.
2. A naive baseline: the same server code with its storage swapped (through
   the `MessageStore` interface) for the simplest store there is — one JSON file holding
   every message, rewritten on every message — also with 10,000 stored, at 10
   clients. And the ratio of the two at 10 clients.
3. The two stores alone, in-process, one append at a time with 10,000 stored
   (no network): how much of the difference is storage.

4. Which side is the bottleneck: for every run, the CPU time of the server process,
   of the benchmark's own clients (this process) and of everything else on the
   machine ("others", in cores: 0% is a quiet machine), as shares of one core; and
   at the top concurrency each side's CPU time per message. Each side runs on one
   event loop, so each tops out near one core: the side with more CPU per message
   is the ceiling, whatever else the machine was doing.

Clients sign in (scrypt, slow on purpose) before the clock starts, and the server
runs with ``--rate 0``: the benchmark measures capacity, not the per-session limit.
The clients run on the event loop the server runs on (uvloop where it is installed,
`chatkit.live.server.event_loop`), so the two sides are measured alike. Every load
loop is bounded both in messages and in seconds. Goals, in one server process: at 50
clients at least 5,000 messages/s with p99 ack under 20 ms, and at least 100x the
baseline (both with 10,000 messages stored). On a machine of two cores the server and
the clients each need most of one, so "others" must stay near 0% for the goals to
be a fair test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from chatkit.live.client.transports import SocketIOTransport
from chatkit.live.server import event_loop
from chatkit.live.storage.messages import Appended, MessageStore, Page, SQLiteStore
from chatkit.live.tools.process import ServerProcess
from chatkit.live.wire import message_from_wire, message_to_wire, ms_to_datetime
from chatkit.model import DeliveryError, ServerMessage

SEEDED = 10_000
"""Messages already stored before any measurement, in both stores."""
ROOM_SIZE = 2
START_TIMEOUT_S = 20.0
GOAL_RATE = 5_000
GOAL_P99_MS = 20.0
GOAL_RATIO = 100.0


class JsonFileStore:
    """The simplest store there is, for comparison: every message rewrites one JSON file.

    Generous to the baseline where it costs nothing: duplicates are found through
    an in-memory index, not by scanning. The file is rewritten synchronously, as a
    first chat server written in an afternoon does it, and never synced to disk.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[ServerMessage] = []
        self._by_client_id: dict[tuple[str, str], ServerMessage] = {}
        self._last_seq: dict[str, int] = {}

    async def open(self) -> None:
        if self.path.exists():
            for item in json.loads(self.path.read_text()):
                self._keep(message_from_wire(item))

    async def close(self) -> None:
        pass

    async def append(self, chat_id: str, client_id: str, author: str, body: str) -> Appended:
        existing = self._by_client_id.get((chat_id, client_id))
        if existing is not None:
            return Appended(existing, created=False)
        message = ServerMessage(
            id=len(self.messages) + 1,
            chat_id=chat_id,
            seq=self._last_seq.get(chat_id, 0) + 1,
            client_id=client_id,
            author=author,
            body=body,
            created_at=ms_to_datetime(time.time_ns() // 1_000_000),
        )
        self._keep(message)
        self.path.write_text(json.dumps([message_to_wire(m) for m in self.messages]))
        return Appended(message, created=True)

    async def page(
        self, chat_id: str, *, after: int | None = None, before: int | None = None, limit: int
    ) -> Page:
        chat = [m for m in self.messages if m.chat_id == chat_id]
        if after is not None:
            rest = [m for m in chat if m.seq > after]
            return Page(rest[:limit], len(rest) > limit)
        rest = [m for m in chat if before is None or m.seq < before]
        return Page(rest[-limit:], len(rest) > limit)

    async def check(self) -> None:
        pass

    def _keep(self, message: ServerMessage) -> None:
        self.messages.append(message)
        self._by_client_id[(message.chat_id, message.client_id)] = message
        self._last_seq[message.chat_id] = message.seq


def _seed_messages(n: int) -> list[tuple[str, str, str, str]]:
    return [("archive", f"seed-{i}", "seed", f"an old message, number {i}") for i in range(n)]


async def seed_sqlite(path: Path, n: int) -> None:
    store = SQLiteStore(path)
    await store.open()
    try:
        await asyncio.gather(*(store.append(*values) for values in _seed_messages(n)))
    finally:
        await store.close()


async def seed_json(path: Path, n: int) -> None:
    """The baseline's file with ``n`` messages, written once (not once per message)."""
    when = ms_to_datetime(time.time_ns() // 1_000_000)
    store = JsonFileStore(path)
    for number, (chat_id, client_id, author, body) in enumerate(_seed_messages(n), start=1):
        store._keep(ServerMessage(number, chat_id, number, client_id, author, body, when))
    path.write_text(json.dumps([message_to_wire(m) for m in store.messages]))


# The server, in a process of its own.


SIGN_IN_AT_ONCE = 8
"""Clients signing in together (each costs the server a scrypt check), so none times out."""
SERVER_ARGS = ["--rate", "0"]
"""The benchmark measures what the server can carry, so the per-session rate limit (a
policy for a shared classroom server, 50 requests a second by default) is off."""


def start_sqlite_server(db: Path, logs: Path) -> ServerProcess:
    server = ServerProcess(
        db, logs / "sqlite-server.log", SERVER_ARGS, start_timeout=START_TIMEOUT_S
    )
    return server.start()


def start_json_server(path: Path, logs: Path) -> ServerProcess:
    program = [sys.executable, __file__, "--serve-json"]
    server = ServerProcess(
        path,
        logs / "json-server.log",
        SERVER_ARGS,
        program=program,
        start_timeout=START_TIMEOUT_S,
        accounts_db=path.with_suffix(".accounts.sqlite3"),  # the JSON file holds messages only
    )
    return server.start()


def serve_json(argv: list[str]) -> int:
    """The baseline server: the live server's code and options, over `JsonFileStore` at ``--db``."""
    from chatkit.live.cli import add_arguments, settings_from
    from chatkit.live.server.assembly import serve

    parser = argparse.ArgumentParser(prog=f"{Path(__file__).name} --serve-json")
    add_arguments(parser)
    settings = settings_from(parser.parse_args(argv))
    with contextlib.suppress(KeyboardInterrupt):
        event_loop.run(serve(settings, JsonFileStore(settings.db_path)))
    return 0


# The load.


@dataclass
class Result:
    label: str
    clients: int
    sent: int
    failed: int
    seconds: float
    latencies_ms: list[float]
    server_cpu: float = math.nan
    """The server process's CPU time over the run, as a share of one core (1.0 = busy)."""
    client_cpu: float = math.nan
    """This process's (the benchmark clients') CPU time over the run, the same way."""
    other_cpu: float = math.nan
    """Every other process's CPU time over the run, in cores: whether the machine was quiet."""

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]

    def row(self) -> str:
        return (
            f"{self.label:<28} {self.clients:>7} {self.sent:>8} {self.rate:>10.0f} "
            f"{self.percentile(50):>9.2f} {self.percentile(99):>9.2f} {self.failed:>7} "
            f"{_share(self.server_cpu):>8} {_share(self.client_cpu):>8} "
            f"{_share(self.other_cpu):>8}"
        )

    def bottleneck(self) -> str:
        """Which side held the rate, and what each could do with a core of its own.

        CPU time per message does not depend on how busy the machine is: all of the
        server's work is on one event loop, and so is all of the clients', so one
        side alone on a core tops out near 1 / (its CPU time per message).
        """
        if not self.sent or math.isnan(self.server_cpu) or math.isnan(self.client_cpu):
            return "not measured"
        server_ms = self.server_cpu * self.seconds / self.sent * 1000
        client_ms = self.client_cpu * self.seconds / self.sent * 1000
        ceiling = "the server" if server_ms >= client_ms else "the benchmark's clients"
        if max(self.server_cpu, self.client_cpu) >= BUSY:
            held = "the server" if self.server_cpu >= self.client_cpu else "the clients"
            now = f"{held} had its core full"
        else:
            now = "neither had a full core (the machine was shared, or the disk waited)"
        return (
            f"server {server_ms:.2f} ms CPU a message (~{1000 / server_ms:,.0f} msgs/s on a "
            f"core of its own), clients {client_ms:.2f} ms (~{1000 / client_ms:,.0f} msgs/s): "
            f"{ceiling} is the ceiling; in this run {now}"
        )


HEADER = (
    f"{'run':<28} {'clients':>7} {'acked':>8} {'msgs/s':>10} "
    f"{'p50 ms':>9} {'p99 ms':>9} {'errors':>7} {'srv cpu':>8} {'cli cpu':>8} {'others':>8}"
)
BUSY = 0.9
"""A process whose CPU time was this share of the wall time had its one core full: all
of the server's work is on one event loop, and so is all of the clients'."""


def _share(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0%}"


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy, over all cores (Linux ``/proc/stat``)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    server: ServerProcess, label: str, clients: int, total: int, max_seconds: float, tag: str
) -> Result:
    """``clients`` connections, each sending one message at a time until ``total``
    messages are acked or ``max_seconds`` pass, whichever comes first. Making the
    accounts and signing in (scrypt, on purpose slow) happen before the clock starts."""
    users = [f"{tag}-u{i}" for i in range(clients)]
    transports = [
        SocketIOTransport(server.url, user, password=server.account(user), reconnection=False)
        for user in users
    ]
    pids = [server.process.pid] if server.process is not None else []
    return await drive(transports, pids, label, total, max_seconds, tag)


async def drive(
    transports: list[SocketIOTransport],
    pids: list[int],
    label: str,
    total: int,
    max_seconds: float,
    tag: str,
) -> Result:
    """Sign ``transports`` in, put each pair in a room, and have each send one message at
    a time until ``total`` are acked or ``max_seconds`` pass; the servers' CPU is read
    from ``pids`` (all the processes serving them; none: not measured)."""
    signing_in = asyncio.Semaphore(SIGN_IN_AT_ONCE)

    async def connect(transport: SocketIOTransport) -> None:
        async with signing_in:
            await transport.connect()

    await asyncio.gather(*(connect(t) for t in transports))
    await asyncio.gather(*(t.join(f"{tag}-room{i // ROOM_SIZE}") for i, t in enumerate(transports)))
    per_client = math.ceil(total / len(transports))
    latencies: list[float] = []
    failed = 0
    deadline = time.perf_counter() + max_seconds

    async def client(i: int, transport: SocketIOTransport) -> None:
        nonlocal failed
        chat_id = f"{tag}-room{i // ROOM_SIZE}"
        for n in range(per_client):
            if time.perf_counter() > deadline:
                return
            started = time.perf_counter()
            try:
                await transport.send(chat_id, f"{tag}-{i}-{n}", f"message {n} from client {i}")
            except DeliveryError:
                failed += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    def servers_cpu() -> float:
        return sum(_cpu_seconds(pid) for pid in pids) if pids else math.nan

    servers_before = servers_cpu()
    client_before = time.process_time()
    machine_before = _machine_busy_seconds()
    began = time.perf_counter()
    await asyncio.gather(*(client(i, t) for i, t in enumerate(transports)))
    seconds = time.perf_counter() - began
    client_cpu = (time.process_time() - client_before) / seconds
    server_cpu = (servers_cpu() - servers_before) / seconds
    machine = (_machine_busy_seconds() - machine_before) / seconds
    other_cpu = max(0.0, machine - server_cpu - client_cpu)
    await asyncio.gather(*(t.close() for t in transports))
    return Result(
        label,
        len(transports),
        len(latencies),
        failed,
        seconds,
        latencies,
        server_cpu,
        client_cpu,
        other_cpu,
    )


async def store_alone(store: MessageStore, label: str, count: int, max_seconds: float) -> Result:
    await store.open()
    latencies: list[float] = []
    deadline = time.perf_counter() + max_seconds
    began = time.perf_counter()
    try:
        for n in range(count):
            if time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            await store.append("direct", f"direct-{n}", "bench", f"message {n}")
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await store.close()
    return Result(label, 1, len(latencies), 0, time.perf_counter() - began, latencies)


async def benchmark(args: argparse.Namespace, work: Path) -> dict[str, object]:
    logs = work / "logs"
    logs.mkdir()
    levels = [int(n) for n in args.clients.split(",")]
    sqlite_db, json_file = work / "live.sqlite3", work / "seed-store.json"
    await seed_sqlite(sqlite_db, SEEDED)
    await seed_json(json_file, SEEDED)
    results: list[Result] = []

    server = start_sqlite_server(sqlite_db, logs)
    try:
        await load(server, "warm-up", 10, 500, 5, "warm")
        for clients in levels:
            results.append(
                await load(
                    server,
                    "live server (SQLite)",
                    clients,
                    args.messages,
                    args.max_seconds,
                    f"c{clients}",
                )
            )
            print(
                results[-1].row() if len(results) > 1 else HEADER + "\n" + results[-1].row(),
                flush=True,
            )
    finally:
        server.stop()

    baseline_server = start_json_server(json_file, logs)
    try:
        baseline = await load(
            baseline_server,
            "naive baseline (JSON file)",
            args.baseline_clients,
            args.baseline_messages,
            args.max_seconds,
            "json",
        )
        print(baseline.row(), flush=True)
    finally:
        baseline_server.stop()

    copy = work / "alone.sqlite3"
    await seed_sqlite(copy, SEEDED)
    alone_sqlite = await store_alone(SQLiteStore(copy), "SQLiteStore alone", 2000, 10)
    alone_json = await store_alone(JsonFileStore(json_file), "JsonFileStore alone", 300, 10)
    print(alone_sqlite.row())
    print(alone_json.row())

    same = next(r for r in results if r.clients == args.baseline_clients)
    ratio = same.rate / baseline.rate if baseline.rate else math.inf
    top = max(results, key=lambda r: r.clients)
    verdict = {
        "rate_goal": top.rate >= GOAL_RATE,
        "p99_goal": top.percentile(99) < GOAL_P99_MS,
        "ratio_goal": ratio >= GOAL_RATIO,
    }
    print()
    print(f"stored before measuring: {SEEDED:,} messages in each store; rooms of {ROOM_SIZE}")
    print(f"live vs naive baseline at {args.baseline_clients} clients: {ratio:.1f}x")
    print(f"what held the rate at {top.clients} clients: {top.bottleneck()}")
    print(
        f"goals at {top.clients} clients: >= {GOAL_RATE} msgs/s "
        f"[{'met' if verdict['rate_goal'] else 'MISSED'}], p99 < {GOAL_P99_MS:.0f} ms "
        f"[{'met' if verdict['p99_goal'] else 'MISSED'}]; >= {GOAL_RATIO:.0f}x baseline "
        f"[{'met' if verdict['ratio_goal'] else 'MISSED'}]"
    )
    return {
        "seeded": SEEDED,
        "room_size": ROOM_SIZE,
        "results": [
            {
                "run": r.label,
                "clients": r.clients,
                "acked": r.sent,
                "errors": r.failed,
                "seconds": round(r.seconds, 3),
                "msgs_per_s": round(r.rate, 1),
                "p50_ms": round(r.percentile(50), 3),
                "p99_ms": round(r.percentile(99), 3),
                "server_cpu": None if math.isnan(r.server_cpu) else round(r.server_cpu, 3),
                "client_cpu": None if math.isnan(r.client_cpu) else round(r.client_cpu, 3),
                "other_cpu": None if math.isnan(r.other_cpu) else round(r.other_cpu, 3),
            }
            for r in [*results, baseline, alone_sqlite, alone_json]
        ],
        "ratio_vs_baseline": round(ratio, 1),
        "goals": verdict,
    }


def main() -> int:
    if sys.argv[1:2] == ["--serve-json"]:  # the baseline server, run by `start_json_server`
        return serve_json(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,10,50", help="concurrency levels (default 1,10,50)")
    parser.add_argument(
        "--messages", type=int, default=5000, help="messages per level, at most (default 5000)"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=15.0, help="time cap per level (default 15)"
    )
    parser.add_argument("--baseline-clients", type=int, default=10)
    parser.add_argument("--baseline-messages", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke test")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.baseline_messages, args.max_seconds = 500, 100, 5.0
    if args.baseline_clients not in [int(n) for n in args.clients.split(",")]:
        parser.error("--baseline-clients must be one of --clients, to compare like with like")
    with tempfile.TemporaryDirectory(prefix="chatkit-bench-") as tmp:
        figures = event_loop.run(benchmark(args, Path(tmp)))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    goals = figures["goals"]
    return 0 if isinstance(goals, dict) and all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
