"""Finding and loading a target: the starter, the solution, or a learner's folder.

A target is a ``flow.py`` with the three functions, or a folder that holds one.
Loading one runs the learner's module-level code, so the grader checks its source
first (`chatkit.sandbox.check`) and only ever loads it inside a child process.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from chatkit.kit_home import TargetError, kit_root
from chatkit.protocols import Flow
from chatkit.sandbox.check import is_link
from chatkit.sandbox.device import FlowCode
from chatkit.sandbox.world import LIVE, World

FLOW_FILE = "flow.py"
FUNCTIONS = ("send", "reconcile", "rollback")
NAMED_TARGETS = {"starter": "starter-code", "solution": "solution"}


def display_path(path: str | Path) -> str:
    """A path as the learner reads it: relative to the current folder when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def resolve_target(spec: str) -> Path:
    """The ``flow.py`` a target names: ``starter``, ``solution``, a folder or a file."""
    named = NAMED_TARGETS.get(spec)
    path = kit_root() / named if named else Path(spec).expanduser()
    if named and not path.exists():
        raise TargetError(
            f"this copy of the kit has no {named}/ folder: a learner's copy leaves the "
            "reference solution out. Your own code is --target starter."
        )
    if path.is_dir():
        path = path / FLOW_FILE
    if is_link(path):
        where = "another file" if path.is_symlink() else "a file with another name (a hard link)"
        raise TargetError(
            f"{display_path(path)} is a link to {where}: the grader grades a {FLOW_FILE} of "
            "your own, not a link to another file"
        )
    if not path.is_file():
        raise TargetError(
            f"no target at {spec!r}: expected 'starter', 'solution', "
            f"or a folder with a {FLOW_FILE} (or the file itself)"
        )
    return path.resolve()


def load_flow(path: Path, world: World = LIVE, device: str = "you") -> Flow:
    """Run the target's ``flow.py`` as one device and check that it has the three functions.

    The flow runs behind the sandbox's import gate (`chatkit.sandbox.device`), so a
    learner's helper modules beside ``flow.py`` load too, each device its own copy.
    """
    flow = FlowCode(path).device(world, device)
    check_shape(flow, path)
    return flow


def check_shape(flow: Flow, path: Path) -> None:
    """Raise `TargetError` unless ``send`` is ``async def`` and the other two are plain ``def``."""
    missing = [fn for fn in FUNCTIONS if not callable(getattr(flow, fn, None))]
    if missing:
        raise TargetError(f"{path.name} does not define {', '.join(missing)}")
    if not inspect.iscoroutinefunction(flow.send):
        raise TargetError(
            "send must be written `async def send(...)`: it awaits the server's answer"
        )
    for name in ("reconcile", "rollback"):
        if inspect.iscoroutinefunction(getattr(flow, name)):
            raise TargetError(
                f"{name} must be a plain `def {name}(...)`, not `async def`: it runs the moment "
                "an answer arrives and has nothing to wait for"
            )
