"""The phone's half of the timeline explorer: its flow driven through one timeline at a time.

The judge (`chatkit.engine.timelines`) walks the orderings of a small world and checks
every rule; the phone only applies events and says what its flow did. Each command is
one event of the timeline (``step``), after the server-only events the judge held back
(``before``: a store changes nothing the flow can see, so it costs no round trip of its
own), and sometimes after a fresh start that replays the events leading there
(``replay``: a suspended send cannot be copied, so going back to an earlier point means
running the flow there again). The phone keeps its own copy of the scripted server for
this, so a replay costs no round trips either; the judge keeps the real one and checks
the phone's screen against it.

Each send is an asyncio task on the run's own loop (`chatkit.phone.stepped_loop`), which
runs only when the run steps it: after each event, until every send and every task the
flow started waits on the server or is finished — the "quiet" point a scenario reaches by
letting its event loop run, thousands of times a second without scheduling anything. A
send that awaits something else (``asyncio.sleep(0)``, a lock another send releases, a
task of its own) goes on as soon as that is done.

What the phone says is plain data: each server call, with its arguments and the screen
at that moment; each send's first pause before it called the server, with the screen
then; the screen after the event; where each send is; what ``reconcile`` raised; and a
number for the state the judge cannot see (`chatkit.phone.hidden.HiddenState`):
equal numbers for equal hidden states, so the judge can merge the states it has seen.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Callable, Coroutine, Generator, Hashable
from pathlib import Path
from typing import Any

from chatkit.blame import Journal
from chatkit.client import ChatClient
from chatkit.limits import MAX_YIELDS
from chatkit.model import Message, ServerMessage
from chatkit.phone.errors import blame_changes, error_data
from chatkit.phone.hidden import NOT_STARTED, HiddenState
from chatkit.phone.screen import ScreenWriter, plain
from chatkit.phone.shipped import restore_shipped
from chatkit.phone.stepped_loop import SteppedLoop
from chatkit.phone.task_names import numbered_tasks
from chatkit.protocols import Flow
from chatkit.sandbox import FlowCode, ScriptedWorld
from chatkit.sandbox.shared_caches import forget_shared_caches
from chatkit.sandbox.world import Output
from chatkit.script.names import CHAT, OTHER, OTHER_CLIENT_ID, REFUSAL, USER
from chatkit.script.server import Connection, Request, ScriptedServer
from chatkit.script.small_world import (
    BUSY,
    DONE,
    ON_SERVER,
    Event,
    EventKind,
    SmallWorld,
    world_from,
)
from chatkit.state import ChatState

_ANSWERED = frozenset(
    {EventKind.STORE, EventKind.ACK, EventKind.TIME_OUT, EventKind.REFUSE, EventKind.RETRY_ACK}
)
"""Events about a send's request: they can happen only once it reached the server."""


class _Task:
    """One call of the flow's `send` (a first send or a retry): an asyncio task on the run's
    loop, as in a scenario, each of whose steps the run sees (`_Stepped`).

    It runs in a context of its own, as an asyncio task does, and the tasks it starts
    inherit it: a request made by any of them is this send's (`_SENDING`).
    """

    __slots__ = (
        "context",
        "coro",
        "done",
        "error",
        "request",
        "retry",
        "runner",
        "send",
        "waiting",
    )

    def __init__(self, send: int, retry: bool, coro: Coroutine[Any, Any, Message]) -> None:
        self.send = send
        self.retry = retry
        self.coro = coro
        self.context = contextvars.copy_context()
        self.context.run(_SENDING.set, self)
        self.waiting: object = NOT_STARTED
        """What it awaits: a future, None after a bare yield (a turn of the loop)."""
        self.done = False
        self.error: BaseException | None = None
        self.request: Request | None = None
        self.runner: asyncio.Task[None] | None = None

    @property
    def runnable(self) -> bool:
        """Not started, after a bare yield, or waiting on a future that is now done."""
        waiting = self.waiting
        return (
            waiting is None
            or waiting is NOT_STARTED
            or (isinstance(waiting, asyncio.Future) and waiting.done())
        )

    @property
    def where(self) -> str:
        """Where it stands once the run settled: a send that cannot move while its request
        waits for the server's answer waits on the server, whether it awaits that answer
        itself or through a task of its own."""
        if self.done:
            return DONE
        request = self.request
        if request is not None and not request.answered and not self.runnable:
            return ON_SERVER
        return BUSY


class _Stepped:
    """Awaits a send's coroutine one step at a time, noting in its `_Task` what it waits on,
    calling ``paused`` with the rows shown before it ran when it first gives up control, and
    ``returned`` the moment it returns (what its row shows then is rule 15's)."""

    def __init__(
        self,
        task: _Task,
        paused: Callable[[_Task, int], None],
        returned: Callable[[_Task, object], None],
        shown: Callable[[], int],
    ):
        self.task = task
        self.paused = paused
        self.returned = returned
        self.shown = shown

    def __await__(self) -> Generator[Any, Any, None]:
        task, coro = self.task, self.task.coro
        shown_before = self.shown()
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            try:
                yielded = coro.throw(thrown) if thrown is not None else coro.send(sent)
            except StopIteration as stop:
                task.done = True
                self.returned(task, stop.value)
                return
            except (Exception, asyncio.CancelledError) as error:
                task.done, task.error = True, error
                return
            first, task.waiting = task.waiting is NOT_STARTED, yielded
            if first:
                self.paused(task, shown_before)
            try:
                sent, thrown = (yield yielded), None
            except BaseException as error:  # what the loop throws in (a cancel, a bad yield)
                sent, thrown = None, error


async def _await(stepped: _Stepped) -> None:
    await stepped


_SENDING: contextvars.ContextVar[_Task | None] = contextvars.ContextVar("sending", default=None)
"""The send whose code (or task) is running: the one a request to the server belongs to."""


class _Hooks:
    """The server's way back into a run; `DeviceRun.close` cuts it, which breaks the cycle."""

    __slots__ = ("run",)

    def __init__(self, run: DeviceRun) -> None:
        self.run: DeviceRun | None = run

    def on_request(self, request: Request) -> None:
        if self.run is not None:
            self.run._on_request(request)

    def deliver(self, message: ServerMessage) -> None:
        if self.run is not None:
            self.run.client.receive(message)


class _Connection(Connection):
    """The scripted connection, telling the judge when the flow reads the history."""

    def __init__(self, server: ScriptedServer, user: str, hooks: _Hooks) -> None:
        super().__init__(server, user)
        self._hooks = hooks

    async def history(self, chat_id: str) -> list[ServerMessage]:
        run = self._hooks.run
        if run is not None:
            run.read_history = True
        return await super().history(chat_id)


class DeviceRun:
    """A fresh client and its own copy of the scripted server, driven one `Event` at a time."""

    def __init__(
        self, fresh: Callable[[SteppedLoop], Flow], world: SmallWorld, journal: Journal | None
    ) -> None:
        self.loop = SteppedLoop()
        """The loop the flow finds running: the tasks it starts wait there to be stepped."""
        self.loop.set_task_factory(numbered_tasks())
        self.flow = fresh(self.loop)
        """A fresh copy of the flow, loaded with `loop` as its loop."""
        self.world = world
        self.journal = journal
        self.server = ScriptedServer()
        self._hooks = _Hooks(self)
        self.server.on_request = self._hooks.on_request
        self.state = ChatState(USER)
        self.client = ChatClient(self.flow, self.state, _Connection(self.server, USER, self._hooks))
        self.server.join(CHAT, USER, self._hooks.deliver)
        self.screen = ScreenWriter(self.state)
        self.hidden = HiddenState(self)
        self.read_history = False
        count = len(world.sends)
        self.tasks: list[_Task] = []
        self._firsts: list[_Task | None] = [None] * count
        self._retries: list[_Task | None] = [None] * count
        self._stored: list[ServerMessage | None] = [None] * count
        self._posted: ServerMessage | None = None
        self._events: list[dict[str, object]] | None = None
        """What the current step reports as it happens; None while replaying."""
        self._blamed = 0

    def close(self) -> None:
        """Cut the reference cycles in this run, so it is freed at once, not by the collector.

        The server's hooks point back at the run, and each refused or timed-out
        request's error holds a traceback whose frames hold the request.
        """
        self._hooks.run = None
        self.loop.close()
        for task in self.tasks:
            request = task.request
            if request is not None and request.answer.done() and not request.answer.cancelled():
                error = request.answer.exception()
                if error is not None:
                    error.__traceback__ = None

    # What the judge asks.

    def replay(self, events: list[Event]) -> dict[str, object]:
        """Bring this fresh run to the point after ``events``, and say what its sends sent
        and what it shows (the judge rebuilds its side from that)."""
        raised = False
        for event in events:
            raised = self.apply(event) is not None or raised
        attempts = [
            [task.request.client_id, task.request.chat_id, task.request.body]
            if task.request is not None
            else None
            for task in self.tasks
        ]
        return {
            "attempts": attempts,
            "where": [task.where for task in self.tasks],
            "history": self.read_history,
            "screen": self.screen.diff(),
            "raised": raised,
        }

    def step(self, event: Event, before: list[Event], folder: str) -> dict[str, object]:
        """Apply the held-back server-only events, then ``event``; what happened, in order."""
        for held in before:
            self.apply(held)
        events: list[dict[str, object]] = []
        self._events = events
        try:
            if self.journal is not None:
                with self.journal.recording():
                    raised = self.apply(event)
            else:
                raised = self.apply(event)
        finally:
            self._events = None
        report: dict[str, object] = {
            "events": events,
            "screen": self.screen.diff(),
            "where": [task.where for task in self.tasks],
            "errors": [
                error_data(task.error, folder) if task.error is not None else None
                for task in self.tasks
            ],
            "history": self.read_history,
        }
        if raised is not None:
            report["raised"] = error_data(raised, folder)
        if self.journal is not None:
            report["blame"] = self._blame(self.journal)
        return report

    # Driving.

    def can_apply(self, event: Event) -> bool:
        """Whether ``event`` can happen now: an answer to a send that reached the server, an
        echo of a message the server stored. (The walk never asks for one that cannot: a
        send that never reached the server breaks a rule there, and that timeline ends.)"""
        kind, index = event.kind, event.send
        if kind in _ANSWERED:
            if kind is EventKind.STORE:
                task = self._latest(index)
            else:
                task = self._retries[index] if kind is EventKind.RETRY_ACK else self._firsts[index]
            return task is not None and task.request is not None
        if kind is EventKind.ECHO:
            return self._stored[index] is not None
        if kind is EventKind.POST_ECHO:
            return self._posted is not None
        return True

    @property
    def spawned(self) -> list[asyncio.Task[Any]]:
        """The tasks the flow started that are not done."""
        return [task for task in self.loop.started if not task.done()]

    def apply(self, event: Event) -> BaseException | None:
        """Apply one event; what the flow's ``reconcile`` raised, if it did. Then what the
        standard library cached for the process is forgotten, as after a scenario's event:
        it carries nothing from one step to the next that the key cannot read."""
        try:
            with self.loop.running():
                return self._apply(event)
        finally:
            forget_shared_caches()

    def _apply(self, event: Event) -> BaseException | None:
        kind, index = event.kind, event.send
        if kind is EventKind.SEND:
            plan = self.world.sends[index]
            self._firsts[index] = self._start(index, False, self.client.send(CHAT, plan.body))
        elif kind is EventKind.RETRY:
            first = self._firsts[index]
            client_id = first.request.client_id if first and first.request else ""
            self._retries[index] = self._start(index, True, self.client.retry(client_id))
        elif kind is EventKind.STORE:
            self._stored[index] = self.server.store(self._request(self._latest(index)))
            return None  # only the server changed: nothing in the client can move
        elif kind is EventKind.ACK or kind is EventKind.RETRY_ACK:
            task = self._firsts[index] if kind is EventKind.ACK else self._retries[index]
            self.server.ack(self._request(task))
        elif kind is EventKind.TIME_OUT:
            self.server.time_out(self._request(self._firsts[index]))
        elif kind is EventKind.REFUSE:
            self.server.refuse(self._request(self._firsts[index]), REFUSAL)
        elif kind is EventKind.ECHO:
            echoed = self._stored[index]
            if echoed is None:
                raise ValueError("an echo of a message the server never stored")
            return self._echo(echoed)
        elif kind is EventKind.POST:
            self._posted = self.server.post(CHAT, OTHER, self.world.other or "", OTHER_CLIENT_ID)
            return None
        else:
            if self._posted is None:
                raise ValueError("an echo of bob's message before he posted it")
            return self._echo(self._posted)
        self._settle()
        return None

    def _echo(self, message: ServerMessage) -> BaseException | None:
        try:
            self.server.echo(message)
        except Exception as error:  # the learner's reconcile raised: the judge decides
            self._settle()
            return error
        self._settle()
        return None

    def _start(self, index: int, retry: bool, coro: Coroutine[Any, Any, Message]) -> _Task:
        task = _Task(index, retry, coro)
        self.tasks.append(task)
        stepped = _Stepped(task, self._paused, self._returned, lambda: len(self.state.messages))
        task.runner = asyncio.Task(_await(stepped), loop=self.loop, context=task.context)
        return task

    def _settle(self) -> None:
        """Run every send and every task the flow started that can move, until none can (or
        `MAX_YIELDS` turns of the loop)."""
        for _ in range(MAX_YIELDS):
            if not self.loop.run_queued():
                return

    def _paused(self, task: _Task, shown_before: int) -> None:
        """A send gave up control for the first time: if it had not reached the server yet,
        the judge checks what it showed by then (rule 1)."""
        events = self._events
        if events is not None and task.request is None:
            events.append(
                {
                    "e": "paused",
                    "attempt": self.tasks.index(task),
                    "shown_before": shown_before,
                    "screen": self.screen.diff(),
                }
            )

    def _returned(self, task: _Task, result: object) -> None:
        """A send returned ``result``, a row: that row as it is at that moment (rule 15: the
        judge reads what it shows)."""
        events = self._events
        if events is not None and type(result) is Message:
            row, screen = self.screen.just_the_row(result)
            events.append(
                {"e": "returned", "attempt": self.tasks.index(task), "screen": screen, "row": row}
            )

    def _latest(self, index: int) -> _Task | None:
        return self._retries[index] or self._firsts[index]

    def _request(self, task: _Task | None) -> Request:
        if task is None or task.request is None:
            raise ValueError("a send the timeline answers never reached the server")
        return task.request

    def _on_request(self, request: Request) -> None:
        task = _SENDING.get()
        if task is None:
            return
        task.request = request
        if not task.retry:
            self.hidden.name(request.client_id, f"s{task.send}")
        events = self._events
        if events is not None:
            events.append(
                {
                    "e": "request",
                    "attempt": self.tasks.index(task),
                    "client_id": plain(request.client_id),
                    "chat_id": plain(request.chat_id),
                    "body": plain(request.body),
                    "screen": self.screen.diff(),
                }
            )

    def _blame(self, journal: Journal) -> list[list[object]]:
        changes = blame_changes(journal, self._blamed, self.screen)
        self._blamed = journal.count
        return changes


class TimelineDevice:
    """One phone's flow, explored: a fresh `DeviceRun` for each replay the judge asks for,
    each with a fresh copy of the flow (``fresh``), so that every timeline starts from the
    same flow, whatever an earlier one left in its module, its classes or its objects.

    A command may also name the events the judge expects to ask for next (``then``: the
    first branch at each point below, where a walk goes first). The phone goes on into
    them at once, sending each step's report as soon as it is made, so it runs the next
    step while the judge checks this one. It stops where the judge will most likely stop
    too: at a state it has been in before (the judge merges it), or where the flow
    raised. Whatever it ran ahead that the judge does not want is thrown away.
    """

    def __init__(self, fresh: Callable[[SteppedLoop], Flow], folder: str) -> None:
        self.fresh = fresh
        self.folder = folder
        self._output = Output()
        """What the current run's flow printed (`handle`)."""
        self.world: tuple[object, SmallWorld] | None = None
        """The world being explored, as the judge sent it and as read."""
        self.run: DeviceRun | None = None
        self._numbers: dict[Hashable, int] = {}
        """Each hidden state seen, by its number."""
        self._seen: set[tuple[tuple[tuple[str, int], ...], int]] = set()
        """Each point reached: the events so far (in order of kind) and the hidden state."""
        self._consumed: list[Event] = []
        """The events the current run has applied."""

    def handle(
        self,
        command: dict[str, Any],
        emit: Callable[[dict[str, object]], None] | None = None,
    ) -> dict[str, object]:
        """One step of a timeline, after a replay if the command asks for one (a replay names
        its world); with ``emit``, the steps of ``then`` too, each report but the last emitted.

        What the flow prints goes to its run's own output, as a scenario's phone's goes to
        its scenario's: no run of the thousands one phone explores fills another's."""
        saved = sys.stdout
        try:
            return self._handle(command, emit)
        finally:
            sys.stdout = saved

    def _handle(
        self,
        command: dict[str, Any],
        emit: Callable[[dict[str, object]], None] | None,
    ) -> dict[str, object]:
        world = self._world(command.get("world"))
        report: dict[str, object] = {}
        replay = command.get("replay")
        if replay is not None or self.run is None:
            self._end_run()
            journal = Journal(Path(self.folder)) if command.get("blame") is True else None
            self._output = Output()
            sys.stdout = self._output
            self.run = DeviceRun(self.fresh, world, journal)
            self._consumed = _events(replay or [])
            report["base"] = self.run.replay(self._consumed)
        sys.stdout = self._output
        ahead = _events(command.get("then", [])) if emit is not None else []
        step, seen = self._step(_event(command["step"]), _events(command.get("before", [])))
        report |= step
        for event in ahead:
            if (
                seen
                or "raised" in report
                or any(report["errors"])  # type: ignore[arg-type]
                or not self.run.can_apply(event)
            ):
                break
            report["more"] = True
            assert emit is not None
            emit(report)
            report, seen = self._step(event, [])
        report["more"] = False
        return report

    def _world(self, data: object) -> SmallWorld:
        """The world of this command: a new one starts a new exploration."""
        if data is not None and (self.world is None or self.world[0] != data):
            self.close()
            self.world = (data, world_from(data))  # type: ignore[arg-type]
            self._numbers.clear()
            self._seen.clear()
        if self.world is None:
            raise ValueError("a step of a timeline before its world")
        return self.world[1]

    def _step(self, event: Event, before: list[Event]) -> tuple[dict[str, object], bool]:
        """One step's report, and whether this point was reached before (then the judge
        most likely merges it: no use running ahead)."""
        run = self.run
        assert run is not None
        report = run.step(event, before, self.folder)
        self._consumed += (*before, event)
        number = self._numbers.setdefault(run.hidden.key(), len(self._numbers))
        point = (tuple(sorted((each.kind.value, each.send) for each in self._consumed)), number)
        report["key"] = number
        seen = point in self._seen
        self._seen.add(point)
        return report, seen

    @classmethod
    def here(cls, flow: Flow) -> TimelineDevice:
        """A flow explored in this process (the kit's own tests and benchmarks): each run
        gets a fresh copy of its file in a scripted world, or, for a flow made in memory,
        the flow itself."""
        source = getattr(flow, "__file__", None)
        if type(source) is not str:
            return cls(lambda loop: flow, ".")
        code, world = FlowCode(Path(source)), ScriptedWorld("timelines")
        return cls(lambda loop: code.device(world, loop=loop), str(code.folder))

    def close(self) -> None:
        self._end_run()

    def _end_run(self) -> None:
        """Let the run go, and put back what its flow set on the shipped classes and
        functions (the next run's fresh flow starts from them as shipped)."""
        if self.run is None:
            restore_shipped()  # the first run: whatever ran here before it is undone
            return
        self.run.close()
        restore_shipped(self.run.hidden.reachable)
        self.run = None


def _event(data: object) -> Event:
    if type(data) is not list or len(data) != 2 or type(data[1]) is not int:
        raise ValueError("an event that is not one")
    return Event(EventKind(data[0]), data[1])


def _events(data: object) -> list[Event]:
    if type(data) is not list:
        raise ValueError("events that are not a list")
    return [_event(item) for item in data]
