"""How much the grader costs, and how fast the reference reconcile is.

1. The grader's wall time on the solution against bare pytest running the same
   scenarios (both in a fresh process, best of a few runs), and their ratio.
2. What confining the process that runs learner code costs each time one starts
   (`chatkit.sandbox.confine`; every phone is confined as it starts), and what a phone
   costs: forked from the warm template, confined, its flow loaded, hung up (`chatkit.phone`),
   and one command's round trip to it and back.
3. Reconcile events per second on the solution with 1k, 100k and 1M messages of
   history: half echoes of someone else's new messages, half duplicate echoes.

Run: ``python benchmarks/grader.py`` (add ``--quick`` to skip the 1M history).
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
from datetime import UTC, datetime

from chatkit import ChatState, Message, ServerMessage
from chatkit.kit_home import kit_root
from chatkit.phone.link import PhoneTemplate
from chatkit.target import load_flow, resolve_target

RUNS = 5
EVENTS = 200_000


def best_wall_time(command: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, cwd=kit_root(), capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return min(times)


def grader_overhead() -> None:
    grader = best_wall_time([sys.executable, "grader.py", "--target", "solution", "--quiet"])
    pytest = best_wall_time(
        [sys.executable, "-m", "pytest", "tests/scenarios", "-q", "-p", "no:cacheprovider"]
    )
    print(f"grader on the solution   {grader:6.2f} s  (best of {RUNS})")
    print(f"bare pytest, same tests  {pytest:6.2f} s")
    print(f"ratio                    {grader / pytest:6.2f}")


CONFINE_ONCE = """
import time
from pathlib import Path
from chatkit.sandbox.confine import confine, confinement_notice
start = time.perf_counter()
confine(Path("solution").resolve(), [Path("tests/scenarios").resolve()], None)
print(time.perf_counter() - start, confinement_notice() or "")
"""


def confinement_cost() -> None:
    """The time ``confine`` takes in a fresh process, best of a few."""
    runs = [
        subprocess.run(
            [sys.executable, "-c", CONFINE_ONCE],
            cwd=kit_root(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split(maxsplit=1)
        for _ in range(RUNS)
    ]
    notice = runs[0][1].strip() if len(runs[0]) > 1 else ""
    cost = min(float(run[0]) for run in runs) * 1000
    print(f"confining one child      {cost:6.2f} ms  (best of {RUNS}) {notice}".rstrip())


PHONES = 50
ROUND_TRIPS = 2_000


def phone_cost() -> None:
    """A phone's cost from the judge's side: its start and end, and one idle round trip."""
    template = PhoneTemplate(resolve_target("solution"))
    try:
        template.phone("warm-up", "you", "you").close()
        start = time.perf_counter()
        for number in range(PHONES):
            phone = template.phone("benchmark", f"phone {number}", "you")
            phone.hello()
            phone.close()
        started = (time.perf_counter() - start) / PHONES
        phone = template.phone("benchmark", "you", "you")
        phone.hello()
        start = time.perf_counter()
        for _ in range(ROUND_TRIPS):
            phone.call({"do": "settle"})
        round_trip = (time.perf_counter() - start) / ROUND_TRIPS
        phone.close()
    finally:
        template.close()
    print(f"a phone, start to end    {started * 1000:6.2f} ms  (mean of {PHONES})")
    print(f"a command's round trip   {round_trip * 1e6:6.0f} µs  (mean of {ROUND_TRIPS:,})")


def reconcile_rate(history: int) -> float:
    flow = load_flow(resolve_target("solution"))
    state = ChatState("you")
    when = datetime(2026, 1, 1, tzinfo=UTC)

    def server_message(n: int) -> ServerMessage:
        return ServerMessage(n, "general", n, f"bob-{n}", "bob", f"message {n}", when)

    for n in range(1, history + 1):
        state.add(Message.from_server(server_message(n)))
    gc.collect()
    gc.freeze()  # the loaded history is long-lived: keep the collector from rescanning it
    fresh = [server_message(history + n) for n in range(1, EVENTS // 2 + 1)]
    repeats = [server_message(n) for n in range(1, EVENTS // 2 + 1)]
    events = [event for pair in zip(fresh, repeats, strict=True) for event in pair]
    start = time.perf_counter()
    for event in events:
        flow.reconcile(state, event)
    elapsed = time.perf_counter() - start
    gc.unfreeze()
    return len(events) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip the 1M-message history")
    args = parser.parse_args()
    grader_overhead()
    confinement_cost()
    phone_cost()
    print()
    sizes = (1_000, 100_000) if args.quick else (1_000, 100_000, 1_000_000)
    for size in sizes:
        print(f"reconcile, {size:>9,} messages of history  {reconcile_rate(size):>10,.0f} events/s")


if __name__ == "__main__":
    main()
