"""The clock and the chance a flow sees: scripted in a scenario, real on the live side.

In a scenario the clock stands still until the scenario moves it (never on a whole
second), every device lives in UTC+05:30 (`DEVICE_ZONE`), and every device
draws its random numbers from a generator seeded by the scenario's name and the
device's. So a flow that builds ids from the clock or from `random` behaves the same
on every run, and its score is the same on every run: a collision either always
happens or never does. (``uuid.uuid4()`` stays the right answer: it is drawn from
the device's generator too, and 122 random bits never collide.)

A flow gets these through the import gate (`chatkit.sandbox.device`): its
``datetime``, ``time``, ``random``, ``uuid``, ``secrets`` and ``asyncio`` are the scripted ones;
the kit's own code keeps the real ones. Its ``asyncio`` waits for no real time
either: a sleep is one turn of the event loop (how long it asked for is told to the
judge), and its own time-outs run out only when the scenario's server gives up.

On the live side (`LIVE`) a flow gets the very same stand-ins, fed by the real clock,
the machine's own time zone, real waits and a generator seeded from the system's
entropy: what a flow can look at of them (their types, names, what they print as) is
the same graded and live, so it cannot behave one way only while it is graded.
"""

from __future__ import annotations

import asyncio as _asyncio
import base64
import contextlib
import contextvars
import dataclasses as _dataclasses
import datetime as _dt
import hashlib
import importlib
import inspect
import keyword
import math as _math
import os
import random as _random
import sys
import time as _time
import types
import uuid as _uuid
from collections.abc import Callable, Iterator
from typing import Any

from chatkit.limits import FLOOD_LIMIT, OUTPUT_LIMIT
from chatkit.model import TIMED_OUT, DeliveryError, Sealed, seal
from chatkit.sandbox import caches
from chatkit.sandbox.policy import allowed_names

CLOCK_START = _dt.datetime(2026, 3, 1, 12, 0, tzinfo=_dt.UTC)
"""The earliest a scenario's clock starts (see `ScriptedWorld.start`)."""

DEVICE_ZONE = _dt.timezone(_dt.timedelta(hours=5, minutes=30), "IST")
"""Where every scripted device lives: not UTC, and half an hour off the hour, so a time
read as local and labelled UTC (or the other way round) is a different moment."""
DEVICE_TZ = "IST-5:30"
"""`DEVICE_ZONE` as the ``TZ`` of a phone's process (POSIX: hours west of UTC), for what
reads the C library's local time (``datetime.astimezone()``, ``fromtimestamp``)."""

Place = tuple[types.FrameType, int]
"""A frame, and the line it was at."""


@_dataclasses.dataclass
class Waits:
    """What one send did with the scripted clock, for its phone to tell the judge."""

    slept: list[tuple[float, list[Place]]] = _dataclasses.field(default_factory=list)
    """Each ``asyncio.sleep`` it asked for: how long, and the stack that asked (outermost
    first)."""
    gave_up: bool = False
    """Whether a time-out of its own ran out (``asyncio.wait_for``, ``asyncio.timeout``)."""
    answered: bool = False
    """Whether the server has answered one of its requests."""
    after_answer: list[tuple[float, list[Place]]] = _dataclasses.field(default_factory=list)
    """Each sleep asked for once the server had answered: news the user is kept from."""

    def note(self, asked: tuple[float, list[Place]]) -> None:
        """A sleep the send asked for: how long, and the stack that asked."""
        self.slept.append(asked)
        if self.answered:
            self.after_answer.append(asked)


WAITS: contextvars.ContextVar[Waits | None] = contextvars.ContextVar("waits", default=None)
"""The `Waits` of the send running now: a phone gives each send its own."""


def _stack(frame: types.FrameType | None) -> list[Place]:
    """The frames from ``frame`` outward, each at the line it is at now, outermost first."""
    places: list[Place] = []
    while frame is not None:
        places.append((frame, frame.f_lineno))
        frame = frame.f_back
    return places[::-1]


_UUID_EPOCH = 0x01B21DD213814000
"""100-ns intervals between the UUID epoch (1582) and the Unix epoch, as the standard says."""


_REAL_DATETIME = (_dt.datetime,)
"""The real class, kept before anything can patch it: freezegun swaps ``datetime.datetime``
for its own while a ``freeze_time`` is active (and every module attribute that is the real
class, hence the tuple)."""


class ScriptedClock:
    """A scenario's clock: it reads the same until the scenario moves it.

    ``zone`` is where the device lives (``None``: the machine's own zone); ``live`` says
    the clock is the real one (`LiveClock`), whose time-outs and sleeps are real too.

    It speaks freezegun's language (``tick``, ``move_to``), and a scenario may also use
    freezegun itself: while a ``freeze_time`` is active, the flow's clock reads freezegun's
    frozen time, so ``with freeze_time("2026-05-01 09:00") as frozen: ... frozen.tick()``
    does what its author expects.
    """

    live = False
    zone: _dt.tzinfo | None = DEVICE_ZONE

    def __init__(self, start: _dt.datetime = CLOCK_START) -> None:
        self.start = start
        self._now = start

    @property
    def now(self) -> _dt.datetime:
        frozen = _dt.datetime
        if frozen is not _REAL_DATETIME[0]:  # a scenario froze time with freezegun
            return frozen.now(_dt.UTC)
        return self._now

    def tick(self, seconds: float = 1.0) -> None:
        """Move the clock forward (a scenario's "a minute later")."""
        self._now += _dt.timedelta(seconds=seconds)

    def move_to(self, when: _dt.datetime | str) -> None:
        """Set the clock to ``when`` (a datetime, or an ISO 8601 string; UTC unless it says)."""
        moment = _dt.datetime.fromisoformat(when) if isinstance(when, str) else when
        self._now = moment if moment.tzinfo is not None else moment.replace(tzinfo=_dt.UTC)

    def timestamp(self) -> float:
        return self.now.timestamp()

    def elapsed(self) -> float:
        """Seconds since the clock started: what ``time.monotonic()`` reads."""
        return (self.now - self.start).total_seconds()


class LiveClock(ScriptedClock):
    """The real clock, read through the same stand-ins as a scenario's: the machine's time
    and zone, and ``monotonic`` counted from when the flow was loaded."""

    live = True
    zone = None

    def __init__(self) -> None:
        super().__init__(_REAL_DATETIME[0].now(_dt.UTC))
        self._began = _time.monotonic()

    @property
    def now(self) -> _dt.datetime:
        return _REAL_DATETIME[0].now(_dt.UTC)

    def elapsed(self) -> float:
        return _time.monotonic() - self._began


def _stand_in(function: Callable[..., Any], module: str, name: str) -> Callable[..., Any]:
    """Name a stand-in as the function it stands in for (``time.time``, ``uuid.uuid4``):
    what it prints as is the same graded and live."""
    function.__module__, function.__name__, function.__qualname__ = module, name, name
    return function


class OutputFlood(BaseException):
    """The learner's code printed more than `FLOOD_LIMIT` characters in one scenario.

    A `BaseException`, so a learner's ``except Exception`` cannot swallow it.
    """


class Output:
    """What the learner's code printed in one scenario: kept up to a limit, the rest counted.

    A flow that prints in a loop cannot fill the grader's memory or its pipe: past
    `OUTPUT_LIMIT` characters, ``print`` only counts.
    """

    def __init__(self, limit: int = OUTPUT_LIMIT) -> None:
        self.limit = limit
        self._kept: list[str] = []
        self._size = 0
        self.dropped = 0
        """Characters printed past the limit."""
        self._drained = 0

    def write(self, text: str) -> int:
        """Keep ``text``, up to the limit: a phone's standard output is this, so the
        flow's own ``print`` lands here."""
        room = self.limit - self._size
        if room <= 0:
            self.dropped += len(text)
            if self._size + self.dropped > FLOOD_LIMIT:
                raise OutputFlood(
                    f"your code printed more than {FLOOD_LIMIT // 1024:,} KB in one scenario; "
                    "print less (a line per event at most)"
                )
            return len(text)
        self._kept.append(text[:room])
        self._size += min(len(text), room)
        self.dropped += max(0, len(text) - room)
        return len(text)

    def flush(self) -> None:
        """Nothing waits: every write is kept at once."""

    def text(self) -> str:
        """Everything kept so far."""
        return "".join(self._kept)

    def drain(self) -> str:
        """What was printed since the last drain (for the story's step)."""
        kept = self._kept[self._drained :]
        self._drained = len(self._kept)
        return "".join(kept)


class World:
    """Where a device's clock and chance come from."""

    def module(self, name: str, device: str) -> types.ModuleType | None:
        """The scripted version of module ``name`` for ``device``, or None for the real one."""
        return None


class LiveWorld(World):
    """The live side's world: the stand-ins a scenario's devices get, fed by the real
    clock and zone, real waits, and a generator seeded from the system's entropy."""

    def module(self, name: str, device: str) -> types.ModuleType | None:
        build = _SCRIPTED.get(name)
        if build is None:
            return None
        return build(LiveClock(), _random.Random(int.from_bytes(os.urandom(32), "big")))


LIVE: World = LiveWorld()

HASH_SEED = "0"
"""``PYTHONHASHSEED`` for every process that runs a flow: graded phones (the same hashes,
so the same order of a set of strings, on every run) and the terminal client (a flow
reading ``hash("…")`` or such an order would otherwise tell it is not graded)."""


def hash_like_grading() -> None:
    """Start this command again with the string hashes grading uses, unless it already has
    them: for the terminal client, run from the command line, before any flow loads."""
    if os.name != "posix" or os.environ.get("PYTHONHASHSEED") == HASH_SEED:
        return
    os.execve(sys.executable, sys.orig_argv, {**os.environ, "PYTHONHASHSEED": HASH_SEED})


"""The live side's world: the real clock and real randomness, behind the same stand-ins."""


class ScriptedWorld(World):
    """One scenario's world: one scripted clock, and a seeded generator per device."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.clock = ScriptedClock(self.start())
        self.output = Output()

    def start(self) -> _dt.datetime:
        """Where this scenario's clock starts: a moment of the decade after `CLOCK_START`,
        picked by the scenario's name — the same on every run, not the same everywhere, and
        never on a whole second (a time cut to the second is another time)."""
        seed = self.seed("clock")
        minute = _dt.timedelta(minutes=seed % (10 * 365 * 24 * 60))
        return CLOCK_START + minute + _dt.timedelta(microseconds=1 + seed % 999_999)

    def seed(self, device: str) -> int:
        """The seed of ``device``'s generator: the same on every run, different per device."""
        digest = hashlib.sha256(f"{self.name}\0{device}".encode()).digest()
        return int.from_bytes(digest[:8], "big")

    def module(self, name: str, device: str) -> types.ModuleType | None:
        build = _SCRIPTED.get(name)
        if build is None:
            return None
        return build(self.clock, _random.Random(self.seed(f"{device}\0{name}")))


def module_copy(name: str, overrides: dict[str, Any] | None = None) -> types.ModuleType:
    """A module that holds just the names of module ``name`` a flow may use: ``overrides``
    where given (the scripted ones), guarded stand-ins (`_GUARDED`), the rest as they are."""
    real = importlib.import_module(name)
    overrides = {**_GUARDED.get(name, {}), **(overrides or {})}
    module = types.ModuleType(name, real.__doc__)
    for attr in allowed_names(name):
        setattr(module, attr, overrides[attr] if attr in overrides else getattr(real, attr))
    return module


def _named_fields_only(cls: Any = None, /, **options: Any) -> Any:
    """``dataclasses.dataclass`` for a flow: every field must be a name. (Python writes each
    field's name into the code it makes for the class and runs it, so a name made at run
    time could be code.)"""

    def make(target: Any) -> Any:
        for field in inspect.get_annotations(target):
            if type(field) is not str or not field.isidentifier() or keyword.iskeyword(field):
                raise TypeError(f"a dataclass field must be a plain name, not {field!r}")
        with _module_known(target.__module__, sys._getframe(1)):
            return _dataclasses.dataclass(target, **options)

    return make if cls is None else make(cls)


@contextlib.contextmanager
def _module_known(name: str, frame: types.FrameType | None) -> Iterator[None]:
    """``sys.modules[name]`` while a dataclass is made: with ``from __future__ import
    annotations`` its fields' types are text, and ``dataclasses`` reads them in the module
    the class names — which, for a device's own copy of a flow, ``sys.modules`` has not.
    It stands for the module whose code is running in ``frame`` or around it."""
    if name in sys.modules:
        yield
        return
    module = types.ModuleType(name)
    while frame is not None and frame.f_globals.get("__name__") != name:
        frame = frame.f_back
    if frame is not None:
        module.__dict__.update(frame.f_globals)
    sys.modules[name] = module
    try:
        yield
    finally:
        if sys.modules.get(name) is module:
            del sys.modules[name]


_GUARDED: dict[str, dict[str, Any]] = {
    "dataclasses": {"dataclass": _named_fields_only},
    "functools": {"cache": caches.cache, "lru_cache": caches.lru_cache},
}
"""Names of allowed modules that a flow gets in a guarded (or readable) form."""


def _scripted_datetime(clock: ScriptedClock, rng: _random.Random) -> types.ModuleType:
    class _Real(type):
        """Real dates and times count as instances of the scripted classes."""

        def __instancecheck__(cls, instance: object) -> bool:
            return isinstance(instance, cls.__bases__[0])

        def __subclasscheck__(cls, subclass: type) -> bool:
            return issubclass(subclass, cls.__bases__[0])

    class datetime(_dt.datetime, metaclass=_Real):  # it stands in for datetime.datetime
        def __new__(cls, *args: Any, **kwargs: Any) -> _dt.datetime:  # type: ignore[misc]
            """A real datetime, whichever constructor asks (``datetime(…)``, ``fromtimestamp``,
            ``fromisoformat``…): a row holds the real class, never this stand-in."""
            return _dt.datetime(*args, **kwargs)

        @classmethod
        def now(cls, tz: _dt.tzinfo | None = None) -> _dt.datetime:  # type: ignore[override]
            return clock.now.astimezone(tz or clock.zone).replace(tzinfo=tz)

        @classmethod
        def utcnow(cls) -> _dt.datetime:  # type: ignore[override]
            return clock.now.astimezone(_dt.UTC).replace(tzinfo=None)

        @classmethod
        def today(cls) -> _dt.datetime:  # type: ignore[override]
            return cls.now()

    class date(_dt.date, metaclass=_Real):  # it stands in for datetime.date
        def __new__(cls, *args: Any, **kwargs: Any) -> _dt.date:  # type: ignore[misc]
            return _dt.date(*args, **kwargs)

        @classmethod
        def today(cls) -> _dt.date:  # type: ignore[override]
            return clock.now.astimezone(clock.zone).date()

    for cls in (datetime, date):
        cls.__module__, cls.__qualname__ = "datetime", cls.__name__
    return module_copy("datetime", {"datetime": datetime, "date": date})


class BlockingCallError(RuntimeError):
    """The learner's code called something that stops the whole app while it waits."""


def _scripted_time(clock: ScriptedClock, rng: _random.Random) -> types.ModuleType:
    def sleep(seconds: float) -> None:
        raise BlockingCallError(
            f"time.sleep({seconds!r}) stops the whole app while it waits, the screen included; "
            "in async code wait with `await asyncio.sleep(...)`, and never wait in "
            "reconcile or rollback"
        )

    def now_or(seconds: float | None) -> float:
        return clock.timestamp() if seconds is None else seconds

    def gmtime(seconds: float | None = None) -> _time.struct_time:
        return _time.gmtime(now_or(seconds))

    def localtime(seconds: float | None = None) -> _time.struct_time:
        if clock.zone is None:
            return _time.localtime(now_or(seconds))
        return _dt.datetime.fromtimestamp(now_or(seconds), clock.zone).timetuple()

    def strftime(format: str, moment: _time.struct_time | None = None) -> str:
        return _time.strftime(format, moment or localtime())

    def time() -> float:
        return clock.timestamp()

    def elapsed() -> float:
        return clock.elapsed()

    def time_ns() -> int:
        return round(clock.timestamp() * 1e9)

    def elapsed_ns() -> int:
        return round(clock.elapsed() * 1e9)

    functions: dict[str, Callable[..., Any]] = {
        "time": time,
        "time_ns": time_ns,
        "monotonic": elapsed,
        "monotonic_ns": elapsed_ns,
        "perf_counter": elapsed,
        "perf_counter_ns": elapsed_ns,
        "gmtime": gmtime,
        "localtime": localtime,
        "strftime": strftime,
        "sleep": sleep,
    }
    return module_copy(
        "time", {name: _stand_in(function, "time", name) for name, function in functions.items()}
    )


def _seeded_class(rng: _random.Random) -> type[_random.Random]:
    class Random(_random.Random):
        """A generator that, unseeded, takes its seed from the device's."""

        def __init__(self, x: Any = None) -> None:
            super().__init__(rng.getrandbits(64) if x is None else x)

    Random.__module__ = "random"
    return Random


def _scripted_random(clock: ScriptedClock, rng: _random.Random) -> types.ModuleType:
    seeded = _seeded_class(rng)
    names = (
        "random", "randint", "randrange", "choice", "choices", "sample", "shuffle",
        "getrandbits", "randbytes", "uniform", "gauss", "seed",
    )  # fmt: skip
    overrides: dict[str, Any] = {name: getattr(rng, name) for name in names}
    overrides |= {"Random": seeded, "SystemRandom": seeded}
    return module_copy("random", overrides)


def _scripted_uuid(clock: ScriptedClock, rng: _random.Random) -> types.ModuleType:
    device_node = rng.getrandbits(48) | (1 << 40)  # a random node id has its multicast bit set
    last = 0

    def uuid4() -> _uuid.UUID:
        return _uuid.UUID(int=rng.getrandbits(128), version=4)

    def uuid1(node: int | None = None, clock_seq: int | None = None) -> _uuid.UUID:
        nonlocal last
        stamp = max(round(clock.timestamp() * 1e7) + _UUID_EPOCH, last + 1)
        last = stamp
        sequence = rng.getrandbits(14) if clock_seq is None else clock_seq
        fields = (
            stamp & 0xFFFFFFFF,
            (stamp >> 32) & 0xFFFF,
            (stamp >> 48) & 0x0FFF,
            (sequence >> 8) & 0x3F,
            sequence & 0xFF,
            device_node if node is None else node,
        )
        return _uuid.UUID(fields=fields, version=1)

    return module_copy(
        "uuid",
        {"uuid4": _stand_in(uuid4, "uuid", "uuid4"), "uuid1": _stand_in(uuid1, "uuid", "uuid1")},
    )


def _scripted_secrets(clock: ScriptedClock, rng: _random.Random) -> types.ModuleType:

    def token_bytes(count: int = 32) -> bytes:
        return rng.randbytes(count)

    def token_urlsafe(count: int = 32) -> str:
        return base64.urlsafe_b64encode(token_bytes(count)).rstrip(b"=").decode("ascii")

    def token_hex(count: int = 32) -> str:
        return token_bytes(count).hex()

    return module_copy(
        "secrets",
        {
            "token_bytes": _stand_in(token_bytes, "secrets", "token_bytes"),
            "token_hex": _stand_in(token_hex, "secrets", "token_hex"),
            "token_urlsafe": _stand_in(token_urlsafe, "secrets", "token_urlsafe"),
            "randbelow": rng.randrange,
            "randbits": rng.getrandbits,
            "choice": rng.choice,
            "SystemRandom": _seeded_class(rng),
        },
    )


def _ran_out(error: DeliveryError) -> BaseException:
    """What a flow's own time-out around a request raises when the server gave up on it:
    ``TimeoutError``, as the flow's shorter limit would have (noted in the send's `Waits`);
    any other refusal as it was."""
    if error.reason != TIMED_OUT:
        return error
    waits = WAITS.get()
    if waits is not None:
        waits.gave_up = True
    return TimeoutError()


def _no_time(limit: object) -> bool:
    """Whether a time-out gives no time at all (zero, or less): asyncio's own test, and
    then asyncio's own outcome (it runs out at once, whatever the machine), not the
    script's."""
    return limit is not None and limit <= 0  # type: ignore[operator]


@seal
class _Limit(metaclass=Sealed):
    """The flow's ``asyncio.timeout``: in a scenario it runs out when the server gives up
    (`_ran_out`); live, it is asyncio's own (``real``). Either way it answers what asyncio's
    ``Timeout`` does (``expired``, ``when``, ``reschedule``), and it is the same class graded
    and live. Its class cannot be changed: every run of a flow shares it."""

    def __init__(self, delay: float | None, real: Any = None) -> None:
        self.delay = delay
        self._expired = False
        self._real = real

    def when(self) -> float | None:
        return self.delay if self._real is None else self._real.when()

    def reschedule(self, when: float | None) -> None:
        if self._real is not None:
            self._real.reschedule(when)
        self.delay = when

    def expired(self) -> bool:
        return self._expired if self._real is None else self._real.expired()

    async def __aenter__(self) -> _Limit:
        if self._real is not None:
            await self._real.__aenter__()
        return self

    async def __aexit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        if self._real is not None:
            await self._real.__aexit__(kind, error, trace)
        elif self.delay is not None and isinstance(error, DeliveryError):
            ran_out = _ran_out(error)
            self._expired = isinstance(ran_out, TimeoutError)
            raise ran_out from None


FOREVER = 1e9
"""The seconds a sleep that never ends is told as (a finite number: the judge takes no
other)."""


def _seconds(delay: object) -> float:
    """How long a sleep asked for, in seconds, whatever kind of number it was given as
    (a ``Fraction``, a ``bool``, a ``Decimal`` wait as long as their value); `FOREVER`
    at most."""
    try:
        seconds = float(delay)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return FOREVER
    return min(seconds, FOREVER) if _math.isfinite(seconds) else FOREVER


def _scripted_asyncio(clock: ScriptedClock, rng: _random.Random) -> types.ModuleType:
    """asyncio without the real clock: a sleep is one turn of the loop (its length noted in
    the send's `Waits`), and a time-out runs out only when the script's server gives up.

    How many real microseconds a scenario takes depends on the machine, so a flow that
    waited for real time would pass on one computer and fail on another. In a scenario
    only the script decides when the server answers, and when a client gives up: when it
    times a request out, a flow's own ``wait_for`` or ``timeout`` around it runs out first
    (``TimeoutError``), as a shorter limit would. A limit of no time at all (zero or less)
    runs out at once, as it does everywhere.
    """

    async def sleep(delay: float, result: Any = None) -> Any:
        if clock.live:
            return await _asyncio.sleep(delay, result)
        waits = WAITS.get()
        if waits is not None and not delay <= 0:  # asyncio's own test: more is a real wait
            waits.note((_seconds(delay), _stack(sys._getframe(1))))
        await _asyncio.sleep(0)
        return result

    async def wait_for(awaitable: Any, timeout: float | None) -> Any:
        if clock.live or _no_time(timeout):
            return await _asyncio.wait_for(awaitable, timeout)
        try:
            return await awaitable
        except DeliveryError as error:
            raise _ran_out(error) if timeout is not None else error from None

    async def wait(
        awaitables: Any, *, timeout: float | None = None, return_when: str = _asyncio.ALL_COMPLETED
    ) -> Any:
        if clock.live or _no_time(timeout):
            return await _asyncio.wait(awaitables, timeout=timeout, return_when=return_when)
        return await _asyncio.wait(awaitables, return_when=return_when)

    def timeout(delay: float | None) -> Any:
        if clock.live or _no_time(delay):
            return _Limit(delay, _asyncio.timeout(delay))
        return _Limit(delay)

    functions: dict[str, Callable[..., Any]] = {
        "sleep": sleep,
        "wait_for": wait_for,
        "wait": wait,
        "timeout": timeout,
    }
    return module_copy(
        "asyncio",
        {name: _stand_in(function, "asyncio", name) for name, function in functions.items()},
    )


_SCRIPTED: dict[str, Callable[[ScriptedClock, _random.Random], types.ModuleType]] = {
    "asyncio": _scripted_asyncio,
    "datetime": _scripted_datetime,
    "time": _scripted_time,
    "random": _scripted_random,
    "uuid": _scripted_uuid,
    "secrets": _scripted_secrets,
}
