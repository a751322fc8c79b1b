"""What the learner's code may touch, and the scripted world it runs in.

A flow runs on phones of its own, but what it may touch there is kept small and its
runs the same every time. Three parts see to it:

- `chatkit.sandbox.check` reads the source before anything runs and refuses, with
  the line, whatever a flow has no business doing (files, the environment, frames,
  the kit's internals, the reference solution);
- `chatkit.sandbox.device` runs each device's own fresh copy of the flow behind an
  import gate that hands out only the kit's public names and a few harmless modules;
- `chatkit.sandbox.world` gives those copies a scripted clock and seeded chance, so
  the same code gets the same score on every run.

Beneath them, `chatkit.sandbox.confine` confines the whole process that runs learner
code where the system allows (Linux: `chatkit.sandbox.landlock` for files,
`chatkit.sandbox.seccomp` for sockets, processes and signals).
"""

from chatkit.sandbox.check import Uncheckable, Violation, check_target
from chatkit.sandbox.device import FlowCode
from chatkit.sandbox.world import LIVE, ScriptedClock, ScriptedWorld, World

__all__ = [
    "LIVE",
    "FlowCode",
    "ScriptedClock",
    "ScriptedWorld",
    "Uncheckable",
    "Violation",
    "World",
    "check_target",
]
