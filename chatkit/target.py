"""Finding and loading a target: the starter, the solution, or a learner's folder.

A target is a ``flow.py`` with the three functions, or a folder that holds one.
Loading one runs the learner's module-level code, so the grader only ever loads a
target inside a child process.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from chatkit.protocols import Flow

FLOW_FILE = "flow.py"
FUNCTIONS = ("send", "reconcile", "rollback")
NAMED_TARGETS = {"starter": "starter-code", "solution": "solution"}


class TargetError(Exception):
    """The target cannot be found or does not have the expected shape."""


def kit_root() -> Path:
    """The folder that holds the kit: ``starter-code/``, ``solution/``, ``tests/``."""
    return Path(__file__).resolve().parent.parent


def resolve_target(spec: str) -> Path:
    """The ``flow.py`` a target names: ``starter``, ``solution``, a folder or a file."""
    named = NAMED_TARGETS.get(spec)
    path = kit_root() / named if named else Path(spec).expanduser()
    if path.is_dir():
        path = path / FLOW_FILE
    if not path.is_file():
        raise TargetError(
            f"no target at {spec!r}: expected 'starter', 'solution', "
            f"or a folder with a {FLOW_FILE} (or the file itself)"
        )
    return path.resolve()


def load_flow(path: Path) -> Flow:
    """Import the target's module and check that it has the three functions.

    The target's folder goes on ``sys.path`` first, so a learner may split their
    code into helper modules beside ``flow.py``.
    """
    name = f"chatkit_target_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    sys.modules[name] = module
    spec.loader.exec_module(module)
    missing = [fn for fn in FUNCTIONS if not callable(getattr(module, fn, None))]
    if missing:
        raise TargetError(f"{path.name} does not define {', '.join(missing)}")
    flow: Flow = module  # a module type-checks as a Flow: ModuleType allows any attribute
    return flow
