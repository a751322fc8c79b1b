"""What a flow may use: one list, read by the static check and by the import gate.

A flow is three functions about rows, ids and statuses. It needs the kit's public
names and a handful of harmless standard modules — nothing that reaches the file
system, the environment, other processes, the interpreter's frames or the kit's
internals. Keeping that list short is what lets the grader trust what it measures.
"""

from __future__ import annotations

import importlib
import types
from dataclasses import dataclass
from functools import cache

import chatkit


@dataclass(frozen=True, slots=True)
class ModuleRule:
    """Which names of one module a flow may use.

    ``names`` lists them; ``None`` means every public name that is not itself a module,
    less ``denied``.
    """

    names: frozenset[str] | None = None
    denied: frozenset[str] = frozenset()


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _only(names: str) -> ModuleRule:
    """The rule for a module of which a flow may use only ``names`` (separated by spaces)."""
    return ModuleRule(names=_words(names))


def _all_but(*denied: str) -> ModuleRule:
    return ModuleRule(denied=frozenset(denied))


MODULES: dict[str, ModuleRule] = {
    "__future__": _all_but(),
    "chatkit": ModuleRule(names=frozenset(chatkit.__all__)),
    "asyncio": _only(
        "sleep Lock Event Condition Semaphore BoundedSemaphore Queue LifoQueue "
        "PriorityQueue QueueEmpty QueueFull wait_for timeout shield gather wait "
        "create_task ensure_future TaskGroup CancelledError TimeoutError InvalidStateError "
        "iscoroutine iscoroutinefunction FIRST_COMPLETED FIRST_EXCEPTION ALL_COMPLETED "
        "Task Future"  # for type hints; what leads from them to the loop is refused by name
    ),
    "datetime": _only("datetime date time timedelta timezone tzinfo UTC MINYEAR MAXYEAR"),
    "time": _only(
        "time time_ns monotonic monotonic_ns perf_counter perf_counter_ns sleep gmtime "
        "localtime strftime struct_time"
    ),
    "random": _only(
        "random randint randrange choice choices sample shuffle getrandbits randbytes "
        "uniform gauss seed Random SystemRandom"
    ),
    "uuid": _only(
        "uuid1 uuid3 uuid4 uuid5 UUID NAMESPACE_DNS NAMESPACE_URL NAMESPACE_OID NAMESPACE_X500"
    ),
    "secrets": _only(
        "token_bytes token_hex token_urlsafe randbelow randbits choice compare_digest SystemRandom"
    ),
    "typing": _all_but(
        "get_type_hints",  # evaluates strings as code, as ForwardRef does
        "ForwardRef",
        "get_overloads",  # reads a registry every program in the process shares
        "clear_overloads",
    ),
    "dataclasses": _all_but(),
    "enum": _all_but("global_enum"),  # writes an enum's members into any loaded module
    "abc": _all_but("get_cache_token"),  # counts what every program in the process registers
    "collections": _all_but(),
    "collections.abc": _all_but(),
    "functools": _all_but(  # annotations evaluated; attributes copied by the names given
        "singledispatch", "singledispatchmethod", "update_wrapper", "wraps"
    ),
    "itertools": _all_but(),
    "operator": _all_but("attrgetter", "methodcaller"),  # attribute access by string
    "math": _all_but(),
    "heapq": _all_but(),
    "bisect": _all_but(),
    "statistics": _all_but(),
    "fractions": _all_but(),
    "decimal": _all_but(  # the context each thread keeps: state outside the flow's own
        "getcontext",
        "setcontext",
        "localcontext",
        "DefaultContext",
        "BasicContext",
        "ExtendedContext",
    ),
    "numbers": _all_but(),
    "copy": _all_but(),
    "re": _all_but(),
    "textwrap": _all_but(),
    "string": _only(
        "ascii_letters ascii_lowercase ascii_uppercase digits hexdigits octdigits "
        "punctuation printable whitespace capwords"
    ),
    "contextlib": _only(
        "suppress contextmanager asynccontextmanager nullcontext closing aclosing "
        "ExitStack AsyncExitStack"
    ),
    "types": _only("SimpleNamespace"),
}
"""Every module a flow may import, and what it may use of each."""

FORBIDDEN_BUILTINS = _words(
    "open eval exec compile __import__ globals locals vars getattr setattr delattr breakpoint "
    "input help exit quit memoryview"
)
"""Builtins that read or write files, run strings as code, or reach attributes by name.
(``id`` is allowed: each phone is a program of its own, so an id made from it collides
across phones as it would in life, and the scenarios say so.)

The import gate takes them out of a flow's builtins; ``__import__`` it replaces."""

ALLOWED_DUNDERS = frozenset({"__init__", "__post_init__", "__name__", "__doc__"})
"""The only ``__dunder__`` names a flow may write (``super().__init__(…)``, ``__name__``)."""

DECLARED_DUNDERS = frozenset({"__all__", "__slots__", "__author__", "__version__"})
"""``__dunder__`` names a module or a class may declare, as plain names (``__all__ = […]``,
``__slots__ = ()``, ``__author__ = "Priya"``): they say what a module exports, what a
class's objects hold, who wrote it."""

PUBLIC_UNDERSCORED = frozenset({"_replace", "_asdict", "_fields", "_field_defaults", "_make"})
"""A named tuple's public methods, written with an underscore so a field cannot take
their names (``row._replace(tries=2)``)."""

_LOOP = (
    "hands out the event loop the kit runs your phone on; wait with `asyncio.sleep`, "
    "`asyncio.wait_for` or `asyncio.timeout`, and start a task with `asyncio.create_task`"
)
WHY_NOT: dict[tuple[str, str], str] = {
    **{
        (module, name): (
            f"`{module}.{name}` copies attributes by names chosen as it runs, a way around "
            "this check; write the decorator without it (the function it returns works the "
            "same)"
        )
        for module, name in (("functools", "wraps"), ("functools", "update_wrapper"))
    },
    **{
        ("operator", name): (
            f"`operator.{name}` reaches attributes by names written as text, a way around "
            "this check; write a lambda instead (`lambda row: row.status`)"
        )
        for name in ("attrgetter", "methodcaller")
    },
    **{
        ("functools", name): (
            f"`functools.{name}` reads type hints as code; choose with `isinstance` or "
            "`match` instead"
        )
        for name in ("singledispatch", "singledispatchmethod")
    },
    ("abc", "get_cache_token"): (
        "`abc.get_cache_token` counts the classes every program in the process has "
        "registered with an ABC, not your phone's; check a class with `isinstance` instead"
    ),
    **{
        ("asyncio", name): f"`asyncio.{name}` {_LOOP}"
        for name in (
            "get_running_loop",
            "get_event_loop",
            "new_event_loop",
            "set_event_loop",
            "run",
            "current_task",
            "all_tasks",
            "Runner",
        )
    },
}
"""Why a name of an allowed module is not allowed, where the reason is not plain."""

WHY_NOT_MODULE: dict[str, str] = {
    "logging": (
        "it writes to files and the terminal behind the app's back; use `print()`: what "
        "your code prints shows in its story"
    ),
    **dict.fromkeys(
        ("os", "sys", "pathlib", "shutil", "io", "tempfile", "glob"),
        "a phone's flow has no business with files, the environment or the interpreter "
        "(random ids come from `uuid.uuid4()` or `secrets.token_hex()`)",
    ),
    **dict.fromkeys(
        ("subprocess", "socket", "threading", "multiprocessing", "signal", "ssl", "http", "urllib"),
        "a flow talks to the chat only through the `server` it is handed",
    ),
    **dict.fromkeys(
        ("inspect", "gc", "importlib", "builtins", "ctypes", "types", "pickle", "marshal"),
        "it reaches Python's and the kit's insides, which a flow must not touch",
    ),
}
"""Why a module a learner might reach for may not be imported, in one short reason."""

INTROSPECTION_ATTRIBUTES = _words(
    "f_back f_globals f_locals f_builtins f_code f_trace tb_frame tb_next gi_frame gi_code "
    "gi_yieldfrom cr_frame cr_code cr_await cr_origin ag_frame ag_code ag_await get_loop "
    "get_stack print_stack get_coro get_context"
)
"""Attributes that lead from an object to the frames and event loop of the code around it."""

CACHED_ANSWERS = _words("__subclasshook__ __instancecheck__ __subclasscheck__")
"""Methods a class may not define: they decide what ``isinstance`` answers, and Python
remembers those answers in a cache no check of a flow can read."""

SHARED_STATE_ATTRIBUTES = _words("register")
"""Attributes that change what Python's own classes answer for every program in the
process (``collections.abc.Sized.register(Box)``): state kept outside the flow."""


def allowed_module(name: str) -> ModuleRule | None:
    """The rule for a module a flow imports, or None if it may not import it."""
    return MODULES.get(name)


@cache
def _real(name: str) -> types.ModuleType:
    return importlib.import_module(name)


def name_allowed(module: str, name: str) -> bool:
    """May a flow use ``module.name``? Never a private name, never a module."""
    rule = MODULES.get(module)
    if rule is None or name.startswith("_"):
        return False
    if rule.names is not None:
        return name in rule.names
    if name in rule.denied:
        return False
    value = getattr(_real(module), name, None)
    return value is not None and not isinstance(value, types.ModuleType)


@cache
def allowed_names(module: str) -> tuple[str, ...]:
    """Every name of ``module`` a flow may use: what the import gate's copy of it holds."""
    rule = MODULES[module]
    candidates = rule.names if rule.names is not None else dir(_real(module))
    return tuple(sorted(name for name in candidates if name_allowed(module, name)))


def module_list() -> str:
    """The modules a flow may import, for messages."""
    return ", ".join(sorted(name for name in MODULES if name not in {"__future__", "chatkit"}))
