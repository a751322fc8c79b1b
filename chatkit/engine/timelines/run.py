"""One client driven through one timeline, by hand, with every rule checked after each step.

The learner's `send` is a coroutine that parks on the scripted server until the
timeline says what the server answers. The explorer needs thousands of these runs
a second, so it does not schedule them on the event loop: it steps each send's
coroutine itself (``coro.send(None)``) until the send is finished or waits on its
server request — the same "quiet" point the scenario harness reaches by yielding to
the loop. A send that awaits something else (``asyncio.sleep(0)``, a lock another
send releases) is stepped again as soon as that is done, so it still works; one
that waits on anything that never completes is reported as stuck. (A send must
await the server itself, as the starter asks: one that hands the delivery to a
background task is reported as never calling ``server.send``.)

A suspended coroutine cannot be copied, so a run cannot be snapshotted: to go back
to an earlier point the explorer builds a new `Run` and replays the events that led
there, with checking off (they were checked the first time), then hands the new
run the watch's memory from the first time (`chatkit.engine.rules.RuleWatch.recall`).

`Run.key` (from `chatkit.engine.timelines.canon`) is the run's canonical state: two
points of the world with the same key and the same events left behave the same from
there on, so the explorer checks what follows only once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from chatkit.client import ChatClient
from chatkit.engine.rules import (
    Rule,
    RuleBroken,
    RuleWatch,
    WatchMemory,
    check_new_id,
    check_pending_on_screen,
    check_reached_server,
    check_retry_id,
    check_shown_before_first_await,
)
from chatkit.engine.scripted import Connection, Request, ScriptedServer
from chatkit.engine.story import SERVER, screen
from chatkit.engine.story import Kind as StepKind
from chatkit.engine.timelines.canon import (
    CHAT,
    NOT_STARTED,
    OTHER,
    OTHER_CLIENT_ID,
    REFUSAL,
    USER,
    CanonicalState,
    reset_flow_globals,
)
from chatkit.engine.timelines.world import Event, EventKind, SmallWorld
from chatkit.limits import MAX_YIELDS
from chatkit.model import DeliveryError, Message, ServerMessage, Status
from chatkit.protocols import Flow
from chatkit.state import ChatState

_ANSWERS = frozenset({EventKind.ACK, EventKind.TIME_OUT, EventKind.REFUSE, EventKind.RETRY_ACK})

_ARROWS: dict[EventKind, tuple[StepKind, str, str]] = {
    EventKind.SEND: (StepKind.SEND, USER, SERVER),
    EventKind.RETRY: (StepKind.RETRY, USER, SERVER),
    EventKind.STORE: (StepKind.STORE, SERVER, SERVER),
    EventKind.ACK: (StepKind.ACK, SERVER, USER),
    EventKind.RETRY_ACK: (StepKind.ACK, SERVER, USER),
    EventKind.TIME_OUT: (StepKind.LOST, SERVER, USER),
    EventKind.REFUSE: (StepKind.REFUSE, SERVER, USER),
    EventKind.ECHO: (StepKind.ECHO, SERVER, USER),
    EventKind.POST: (StepKind.POST, OTHER, SERVER),
    EventKind.POST_ECHO: (StepKind.ECHO, SERVER, USER),
}


@dataclass(frozen=True, slots=True)
class Failure:
    """What went wrong at one step: a broken rule, or the learner's code raising."""

    error: BaseException
    """The `RuleBroken`, or the exception the learner's code raised."""

    @property
    def rule(self) -> Rule | None:
        return self.error.rule if isinstance(self.error, RuleBroken) else None

    @property
    def label(self) -> str:
        """The rule as the design names it, or ``crash (KeyError)``."""
        rule = self.rule
        return str(rule) if rule is not None else f"crash ({type(self.error).__name__})"

    @property
    def detail(self) -> str:
        if isinstance(self.error, RuleBroken):
            return self.error.detail
        return f"your code raised {type(self.error).__name__}: {self.error}"


class ReplayDiverged(RuntimeError):
    """Replaying a checked prefix did not behave as it did the first time."""


class _Task:
    """One call of the flow's `send` (a first send or a retry), stepped by hand."""

    __slots__ = ("coro", "done", "error", "reported", "request", "retry", "send", "waiting")

    def __init__(self, send: int, retry: bool, coro: Coroutine[Any, Any, Message]) -> None:
        self.send = send
        self.retry = retry
        self.coro = coro
        self.waiting: object = NOT_STARTED
        self.done = False
        self.error: BaseException | None = None
        self.reported = False
        self.request: Request | None = None

    @property
    def quiet(self) -> bool:
        """Finished, or waiting on the server's answer to its own request."""
        if self.done:
            return True
        request = self.request
        return request is not None and self.waiting is request.answer and not request.answered


class _Hooks:
    """The server's way back into a run; `Run.close` cuts it, which breaks the cycle."""

    __slots__ = ("run",)

    def __init__(self, run: Run) -> None:
        self.run: Run | None = run

    def on_request(self, request: Request) -> None:
        if self.run is not None:
            self.run._on_request(request)

    def deliver(self, message: ServerMessage) -> None:
        if self.run is not None:
            self.run._deliver(message)


class _Connection(Connection):
    """The scripted connection, noting whether the flow ever reads the history."""

    def __init__(self, server: ScriptedServer, user: str, hooks: _Hooks) -> None:
        super().__init__(server, user)
        self._hooks = hooks

    async def history(self, chat_id: str) -> list[ServerMessage]:
        run = self._hooks.run
        if run is not None:
            run.read_history = True
        return await super().history(chat_id)


class Run:
    """A fresh client, server and rule watch, driven one `Event` at a time."""

    def __init__(self, flow: Flow, world: SmallWorld) -> None:
        reset_flow_globals(flow)
        self.flow = flow
        self.world = world
        self.server = ScriptedServer()
        self._hooks = _Hooks(self)
        self.server.on_request = self._hooks.on_request
        self.read_history = False
        """True once the flow asked the server for history (it can see stores then)."""
        self.state = ChatState(USER)
        self.client = ChatClient(flow, self.state, _Connection(self.server, USER, self._hooks))
        self.watch = RuleWatch(self.state)
        self.server.join(CHAT, USER, self._hooks.deliver)
        count = len(world.sends)
        self.tasks: list[_Task] = []
        self.canon = CanonicalState(self)
        """What decides this run's future, without the random client ids (the explorer's key)."""
        self._live: list[_Task] = []
        """The tasks not done yet (`_settle` drops the finished ones)."""
        self._send_rank: dict[int, int] = {}
        """Each send's place in the order you sent them."""
        self._firsts: list[_Task | None] = [None] * count
        self._retries: list[_Task | None] = [None] * count
        self._stored: list[ServerMessage | None] = [None] * count
        self._echoes = [0] * count
        self._posted: ServerMessage | None = None
        self._actual: dict[str, str] = {OTHER: OTHER_CLIENT_ID}
        self._driving: _Task | None = None
        self._checking = True
        self._trouble: RuleBroken | None = None

    def close(self) -> None:
        """Cut the reference cycles in this run, so it is freed at once, not by the collector.

        The server's hooks point back at the run, and each refused or timed-out
        request's error holds a traceback whose frames hold the request.
        """
        self._hooks.run = None
        for task in self.tasks:
            request = task.request
            if request is not None and request.answer.done() and not request.answer.cancelled():
                error = request.answer.exception()
                if error is not None:
                    error.__traceback__ = None

    # Driving.

    def replay(
        self, events: tuple[Event, ...], memory: WatchMemory, *, checked: bool = False
    ) -> None:
        """Bring a fresh run to the point after ``events`` (checked before).

        Unchecked by default, then the rule watch is handed ``memory`` (what it
        remembered there the first time); ``checked=True`` checks every step again
        instead (slower: for measuring).
        """
        self._checking = checked
        try:
            for event in events:
                failure = self.step(event) if checked else self._apply(event)
                if failure is not None:
                    raise ReplayDiverged(
                        f"replaying {list(events)} failed at {event!r} ({failure.label}): "
                        "the flow does not behave the same way every time"
                    ) from failure.error
        finally:
            self._checking = True
        if checked:
            return
        self.watch.recall(
            WatchMemory(
                tuple((self._actual.get(cid, cid), status) for cid, status in memory.last_status),
                memory.banner,
                tuple((self._actual.get(cid, cid), status) for cid, status in memory.banner_status),
            )
        )

    def step(self, event: Event) -> Failure | None:
        """Apply one event and check every rule; the first thing that went wrong, if any.

        The order of the checks follows the scenario harness: what the request
        showed (rules 1, 8, 10), a send that is stuck or did not finish (rule 15),
        the learner's code raising, then the rule watch, then what only the
        explorer can tell (which sends are still on their way, the order of the
        unconfirmed rows).
        """
        crash = self._apply(event)  # the learner's reconcile raised on an echo
        if crash is not None:
            return crash
        try:
            return self._verdict(event)
        except RuleBroken as broken:
            return Failure(broken)

    def finish(self) -> Failure | None:
        """The timeline is over: every send must have finished."""
        for task in self.tasks:
            if not task.done:
                return Failure(
                    RuleBroken(
                        Rule.FINISHES,
                        f"every event is over, but the send of {self._body(task)!r} "
                        + ("still waits on the server" if task.quiet else "is stuck"),
                    )
                )
        return None

    def _apply(self, event: Event) -> Failure | None:
        kind, index = event.kind, event.send
        if kind is EventKind.SEND:
            plan = self.world.sends[index]
            self._send_rank[index] = len(self._send_rank)
            self._firsts[index] = self._start(index, False, self.client.send(CHAT, plan.body))
        elif kind is EventKind.RETRY:
            client_id = self._actual.get(f"s{index}", "")
            self._retries[index] = self._start(index, True, self.client.retry(client_id))
        elif kind is EventKind.STORE:
            self._stored[index] = self.server.store(self._request(self._latest(index)))
            return None  # only the server changed: nothing in the client can move
        elif kind is EventKind.ACK or kind is EventKind.RETRY_ACK:
            task = self._firsts[index] if kind is EventKind.ACK else self._retries[index]
            request = self._request(task)
            stored = self.server.store(request)
            self.watch.told(stored)
            self.server.ack(request)
        elif kind is EventKind.TIME_OUT:
            self.server.time_out(self._request(self._firsts[index]))
        elif kind is EventKind.REFUSE:
            self.server.refuse(self._request(self._firsts[index]), REFUSAL)
        elif kind is EventKind.ECHO:
            echoed = self._stored[index]
            assert echoed is not None
            self._echoes[index] += 1
            return self._echo(echoed)
        elif kind is EventKind.POST:
            assert self.world.other is not None
            self._posted = self.server.post(CHAT, OTHER, self.world.other, OTHER_CLIENT_ID)
            return None
        else:
            assert self._posted is not None
            return self._echo(self._posted)
        self._settle()
        return None

    def _echo(self, message: ServerMessage) -> Failure | None:
        try:
            self.server.echo(message)
        except Exception as error:  # the learner's reconcile raised
            self._settle()
            return Failure(error)
        self._settle()
        return None

    def _start(self, index: int, retry: bool, coro: Coroutine[Any, Any, Message]) -> _Task:
        task = _Task(index, retry, coro)
        self.tasks.append(task)
        self._live.append(task)
        return task

    def _settle(self) -> None:
        """Step every send that can move, until none can (or `MAX_YIELDS` rounds)."""
        live = self._live
        for _ in range(MAX_YIELDS):
            moved = False
            for task in live:
                waiting = task.waiting  # not started, a bare yield, or a future now done:
                if (
                    waiting is None
                    or waiting is NOT_STARTED
                    or (isinstance(waiting, asyncio.Future) and waiting.done())
                ):
                    self._resume(task)
                    moved = True
            if not moved:
                return
            if any(task.done for task in live):
                live[:] = [task for task in live if not task.done]

    def _resume(self, task: _Task) -> None:
        first = task.waiting is NOT_STARTED
        shown_before = len(self.state.messages)
        self._driving = task
        try:
            task.waiting = task.coro.send(None)
        except StopIteration:
            task.done = True
        except Exception as error:
            task.done = True
            task.error = error
        finally:
            self._driving = None
        if first and self._checking and not task.done and task.request is None:
            retry_of = self._actual.get(f"s{task.send}") if task.retry else None
            self._check(
                check_shown_before_first_await,
                self.state,
                self._body(task),
                CHAT,
                retry_of,
                shown_before,
            )

    def _crash(self, task: _Task | None) -> Failure | None:
        """The error a send raised, once: DeliveryError escaping is rule 6, anything else a crash."""
        if task is None or task.error is None or task.reported:
            return None
        task.reported = True
        if isinstance(task.error, DeliveryError):
            escaped = RuleBroken(
                Rule.KEEP_WORDS,
                f"send let DeliveryError({task.error.reason!r}) escape; "
                "catch it and roll back instead",
                function="send",  # the rule is rollback's, but send is where to look
            )
            escaped.__cause__ = task.error  # its traceback holds the line (see explore._blame)
            return Failure(escaped)
        return Failure(task.error)

    def _latest(self, index: int) -> _Task | None:
        return self._retries[index] or self._firsts[index]

    def _request(self, task: _Task | None) -> Request:
        if task is None or task.request is None:
            raise ReplayDiverged("a send the timeline answers never reached the server")
        return task.request

    def _deliver(self, message: ServerMessage) -> None:
        self.watch.told(message)
        self.client.receive(message)

    def _on_request(self, request: Request) -> None:
        task = self._driving
        if task is None:
            return
        task.request = request
        label = f"s{task.send}"
        client_id = request.client_id
        if task.retry:
            if self._checking:
                self._check(check_retry_id, request.body, client_id, self._actual.get(label))
        else:
            earlier = self.canon.sends.get(client_id)
            if self._checking and earlier is not None and earlier != label:
                first = (
                    f"{OTHER}'s message {self.world.other!r}"
                    if earlier == OTHER
                    else f"your earlier message {self._label_body(earlier)!r}"
                )
                self._check(check_new_id, request.body, first)
            self.canon.name(client_id, label)
            self._actual[label] = client_id
        if self._checking:
            typed = self._label_body(label)
            self._check(
                check_pending_on_screen, self.state, client_id, request.chat_id, typed, request.body
            )
        self.watch.sent(client_id)

    def _check(self, check: Callable[..., None], *arguments: object) -> None:
        """Run one of the rules' checks now; keep the first rule it finds broken for `step`."""
        try:
            check(*arguments)
        except RuleBroken as broken:
            self._trouble = self._trouble or broken

    # Checking.

    def _verdict(self, event: Event) -> Failure | None:
        """Check everything after ``event``; raise `RuleBroken`, or return a crash."""
        if self._trouble is not None:
            raise self._trouble
        kind, index = event.kind, event.send
        task: _Task | None = None
        if kind is EventKind.SEND or kind is EventKind.RETRY:
            task = self._firsts[index] if kind is EventKind.SEND else self._retries[index]
            assert task is not None
            if task.request is None:
                crash = self._crash(task)
                if crash is not None:
                    return crash
                # a retry here always finds its message failed: the world retries only then
                shown = "failed" if kind is EventKind.RETRY else "new"
                check_reached_server(self._body(task), finished=task.done, shown_as=shown)
        elif kind in _ANSWERS:
            task = self._retries[index] if kind is EventKind.RETRY_ACK else self._firsts[index]
            if task is not None and not task.done:
                raise RuleBroken(
                    Rule.FINISHES,
                    f"the server answered, but the send of {self._body(task)!r} did not finish",
                )
        crash = self._crash(task)
        if crash is not None:
            return crash
        for other in self.tasks:  # a send another event woke up (a lock, say) and crashed
            crash = self._crash(other)
            if crash is not None:
                return crash
        self.watch.check(
            retrying=self._actual.get(f"s{index}") if kind is EventKind.RETRY else None
        )
        self._check_progress()
        return None

    def _check_progress(self) -> None:
        """What only the explorer knows: which of your sends are still on their way.

        A send is on its way while one of its attempts waits for the server's
        answer and the client has not been told the server stored it (ack or
        echo). Such a message shows pending, and the chat shows "sending…". A
        message that is no longer on its way and was never confirmed failed: it
        shows failed. And unconfirmed messages keep the order they were sent in
        (a retried one may move).
        """
        seen = self.watch.seen
        chat = self.state.chats.get(CHAT)
        rows = chat.rows if chat is not None else []
        on_its_way = False
        order: list[tuple[int, str]] = []
        for index, first in enumerate(self._firsts):
            if first is None or first.request is None:
                continue
            client_id = first.request.client_id
            row = self.state.get(client_id)
            if row is None or client_id in seen:
                continue  # rules 3 and 6 (the watch) are about these
            retry = self._retries[index]
            waiting = any(
                task is not None
                and not task.done
                and task.request is not None
                and not task.request.answered
                for task in (first, retry)
            )
            body = self.world.sends[index].body
            if waiting:
                on_its_way = True
                if row.status is Status.FAILED:
                    raise RuleBroken(
                        Rule.MONOTONIC,
                        f"{body!r} shows failed while its send is still on its way (the server "
                        "has not answered it); a message fails only when its own send fails",
                    )
            elif row.status is Status.PENDING:
                raise RuleBroken(
                    Rule.KEEP_WORDS,
                    f"{body!r} still shows pending, but its send is over and the server never "
                    "confirmed it: it must show failed, with the reason",
                )
            if retry is None:
                order.append((self._send_rank[index], client_id))
        if chat is not None and chat.sending != on_its_way:
            raise RuleBroken(
                Rule.LOADING_AND_ERRORS,
                f"the chat shows sending={chat.sending}, but "
                + (
                    "a send of yours is still on its way" if on_its_way else "none of your sends is"
                ),
            )
        if len(order) > 1:
            position = {id(row): number for number, row in enumerate(rows)}
            shown = sorted(order, key=lambda item: position.get(id(self.state.get(item[1])), -1))
            order.sort()
            if shown != order:
                raise RuleBroken(
                    Rule.SERVER_TRUTH,
                    "unconfirmed messages must stay in the order they were sent "
                    f"({self._bodies(order)}), but they show as {self._bodies(shown)}",
                )

    def _bodies(self, ranked: list[tuple[int, str]]) -> str:
        by_rank = {rank: index for index, rank in self._send_rank.items()}
        return ", ".join(repr(self.world.sends[by_rank[rank]].body) for rank, _ in ranked)

    def _label_body(self, label: str) -> str:
        """The body of the send a canonical label (``s1``) stands for."""
        return self.world.sends[int(label[1:])].body

    def _body(self, task: _Task) -> str:
        return self.world.sends[task.send].body

    # Telling.

    def narrate(self, event: Event) -> str:
        """What ``event`` was, for the story (call it after the event)."""
        kind, index = event.kind, event.send
        body = self.world.sends[index].body if index >= 0 else self.world.other
        stored = self._stored[index] if index >= 0 else self._posted
        seq = f"#{stored.seq}" if stored is not None else "?"
        if kind is EventKind.SEND:
            return f"you send {body!r}"
        if kind is EventKind.STORE:
            retried = " (the retry)" if self._retries[index] is not None else ""
            return f"the server stores {body!r}{retried} as {seq}"
        if kind is EventKind.ACK:
            return f"the ack for {body!r} reaches you"
        if kind is EventKind.TIME_OUT:
            return f"the ack for {body!r} is lost: your client gives up waiting"
        if kind is EventKind.REFUSE:
            return f"the server refuses {body!r}: {REFUSAL}"
        if kind is EventKind.ECHO:
            again = " again" if self._echoes[index] > 1 else ""
            return f"the echo of {body!r} ({seq}) reaches you{again}"
        if kind is EventKind.RETRY:
            return f"you retry {body!r}"
        if kind is EventKind.RETRY_ACK:
            return f"the ack for the retry of {body!r} reaches you"
        if kind is EventKind.POST:
            return f"{OTHER} sends {body!r}; the server stores it as {seq}"
        return f"{OTHER}'s {body!r} ({seq}) reaches you"

    def screen(self) -> list[str]:
        """Your screen: the timeline, then the chat's indicator and banner if shown."""
        return screen(self.state, CHAT)

    def arrow(self, event: Event) -> tuple[StepKind, str, str]:
        """What ``event`` was for a diagram: its kind, who it went from and who it reached."""
        return _ARROWS[event.kind]
