"""The phone's side: one device's flow, driven by the judge's commands.

The phone holds the learner's flow (its own freshly run copy, behind the import gate),
its `ChatState`, its clock and its random numbers. Each command from the judge — the
user sends or retries, the server answers a request, a realtime message arrives, the
chat is reloaded — becomes a call of the flow's ``send``, ``reconcile`` or ``rollback``
through a `ChatClient`. The phone then runs its event loop until every send is
finished or waits on the server, and reports what happened, in order:

- ``request``: the flow called the server (``send`` or ``history``), with its arguments,
  the screen at that moment and the learner's line that called;
- ``paused``: a send gave up control for the first time before calling the server,
  with the screen at that moment and where it waits;
- ``done``: a send finished, with what it returned or raised.

Each report ends with the screen, the state of every send, what the flow printed and
who last changed each row and chat (the journal, for the story's blame). All of it is
plain data (`chatkit.phone.screen`): the judge decides what it means.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import itertools
import socket
import sys
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chatkit.blame import Journal, blame_frame, blame_places, blame_suspended
from chatkit.client import ChatClient
from chatkit.failover import FailoverServer
from chatkit.limits import MAX_YIELDS
from chatkit.model import DeliveryError, Message, ServerMessage
from chatkit.phone.errors import blame_changes, blame_data, error_data
from chatkit.phone.frames import PhoneGone, read_frame, write_frame
from chatkit.phone.scale import ScaleBench
from chatkit.phone.screen import ScreenWriter, plain
from chatkit.phone.task_names import numbered_tasks
from chatkit.phone.timeline import TimelineDevice
from chatkit.sandbox import FlowCode, ScriptedWorld
from chatkit.sandbox.shared_caches import forget_shared_caches
from chatkit.sandbox.world import WAITS, Place, Waits
from chatkit.state import ChatState

PRIMARY, FALLBACK = "primary", "fallback"
"""A failover client's two transports, as the requests name them."""
_current_op: contextvars.ContextVar[int | None] = contextvars.ContextVar("op", default=None)


def server_message(data: dict[str, Any]) -> ServerMessage:
    """The server's copy, from the judge (who is trusted: it built it)."""
    return ServerMessage(**{**data, "created_at": datetime.fromisoformat(data["created_at"])})


@dataclass(eq=False)
class _Op:
    """One thing the user started (a send, a retry, a reload), running as a task."""

    number: int
    task: asyncio.Task[Any]
    waiting: int | None = None
    """The request it waits on now, if it waits on the server."""
    sent: bool = False
    """Whether it called ``server.send`` yet (a history load first does not count)."""
    told: bool = False
    """Whether its ``done`` was reported."""
    waits: Waits = field(default_factory=Waits)
    """What it did with the scripted clock: its sleeps, its own time-outs."""


@dataclass(eq=False)
class _Unsent(Waits):
    """The clock waits of the flow's code outside any send: a task it started as its module
    loaded, say. One while a send the server has answered is unfinished keeps that send's
    news from its user as surely as a wait in the send itself, and counts as one."""

    ops: dict[int, _Op] = field(default_factory=dict)

    def note(self, asked: tuple[float, list[Place]]) -> None:
        for op in self.ops.values():
            if op.waits.answered and not op.task.done():
                op.waits.note(asked)


class _Line:
    """The server as the flow sees it: each call becomes a request to the judge."""

    def __init__(self, phone: Phone, via: str | None) -> None:
        self.phone = phone
        self.via = via

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        return await self.phone.request(  # type: ignore[no-any-return]
            "send", self.via, chat_id=chat_id, client_id=client_id, body=body
        )

    async def history(self, chat_id: str) -> list[ServerMessage]:
        return await self.phone.request("history", self.via, chat_id=chat_id)  # type: ignore[no-any-return]


class Phone:
    """One device: the learner's flow, its state and its loop, run command by command."""

    def __init__(self, code: FlowCode, scenario: str, device: str, user: str) -> None:
        self.folder = str(code.folder)
        self._code = code
        self._device = device
        self.world = ScriptedWorld(scenario)
        sys.stdout = self.world.output  # the flow keeps Python's own print; its output lands here
        self.journal = _Journal(code.folder)
        self.loop = asyncio.new_event_loop()
        self.loop.set_task_factory(numbered_tasks())
        asyncio.set_event_loop(self.loop)
        self.loop.set_exception_handler(lambda loop, context: None)  # the judge is told instead
        self.ops: dict[int, _Op] = {}
        WAITS.set(_Unsent(ops=self.ops))  # each send's own context replaces it (`_start`)
        with self.journal.recording():
            flow = code.device(self.world, device, self.loop)
        self.state = ChatState(user)
        self.client = ChatClient(flow, self.state, _Line(self, None))
        self.screen = self.journal.screen = ScreenWriter(self.state)
        self.answers: dict[int, asyncio.Future[Any]] = {}
        self._requests = itertools.count(1)
        self._events: list[dict[str, object]] = []
        self._blamed = 0
        self._bench = ScaleBench(flow, self.folder, self.loop)
        self._explored: TimelineDevice | None = None
        """The flow's device for the explorer's timelines, once asked for."""
        self.emit: Callable[[dict[str, Any]], None] | None = None
        """How a command that answers in several frames sends all but its last (`serve`)."""
        self._jobs: dict[str, Callable[[dict[str, Any]], object]] = {
            "timeline": self._timeline,
            "scale": self._scale,
            "scale_check": self._scale_check,
            "scale_trace": self._scale_trace,
            "scale_kept": self._scale_kept,
        }

    # The commands.

    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        """Carry out one command and say what happened."""
        now = command.get("now")
        if now is not None:
            self.world.clock.move_to(datetime.fromisoformat(now))
        report: dict[str, Any] = {}
        try:
            job = self._jobs.get(command["do"])
            if job is not None:  # work of its own, outside the journal (it keeps none, or its own)
                report["result"] = job(command)
                return {**report, "printed": self.world.output.drain()}
            with self.journal.recording():
                self._do(command, report)
                self.loop.run_until_complete(self._settle())
            forget_shared_caches()  # as a timeline's step does (`chatkit.sandbox.shared_caches`)
        except BaseException as error:
            report["fatal"] = error_data(error, self.folder)
        report["events"], self._events = self._events, []
        report["screen"] = self.screen.diff(everything=True)
        report["ops"] = {str(op.number): self._op_state(op) for op in self.ops.values()}
        report["printed"] = self.world.output.drain()
        report["blame"] = self._blame()
        return report

    def _do(self, command: dict[str, Any], report: dict[str, Any]) -> None:
        do = command["do"]
        if do == "batch":
            for each in command["commands"]:
                self._do(each, report)
                forget_shared_caches()
        elif do == "send":
            self._start(command["op"], self.client.send(command["chat_id"], command["body"]))
        elif do == "retry":
            self._start(command["op"], self.client.retry(command["client_id"]))
        elif do == "backfill":
            self._start(command["op"], self.client.backfill(command["chat_id"]))
        elif do == "resync":
            self._start(command["op"], self.client.resync(command["chat_id"]))
        elif do == "answer":
            self._answer(command)
        elif do == "receive":
            try:
                self.client.receive(server_message(command["message"]))
            except Exception as error:  # the learner's reconcile raised: the judge decides
                report["raised"] = error_data(error, self.folder)
        elif do == "failover":
            self.client.server = FailoverServer(_Line(self, PRIMARY), _Line(self, FALLBACK))
        elif do != "settle":
            raise ValueError(f"no such command: {do!r}")

    def _timeline(self, command: dict[str, Any]) -> object:
        """One step of a timeline of a small world (`chatkit.phone.timeline`): the judge
        explores, the phone runs its flow and says what it did."""
        if self._explored is None:
            code, world, name = self._code, self.world, self._device
            self._explored = TimelineDevice(
                lambda loop: code.device(world, name, loop), self.folder
            )
        device = self._explored

        def emit(report: dict[str, object]) -> None:
            if self.emit is not None:
                self.emit({"result": report, "printed": self.world.output.drain()})

        async def step() -> dict[str, object]:
            return device.handle(command, emit if self.emit is not None else None)

        return self.loop.run_until_complete(step())

    def _scale(self, command: dict[str, Any]) -> object:
        """A batch of the scale family's events (`chatkit.phone.scale`); the judge times it.
        The result: how many of its sends did not finish. With ``prepare``, the batch's
        events are only made, ready for the next command to run."""
        bench, batch = self._bench, (command["job"], command["size"], command["batch"])
        if command.get("prepare") is True:
            bench.prepare(*batch, command["only"])
            return 0
        return bench.run(*batch, command["only"])

    def _scale_check(self, command: dict[str, Any]) -> object:
        return self._bench.check(command["job"], command["size"])

    def _scale_kept(self, command: dict[str, Any]) -> object:
        return self._bench.kept()

    def _scale_trace(self, command: dict[str, Any]) -> object:
        where = self._bench.trace(
            command["job"], command["size"], command["only"], command["function"]
        )
        return blame_data(where)

    def _answer(self, command: dict[str, Any]) -> None:
        future = self.answers.pop(command["request"])
        if future.done():  # the flow cancelled the request: the answer lands nowhere
            return
        if "ack" in command:
            future.set_result(server_message(command["ack"]))
        elif "history" in command:
            future.set_result([server_message(item) for item in command["history"]])
        else:
            future.set_exception(DeliveryError(command["refuse"]))

    # Running the flow.

    def _start(self, number: int, work: Coroutine[Any, Any, Any]) -> None:
        """Start a send (or a reload) as a task; note where it first gives up control."""
        context = contextvars.copy_context()
        context.run(_current_op.set, number)
        waits = Waits()
        context.run(WAITS.set, waits)
        watched = _FirstPause(
            work, lambda: self._paused(number, work), lambda row: self._returned(number, row)
        )
        task = self.loop.create_task(_await(watched), context=context)
        op = self.ops[number] = _Op(number, task, waits=waits)
        task.add_done_callback(lambda _: self._done(op))

    def _paused(self, number: int, work: Coroutine[Any, Any, Any]) -> None:
        op = self.ops.get(number)
        if op is not None and not op.sent:
            self._event("paused", op=number, where=blame_data(blame_suspended(work, self.folder)))

    def _returned(self, number: int, result: object) -> None:
        """A send returned ``result``, a row: that row as it is at that moment (rule 15: the
        judge reads what it shows). Only the row: a burst of thousands of sends returns
        thousands of times."""
        if type(result) is Message:
            row, screen = self.screen.just_the_row(result)
            self._events.append({"e": "returned", "op": number, "screen": screen, "row": row})

    def _done(self, op: _Op) -> None:
        task = op.task
        waited = self._waited(op)
        if task.cancelled():
            self._event("done", op=op.number, cancelled=True, **waited)
            return
        error = task.exception()
        if error is not None:
            self._event("done", op=op.number, error=error_data(error, self.folder), **waited)
            error.__traceback__ = None  # frames hold the state: let them go
            return
        result = task.result()
        returned = self.screen.number(result)
        self._event(
            "done",
            op=op.number,
            returned=returned if returned is not None else plain(result),
            **waited,
        )

    def _waited(self, op: _Op) -> dict[str, object]:
        """What a finished send did with the clock: how long it slept in all, and where its
        longest sleep was asked for; whether a time-out of its own ran out."""
        waits = op.waits
        told: dict[str, object] = {}
        if waits.slept:
            longest = max(waits.slept, key=lambda each: each[0])[1]
            told["slept"] = sum(delay for delay, _ in waits.slept)
            told["slept_at"] = blame_data(blame_places(longest, self.folder))
        if waits.after_answer:
            told["slept_after_answer"] = sum(delay for delay, _ in waits.after_answer)
            first = waits.after_answer[0][1]
            told["slept_after_answer_at"] = blame_data(blame_places(first, self.folder))
        waits.slept.clear()  # the frames hold the flow's locals: let them go
        waits.after_answer.clear()
        if waits.gave_up:
            told["gave_up"] = True
        return told

    async def request(self, call: str, via: str | None, **arguments: object) -> Any:
        """A call of the flow's to the server: tell the judge, then wait for its answer."""
        number = next(self._requests)
        future = self.answers[number] = self.loop.create_future()
        op = self.ops.get(_current_op.get() or 0)
        where = blame_data(blame_frame(sys._getframe(2), self.folder))
        self._event(
            "request",
            op=op.number if op is not None else None,
            request=number,
            call=call,
            via=via,
            where=where,
            **{name: plain(value) for name, value in arguments.items()},
        )
        if op is not None:
            op.waiting = number
            op.sent = op.sent or call == "send"
        try:
            return await future
        finally:
            if op is not None and future.done() and not future.cancelled():
                op.waits.answered = True
            if op is not None and op.waiting == number:
                op.waiting = None

    async def _settle(self) -> None:
        """Let the flow run until every send is finished or waits on the server."""
        for _ in range(MAX_YIELDS):
            if all(self._op_state(op) != "busy" for op in self.ops.values()):
                return
            await asyncio.sleep(0)

    def _op_state(self, op: _Op) -> str:
        if op.task.done():
            return "done"
        if op.waiting is not None and op.waiting in self.answers:
            return "server"
        return "busy"

    # Reporting.

    def _event(self, kind: str, **fields: object) -> None:
        event: dict[str, object] = {"e": kind, **fields}
        if kind != "done":  # what a send left on screen is in the report's own screen
            event["screen"] = self.screen.diff(everything=False)
        self._events.append(event)

    def _blame(self) -> list[list[object]]:
        changes = blame_changes(self.journal, self._blamed, self.screen)
        self._blamed = self.journal.count
        return changes


class _Journal(Journal):
    """The phone's journal: it also tells the screen which rows and chats were touched."""

    screen: ScreenWriter

    def note(self, target: object, field: str, frame: Any) -> None:
        self.screen.touched(target)
        super().note(target, field, frame)


class _FirstPause:
    """Awaits a coroutine, calling ``on_pause`` the first time it gives up control, and
    ``on_return`` the moment it returns.

    At the first pause, before anything else runs, the send's message must be on screen
    (rule 1); when it returns, its row must be settled (rule 15: a task of the flow's that
    settles it later has not run yet). The phone writes the screen right there.
    """

    def __init__(
        self,
        work: Coroutine[Any, Any, Any],
        on_pause: Callable[[], None],
        on_return: Callable[[object], None],
    ) -> None:
        self.work = work
        self.on_pause = on_pause
        self.on_return = on_return

    def __await__(self) -> Generator[Any, Any, Any]:
        work, paused = self.work, False
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            try:
                yielded = work.throw(thrown) if thrown is not None else work.send(sent)
            except StopIteration as stop:
                self.on_return(stop.value)
                return stop.value
            if not paused:
                paused = True
                self.on_pause()
            try:
                sent, thrown = (yield yielded), None
            except BaseException as error:
                sent, thrown = None, error


async def _await(watched: _FirstPause) -> Any:
    return await watched


def serve(channel: socket.socket, phone: Phone) -> None:
    """Answer the judge's commands until it hangs up."""
    phone.emit = functools.partial(write_frame, channel)
    while True:
        try:
            command = read_frame(channel)
        except PhoneGone:
            return
        if command.get("do") == "stop":
            return
        write_frame(channel, phone.handle(command))
