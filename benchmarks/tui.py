"""Benchmark the terminal client: Enter→✓ as history grows, and the longest frame in a burst.

    python benchmarks/tui.py            # 50, 1,000 and 10,000 rows loaded (about a minute)
    python benchmarks/tui.py --quick    # 50 and 1,000 rows, a shorter burst

For each history size the chat is filled in the server's own SQLite file before
the server starts (in a process of its own, on 127.0.0.1), and ``chatkit chat``
runs headless at 80×24 with the reference flow, the way Textual's pilot drives
it in the tests, loading every stored message (pages of 500, through
``reconcile``). Then:

1. **Enter→✓**: a message is typed and Enter pressed; the clock stops when its
   row shows the tick and the screen has been redrawn. Repeated, one at a time;
   the median and the worst are reported.
2. **The longest frame in a burst**: 200 messages typed with no pause (all keys
   queued at once). A watcher on the event loop records how late each of its
   5 ms ticks ran: the longest delay is the longest time the loop did anything
   else at a stretch — a redraw, a key, an ack. Also reported: the longest
   single redraw of the pane, how many redraws the burst cost, and whether any
   row was ever shown failed.

Goal: Enter→✓ under 50 ms with 10,000 rows loaded. The figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual import events
from textual.pilot import Pilot

from chatkit.live.storage.messages import SQLiteStore
from chatkit.live.tools.process import ServerProcess
from chatkit.model import ServerMessage, Status
from chatkit.target import load_flow, resolve_target
from chatkit.tui.app import ChatApp
from chatkit.tui.pane import ChatPane
from chatkit.tui.session import ChatSession

SIZES = (50, 1_000, 10_000)
QUICK_SIZES = (50, 1_000)
PROBES = 15
BURST = 200
QUICK_BURST = 50
PAGE = 500
CHAT = "general"
TICK_S = 0.005
WAIT_S = 60.0
GOAL_MS = 50.0
SCREEN = (80, 24)


@dataclass
class Figures:
    rows: int
    enter_median_ms: float
    enter_worst_ms: float
    ack_median_ms: float
    client_median_ms: float
    """Enter→✓ less the wait for the ack: what the client itself spends."""
    burst: int
    burst_s: float
    longest_stall_ms: float
    longest_redraw_ms: float
    redraws: int
    ever_failed: int


async def until(pilot: Pilot[None], holds: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not holds():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the benchmark got stuck waiting until {what}")
        await pilot.pause()


async def seed(db: Path, count: int) -> None:
    """``count`` messages by carol in the chat, written straight into the store."""
    store = SQLiteStore(db)
    await store.open()
    try:
        await asyncio.gather(
            *(store.append(CHAT, f"seed-{n}", "carol", f"old message {n}") for n in range(count))
        )
    finally:
        await store.close()


class StallWatch:
    """How late a 5 ms tick on the event loop runs: the longest stretch the loop was busy."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK_S)
            self.longest = max(self.longest, time.perf_counter() - before - TICK_S)

    def __enter__(self) -> StallWatch:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


def time_redraws(pane: ChatPane) -> list[float]:
    """Record each redraw's duration in the returned list."""
    durations: list[float] = []
    pane.on_redrawn = durations.append
    return durations


def time_acks(session: ChatSession) -> list[float]:
    """Record how long each send waits for the server's ack (the part the UI cannot help)."""
    acks: list[float] = []
    send = session.transport.send

    async def timed(chat_id: str, client_id: str, body: str) -> ServerMessage:
        start = time.perf_counter()
        try:
            return await send(chat_id, client_id, body)
        finally:
            acks.append(time.perf_counter() - start)

    session.transport.send = timed  # type: ignore[method-assign]
    return acks


async def enter_to_tick(app: ChatApp, pane: ChatPane, body: str) -> float:
    """Seconds from Enter reaching the app to the first painted frame with the row's tick.

    The Enter goes into the app's queue the way a terminal delivers it, and the
    clock stops in a callback Textual runs after the screen refresh that follows
    the redraw showing the tick (`App.call_after_refresh`): no polling in between.
    """
    pane.input.text = body
    painted: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def watched(seconds: float) -> None:
        rows = pane.timeline.rows
        if painted.done() or not rows or rows[-1].message.body != body:
            return
        if rows[-1].shown[-1] is Status.SENT:
            app.call_after_refresh(stop_clock)

    def stop_clock() -> None:
        if not painted.done():
            painted.set_result(time.perf_counter())

    pane.on_redrawn = watched
    try:
        start = time.perf_counter()
        app.post_message(key_event(app, "enter"))
        return await asyncio.wait_for(painted, WAIT_S) - start
    finally:
        pane.on_redrawn = None


async def measure(rows: int, burst: int, work: Path) -> Figures:
    db = work / f"chat-{rows}.sqlite3"
    await seed(db, rows)
    server = ServerProcess(db, work / f"server-{rows}.log", ["--rate", "0"]).start()
    try:
        path = resolve_target("solution")
        session = ChatSession(
            load_flow(path),
            path,
            server.url,
            "ada",
            CHAT,
            password=server.account("ada"),
            page_size=PAGE,
        )
        app = ChatApp(session)
        async with app.run_test(size=SCREEN) as pilot:
            pane = app.pane
            await until(pilot, lambda: len(pane.timeline.rows) >= min(rows, PAGE), "connected")
            while session.older_left:
                await session.load_older()
                await pilot.pause()
            await until(pilot, lambda: len(pane.timeline.rows) == rows, f"{rows} rows are in")
            pane.input.focus()
            await pilot.pause()
            acks = time_acks(session)
            times = [await enter_to_tick(app, pane, f"probe {n}") for n in range(PROBES)]
            own = [total - ack for total, ack in zip(times, acks, strict=True)]

            redraws = time_redraws(pane)
            before = len(pane.timeline.rows)
            start = time.perf_counter()
            with StallWatch() as watch:
                for n in range(burst):
                    for key in [*f"b{n}", "enter"]:
                        app.post_message(key_event(app, key))
                failed: set[str] = set()

                def settled() -> bool:
                    shown = pane.timeline.rows[before:]
                    failed.update(r.client_id for r in shown if r.status is Status.FAILED)
                    return len(shown) == burst and all(r.status is Status.SENT for r in shown)

                await until(pilot, settled, "the burst is sent")
            took = time.perf_counter() - start
            await pilot.press("ctrl+q")
    finally:
        server.stop()
    return Figures(
        rows=rows,
        enter_median_ms=statistics.median(times) * 1000,
        enter_worst_ms=max(times) * 1000,
        ack_median_ms=statistics.median(acks[:PROBES]) * 1000,
        client_median_ms=statistics.median(own) * 1000,
        burst=burst,
        burst_s=took,
        longest_stall_ms=watch.longest * 1000,
        longest_redraw_ms=max(redraws, default=0.0) * 1000,
        redraws=len(redraws),
        ever_failed=len(failed),
    )


def key_event(app: ChatApp, key: str) -> events.Key:
    """A key as the terminal delivers it, queued behind the others (no waiting in between)."""
    event = events.Key(key, "\r" if key == "enter" else key)
    event.set_sender(app)
    return event


def report(figures: list[Figures]) -> None:
    load = os.getloadavg()[0]
    print(
        f"terminal client, headless at {SCREEN[0]}×{SCREEN[1]}, reference flow, loopback "
        f"server; load average {load:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"{'rows':>7}  {'Enter→✓ med':>11}  {'worst':>8}  {'ack med':>8}  {'client med':>10}  "
        f"{'burst':>5}  {'took':>6}  {'longest stall':>13}  {'longest redraw':>14}  "
        f"{'redraws':>7}  {'✗ shown':>7}"
    )
    for f in figures:
        print(
            f"{f.rows:>7,}  {f.enter_median_ms:>8.1f} ms  {f.enter_worst_ms:>5.1f} ms  "
            f"{f.ack_median_ms:>5.1f} ms  {f.client_median_ms:>7.1f} ms  {f.burst:>5}  "
            f"{f.burst_s:>4.1f} s  {f.longest_stall_ms:>10.1f} ms  "
            f"{f.longest_redraw_ms:>11.1f} ms  {f.redraws:>7}  {f.ever_failed:>7}"
        )
    biggest = figures[-1]
    verdict = "met" if biggest.enter_median_ms < GOAL_MS else "NOT met"
    print(
        f"goal: Enter→✓ under {GOAL_MS:g} ms with {biggest.rows:,} rows — {verdict} "
        f"(median {biggest.enter_median_ms:.1f} ms, of which {biggest.ack_median_ms:.1f} ms "
        "waiting for the ack)"
    )


async def run(sizes: tuple[int, ...], burst: int) -> list[Figures]:
    with tempfile.TemporaryDirectory(prefix="chatkit-tui-bench-") as folder:
        return [await measure(rows, burst, Path(folder)) for rows in sizes]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rows, a shorter burst")
    args = parser.parse_args()
    sizes, burst = (QUICK_SIZES, QUICK_BURST) if args.quick else (SIZES, BURST)
    report(asyncio.run(run(sizes, burst)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
