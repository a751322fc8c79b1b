"""The "all timelines" explorer: every ordering of a small world, every rule after every step.

The hand-written scenarios pick a few orderings of acks, echoes and failures; a
real network picks any. Describe a small world — a few sends, what becomes of
each, how many echoes, a retry, a message from bob — and `explore` runs the
flow's ``send``, ``reconcile`` and ``rollback`` under every ordering of it that
respects causality, checking the design's rules after each step::

    from chatkit.engine.timelines import explore

    result = explore(flow)          # the default world (size 3)
    print(result.summary())         # "62,370 timelines checked …"
    result.raise_if_broken()        # the shortest ordering that breaks a rule, told

`world.py` says what a world is and which orderings it allows, `run.py` drives one
client through one ordering and checks it, `explore.py` walks all of them. A state is
keyed twice over: what the judge sees (`canon.py`) and what only the phone can
(`hidden.py`), which includes what a flow set on the classes it imports (`shipped.py`). The flow
itself runs on a `Device`: a phone of its own when grading (`PhoneDevice`, with
`chatkit.phone.timeline` on the phone's side), this process for the kit's own tests
(`LocalDevice`).
"""

from chatkit.engine.timelines.device import LocalDevice, PhoneDevice
from chatkit.engine.timelines.explore import (
    FULL,
    UNMERGED,
    Exploration,
    Explorer,
    Story,
    Strategy,
    TimelinesBroken,
    check_each,
    explore,
    explore_async,
    tell,
    verdict,
)
from chatkit.engine.timelines.run import Device, Failure, ReplayDiverged, Run
from chatkit.script.small_world import (
    DEFAULT_SIZE,
    ONE_MESSAGE,
    SERVER_ONLY,
    TWO_RETRIES,
    WORLD_SIZES,
    Event,
    EventKind,
    SendOutcome,
    SendPlan,
    SmallWorld,
    Space,
    space,
    world_of_size,
)

__all__ = [
    "DEFAULT_SIZE",
    "FULL",
    "ONE_MESSAGE",
    "SERVER_ONLY",
    "TWO_RETRIES",
    "UNMERGED",
    "WORLD_SIZES",
    "Device",
    "Event",
    "EventKind",
    "Exploration",
    "Explorer",
    "Failure",
    "LocalDevice",
    "PhoneDevice",
    "ReplayDiverged",
    "Run",
    "SendOutcome",
    "SendPlan",
    "SmallWorld",
    "Space",
    "Story",
    "Strategy",
    "TimelinesBroken",
    "check_each",
    "explore",
    "explore_async",
    "space",
    "tell",
    "verdict",
    "world_of_size",
]
