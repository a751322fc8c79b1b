"""Load the learner's flow as one device: a fresh module, behind the import gate.

Two phones in a chat each run their own copy of the app: a counter at module level
counts one phone's messages, not everybody's. So every client in a scenario gets
its own freshly executed copy of ``flow.py`` (and of the helper modules beside it),
compiled once and run once per device.

Each copy runs with builtins that cannot open files or run strings as code, with an
``id`` that numbers objects alike on every device (`_Device.id`), and with
an ``__import__`` that hands out only what `chatkit.sandbox.policy` allows: for the
kit and each standard module a copy that holds just the names a flow may use, and
for ``datetime``, ``time``, ``random``, ``uuid`` and ``secrets`` the device's
scripted ones (`chatkit.sandbox.world`). The static check says the same at once,
with the line; this gate is what holds at run time whatever the source looks like.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import contextlib
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chatkit.protocols import Flow
from chatkit.sandbox.check import getattr_names, is_helper, read_source
from chatkit.sandbox.policy import FORBIDDEN_BUILTINS, allowed_module, module_list
from chatkit.sandbox.shared_caches import forget_shared_caches
from chatkit.sandbox.world import LIVE, World, module_copy

FIRST_ID = 0x7F3A_2C00_0000
"""The first number a device's ``id`` hands out (an address-like number)."""

FLOW_MODULE = "flow"
"""The name a flow's module has while it runs (``__name__``)."""


class FlowCode:
    """A target's source, compiled once: ``flow.py`` and the helper modules beside it."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.folder = self.path.parent
        self._compiled: dict[Path, types.CodeType] = {}
        self.getattr_names: set[str] = set()
        """The attribute names the learner's ``getattr`` calls write in place: the only ones
        a device's ``getattr`` reaches (the static check vetted each as ``obj.name``)."""

    def code(self, path: Path) -> types.CodeType:
        compiled = self._compiled.get(path)
        if compiled is None:
            source = read_source(path)
            tree = ast.parse(source, str(path))
            self.getattr_names |= getattr_names(tree)
            compiled = self._compiled[path] = compile(tree, str(path), "exec", dont_inherit=True)
        return compiled

    def device(
        self,
        world: World = LIVE,
        name: str = "you",
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Flow:
        """A fresh copy of the flow for the device ``name``, in ``world``, whose tasks run on
        ``loop`` (the one running now, if not given)."""
        forget_shared_caches()  # every copy starts from the same process: no copy is first
        with _as_a_phone_loads(loop):
            module = _Device(self, world, name).run(FLOW_MODULE, self.path)
        flow: Flow = module  # a module type-checks as a Flow: ModuleType allows any attribute
        return flow


@contextlib.contextmanager
def _as_a_phone_loads(loop: asyncio.AbstractEventLoop | None) -> Iterator[None]:
    """Load a copy of the flow as a phone does: as an app imports it before its event loop
    starts. ``loop`` (else the one running now) is the current loop; none is running.

    A scenario's phone loads its flow before its loop runs; the explorer loads a fresh
    copy for each timeline while the phone's own loop runs; the terminal client, inside
    its app. The flow's module code must not tell them apart: a task it starts as it
    loads (``asyncio.ensure_future``) waits on the loop its sends will run on, and one it
    starts only where a loop is running (``asyncio.create_task``) fails everywhere."""
    running = asyncio.events._get_running_loop()
    saved = asyncio.get_event_loop_policy()
    current = loop or running
    policy = asyncio.DefaultEventLoopPolicy()
    asyncio.set_event_loop_policy(policy)  # a fresh one, whatever was set in the old
    if current is not None:
        policy.set_event_loop(current)
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(saved)
        asyncio.events._set_running_loop(running)


def device_modules(flow: object) -> dict[str, types.ModuleType]:
    """Every module a device's flow has run or been given, by name (live: it grows as the
    flow imports); the learner's are those from its folder. Just the flow for a module made
    some other way."""
    device = _device_of(flow)
    if device is not None:
        return device.modules
    return {flow.__name__: flow} if isinstance(flow, types.ModuleType) else {}


def ids_given(flow: object) -> int:
    """How many numbers the device's ``id`` has handed out: what the next one will be
    (`_Device.id`), state of the flow's like any it keeps. 0 for a flow made some other way."""
    device = _device_of(flow)
    return 0 if device is None else len(device._ids)


def _device_of(flow: object) -> _Device | None:
    namespace = vars(flow) if isinstance(flow, types.ModuleType) else {}
    imports = namespace.get("__builtins__", {})
    gate = imports.get("__import__") if isinstance(imports, dict) else None
    device = getattr(gate, "__self__", None)
    return device if isinstance(device, _Device) else None


_ALLOWED_BUILTINS = {
    key: value for key, value in vars(builtins).items() if key not in FORBIDDEN_BUILTINS
}
"""The builtins a flow gets (each device a copy, with its own import, getattr and id)."""


class _Device:
    """One device's modules: its flow, its helpers, its copies of the allowed modules."""

    def __init__(self, code: FlowCode, world: World, name: str) -> None:
        self.code = code
        self.world = world
        self.name = name
        self.modules: dict[str, types.ModuleType] = {}
        self.builtins: dict[str, Any] = dict(_ALLOWED_BUILTINS)
        self.builtins["__import__"] = self.gate
        self.builtins["getattr"] = self.getattr
        self.builtins["id"] = self.id
        self.builtins["hash"] = self.hash
        self._ids: dict[int, tuple[int, object]] = {}

    def run(self, name: str, path: Path) -> types.ModuleType:
        """Execute one of the learner's files as a fresh module of this device."""
        module = types.ModuleType(name)
        module.__file__ = str(path)
        module.__builtins__ = self.builtins  # type: ignore[attr-defined]
        self.modules[name] = module
        exec(self.code.code(path), vars(module))
        return module

    def getattr(self, target: object, name: str, *default: object) -> object:
        """``getattr`` for the learner's code: only names its source writes in place."""
        if type(name) is not str or name not in self.code.getattr_names:
            raise AttributeError(
                f"getattr may only reach the names your code writes in place, not {name!r}"
            )
        return getattr(target, name, *default)

    def id(self, target: object) -> int:
        """``id`` for the learner's code: a number for each object, the same sequence on
        every device (as every phone running the same app lays out its memory alike).

        So an id made from ``id()`` is unique on one phone and the same on the next, on
        every run and every machine: two phones sending at once collide, always.
        """
        entry = self._ids.get(id(target))
        if entry is None or entry[1] is not target:
            entry = self._ids[id(target)] = (FIRST_ID + 16 * len(self._ids), target)
        return entry[0]

    def hash(self, target: object) -> int:
        """``hash`` for the learner's code: an object hashed by identity hashes as its `id`
        here does, not by its address in memory, which differs from run to run."""
        if type(target).__hash__ is object.__hash__:
            return self.id(target) >> 4
        return hash(target)

    def gate(
        self,
        name: str,
        globals: dict[str, Any] | None = None,
        locals: dict[str, Any] | None = None,
        fromlist: tuple[str, ...] | list[str] | None = (),
        level: int = 0,
    ) -> types.ModuleType:
        """``__import__`` for the learner's code: only what the policy allows."""
        if level:
            raise ImportError("import your helper modules by name (`import helpers`)")
        module = self.modules.get(name)
        if module is not None:
            return module
        if allowed_module(name) is not None:
            module = self.world.module(name, self.name) or module_copy(name)
            self.modules[name] = module
            return module
        if is_helper(self.code.folder, name):
            return self.run(name, self.code.folder / f"{name}.py")
        raise ImportError(
            f"a flow may not import {name!r}; it may use chatkit and these standard modules: "
            f"{module_list()}",
            name=name,
        )
