"""Every limit the kit puts on the learner's code, in one place.

Each is far above what a correct flow needs; together they make sure a broken one
(a loop, a wait that never ends, a flood of output, a huge allocation) gets its
verdict within seconds and never takes the grader down with it.
"""

from __future__ import annotations

MAX_YIELDS = 200
"""How many turns of the event loop a step may take before a send counts as stuck
(the scenario harness and the timeline explorer both wait this long)."""

SLEEP_LIMIT = 0.25
"""How many seconds a send may wait on the clock in all (``asyncio.sleep``): a debounce of
a few hundredths is fine, but a user kept waiting for "sent" or "failed" is not (a quarter
of a second is already a visible stall, on every message)."""

SCENARIO_BUDGET_SECONDS = 2.0
"""How long one scenario may run, in seconds of the wall clock; ``@pytest.mark.budget(s)``
changes it.

A correct flow needs some tens of milliseconds (its phones start and answer); the budget
only bounds what nothing else stops — a phone stuck inside one call into C — and is wide,
so a loaded machine never turns a correct scenario into a timed-out one. A send that waits
forever, or loops in Python, is stopped long before by its phone.
"""
HARD_LIMIT_GRACE = 0.5
"""pytest-timeout stops a scenario this long after its budget: the last resort for a
hang that neither the budget nor `chatkit.phone.hang_watch.HangWatch` (which stops learner
code that loops without awaiting) could end."""

CALL_LIMIT_SECONDS = 0.1
"""How long one stretch of learner code may run without returning or awaiting: time on
the processor, so a busy machine or a garbage collection never counts against it."""
SAMPLE_SECONDS = 0.01
"""How often the hang watch looks at what the learner's code is doing."""

PROBE_SECONDS = 10.0
"""How long importing the target may take."""
KILL_GRACE = 3.0
"""How long after a scenario's hard limit the grader stops waiting and kills the child."""
STARTUP_SECONDS = 30.0
"""How long a child may take to start and collect the scenarios."""

MEMORY_LIMIT = 2 * 2**30
"""How much memory (address space) the child that runs the learner's code may use."""
OUTPUT_LIMIT = 64 * 1024
"""How much of what a flow prints one scenario keeps; the rest is counted, not kept."""
FLOOD_LIMIT = 1024 * 1024
"""Printing more than this in one scenario stops it: nobody reads a megabyte of prints."""

ENDING_SECONDS = 1.0
"""How long a phone whose line closed is given to end, when the judge asks how it ended."""
