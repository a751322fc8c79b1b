"""How fast the timeline explorer is, and how the number of timelines grows with the world.

1. The reference solution at the default world size: timelines checked per second.
   "Timelines" are complete orderings of the world's events, every one of them
   covered: run to its end, or cut short where a rule broke, or continued from a
   state already explored (merging). Both numbers are printed: the orderings
   *covered* and those actually *run* event by event to their end; and the events
   run per second, which is the engine's raw speed (the flow in this process, no
   phone: `LocalDevice`).
2. The "all timelines" family's wall time: its scenario file under pytest, in a
   fresh process, against the solution (best of a few runs) — pytest's own session
   time and the whole process with interpreter start-up — and the explorer's own
   time for each of its three worlds as grading runs it: the flow on a phone of its
   own, each step a round trip (or a report the phone sent ahead).
3. How the count grows with the world size: orderings, distinct states, events run
   and time per size.
4. What each part of the strategy is worth, at the default size: merging states,
   skipping server-only events, reusing the run that reached a point, replaying
   without checks — and deep copies, which cannot work (a suspended coroutine
   cannot be copied).

Run: ``python benchmarks/timelines.py`` (``--max-size 5`` adds the 73-million world,
about half a minute; ``--quick`` does one run of each). Goals: at least 10,000
orderings at the default size, at least 20,000 timelines a second on the solution,
the family under a second.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import re
import subprocess
import sys
import time

from chatkit.engine.remote import RemotePhone
from chatkit.engine.timelines import (
    DEFAULT_SIZE,
    FULL,
    ONE_MESSAGE,
    TWO_RETRIES,
    UNMERGED,
    Exploration,
    Explorer,
    LocalDevice,
    PhoneDevice,
    SmallWorld,
    Strategy,
    explore_async,
    space,
    world_of_size,
)
from chatkit.kit_home import kit_root
from chatkit.phone.link import PhoneTemplate
from chatkit.phone.timeline import DeviceRun
from chatkit.protocols import Flow
from chatkit.sandbox import ScriptedWorld
from chatkit.script.server import ScriptedServer
from chatkit.script.small_world import EventKind
from chatkit.target import load_flow, resolve_target

GOAL_ORDERINGS = 10_000
GOAL_RATE = 20_000
GOAL_FAMILY_SECONDS = 1.0


def best(flow: Flow, world: SmallWorld, runs: int, strategy: Strategy = FULL) -> Exploration:
    """The fastest of ``runs`` explorations (they find the same; only the time differs)."""

    async def walk() -> Exploration:
        device = LocalDevice(flow)
        explorer = Explorer(device, world, strategy=strategy)
        generator = explorer.walk()
        try:
            while True:
                try:
                    next(generator)
                except StopIteration as done:
                    result: Exploration = done.value
                    return result
        finally:
            device.close()

    results = [asyncio.run(walk()) for _ in range(runs)]
    return min(results, key=lambda result: result.seconds)


class _Unheard:
    """A scenario's hooks, for a phone explored on its own (the explorer checks)."""

    def paused(self, *_: object) -> None:
        pass

    def requested(self, *_: object) -> None:
        pass


def on_a_phone(world: SmallWorld, runs: int) -> Exploration:
    """The fastest of ``runs`` explorations of ``world`` with the solution on a phone."""
    template = PhoneTemplate(resolve_target("solution"))
    scripted = ScriptedWorld("timelines benchmark")

    async def walk() -> Exploration:
        link = template.phone(scripted.name, "you", "you")
        phone = RemotePhone(
            link, "you", "you", ScriptedServer(), _Unheard(), print, lambda: scripted.clock.now
        )
        return await explore_async(PhoneDevice(phone), world)

    try:
        results = [asyncio.run(walk()) for _ in range(runs)]
    finally:
        template.close()
    return min(results, key=lambda result: result.seconds)


def rate(result: Exploration) -> str:
    return f"{result.orderings / result.seconds:>13,.0f}/s"


def solution_speed(flow: Flow, runs: int) -> None:
    world = world_of_size(DEFAULT_SIZE)
    result = best(flow, world, runs)
    print(f"1. The solution, default world (size {DEFAULT_SIZE}): {world.describe()}")
    print(f"   orderings covered (every one checked)  {result.orderings:>12,}")
    print(f"   orderings run event by event to the end {result.executed:>11,}")
    print(f"   distinct states explored               {result.states:>12,}")
    print(
        f"   events run and checked                 {result.transitions:>12,}"
        f"   (+ {result.replayed:,} replayed unchecked, {result.shortcuts:,} skipped as known)"
    )
    print(f"   wall time                              {result.seconds:>12.3f} s")
    print(
        f"   timelines per second                   {result.orderings / result.seconds:>12,.0f}"
        f"   (goal {GOAL_RATE:,}: {'met' if result.orderings / result.seconds >= GOAL_RATE else 'MISSED'})"
    )
    print(
        f"   events checked per second              {result.transitions / result.seconds:>12,.0f}"
    )
    plain = best(flow, world_of_size(2), runs, UNMERGED)
    print(
        f"   without merging (size 2, {plain.orderings:,} orderings each run to its end): "
        f"{plain.executed / plain.seconds:,.0f} orderings/s"
    )
    print(
        f"   goal of {GOAL_ORDERINGS:,} orderings at the default size: "
        f"{'met' if result.orderings >= GOAL_ORDERINGS else 'MISSED'}"
    )
    print()


def family_time(flow: Flow, runs: int) -> None:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "tests/scenarios/test_all_timelines.py",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    walls, sessions = [], []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=kit_root(), capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - start)
        said = re.search(r"passed in ([0-9.]+)s", done.stdout)
        sessions.append(float(said.group(1)) if said else float("nan"))
    worlds = {
        "one message": ONE_MESSAGE,
        f"three messages (size {DEFAULT_SIZE})": world_of_size(DEFAULT_SIZE),
        "two retries": TWO_RETRIES,
    }
    results = {name: on_a_phone(world, runs) for name, world in worlds.items()}
    explored = sum(result.seconds for result in results.values())
    print('2. The "all timelines" family on the solution')
    print(f"   pytest's own time for the three tests  {min(sessions):>12.3f} s")
    print(f"   the whole process (Python, pytest, all) {min(walls):>11.3f} s")
    print(
        f"   the explorer inside it, flow on a phone {explored:>11.3f} s"
        f"   (goal under {GOAL_FAMILY_SECONDS:g} s: "
        f"{'met' if explored < GOAL_FAMILY_SECONDS else 'MISSED'})"
    )
    for name, result in results.items():
        print(
            f"     {name:<28} {result.orderings:>10,} orderings  {result.seconds:.3f} s"
            f"  {rate(result)}"
        )
    print()


def growth(flow: Flow, runs: int, max_size: int) -> None:
    print("3. How the count grows with the world size (the solution)")
    print(
        f"   {'size':>4}  {'orderings':>14}  {'states':>8}  {'events run':>10}  "
        f"{'replayed':>10}  {'seconds':>8}  {'timelines/s':>15}  what the size adds"
    )
    adds = [
        "'hi', acked, echoed twice",
        "'ok', ack lost, echoed",
        "a second 'ok', refused",
        "bob posts 'hey'",
        "you retry the first 'ok'",
        "you retry the refused 'ok'",
    ]
    for size in range(1, max_size + 1):
        world = world_of_size(size)
        result = best(flow, world, runs if size <= DEFAULT_SIZE else 1)
        print(
            f"   {size:>4}  {result.orderings:>14,}  {result.states:>8,}  "
            f"{result.transitions:>10,}  {result.replayed:>10,}  {result.seconds:>8.3f}  "
            f"{rate(result)}  {adds[size - 1]}"
        )
    for size in range(max_size + 1, len(adds) + 1):
        world = world_of_size(size)
        count = space(world).completions(space(world).start)
        print(f"   {size:>4}  {count:>14,}  (not explored here)  {adds[size - 1]}")
    print()


def strategies(flow: Flow, runs: int) -> None:
    world = world_of_size(DEFAULT_SIZE)
    print(f"4. What each part of the strategy is worth (size {DEFAULT_SIZE}, the solution)")
    variants: dict[str, Strategy] = {
        "all of it (the default)": FULL,
        "no server-only shortcut": Strategy(shortcut=False),
        "a fresh replay for every branch": Strategy(reuse=False),
        "replaying with every check": Strategy(checked_replay=True),
        "no merging of states (size 2)": UNMERGED,
    }
    for name, strategy in variants.items():
        target = world_of_size(2) if not strategy.dedup else world
        result = best(flow, target, runs, strategy)
        print(
            f"   {name:<34} {result.seconds:>7.3f} s  {result.transitions:>7,} events run"
            f"  {result.replayed:>8,} replayed  {rate(result)}"
        )
    print(f"   deep copy of a run                 {deep_copy_verdict(flow)}")
    print()


def deep_copy_verdict(flow: Flow) -> str:
    async def attempt() -> str:
        run = DeviceRun(lambda loop: flow, world_of_size(DEFAULT_SIZE), None)
        run.apply(
            next(
                event
                for event, _ in space(run.world).moves(space(run.world).start)
                if event.kind is EventKind.SEND
            )
        )
        try:
            copy.deepcopy(run, {id(run.flow): run.flow})  # the flow's module itself is shared
        except TypeError as error:
            try:
                _ = copy.deepcopy(run.tasks[0].coro)
            except TypeError as inner:
                return f"impossible: {error}; the suspended send alone: {inner}"
            return f"impossible: {error}"
        return "possible (unexpected)"

    return asyncio.run(attempt())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-size", type=int, default=4, help="largest world to explore")
    parser.add_argument("--quick", action="store_true", help="one run of each, not best of 3")
    options = parser.parse_args()
    runs = 1 if options.quick else 3
    flow = load_flow(resolve_target("solution"))
    solution_speed(flow, runs)
    family_time(flow, runs)
    growth(flow, runs, options.max_size)
    strategies(flow, runs)


if __name__ == "__main__":
    main()
