"""One client driven through one timeline, by hand, with every rule checked after each step.

The judge's half of a run: the scripted server, the rule watch, a mirror of the phone's
screen and what each send did. The flow runs on a phone (`chatkit.phone.timeline`, or
`LocalDevice` for the kit's own tests and benchmarks): each event of the timeline is
one command, and the phone's report — every server call with the screen at that
moment, each send's first pause with the screen then, the screen after the event,
where each send is — is read and checked here, in order. Nothing the phone says is
taken for a verdict: it is what its flow did, and the judge decides what it means.

A suspended coroutine cannot be copied, so a run cannot be snapshotted: to go back to
an earlier point the explorer builds a new `Run` and replays the events that led there.
The phone replays them on its own (one round trip for the replay and the next step);
the judge rebuilds its side from what the phone's sends sent, with checking off (those
steps were checked the first time), then hands the new rule watch the memory from the
first time (`chatkit.engine.rules.RuleWatch.recall`).

`Run.key` is the run's canonical state (`chatkit.engine.timelines.canon`): two points of
the world with the same key and the same events left behave the same from there on, so
the explorer checks what follows only once.
"""

from __future__ import annotations

import abc
import asyncio
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from chatkit.blame import Blame, RemoteJournal
from chatkit.engine.remote import (
    NOT_A_REPORT,
    PhoneMisbehaved,
    PhoneRaised,
    blame_of,
    error_of,
    reported_error,
    sent_text,
)
from chatkit.engine.rules import (
    Rule,
    RuleBroken,
    RuleWatch,
    StateShapeError,
    WatchMemory,
    check_new_id,
    check_pending_on_screen,
    check_reached_server,
    check_retry_id,
    check_returned_row,
    check_shown_before_first_await,
    check_state_shape,
)
from chatkit.engine.story import SERVER, screen
from chatkit.engine.story import Kind as StepKind
from chatkit.engine.timelines.canon import CanonicalState
from chatkit.model import DeliveryError, ServerMessage, Status
from chatkit.phone.screen import ScreenReader
from chatkit.script.names import CHAT, OTHER, OTHER_CLIENT_ID, REFUSAL, USER
from chatkit.script.server import CLIENT_ID_TAKEN, Request, ScriptedServer
from chatkit.script.small_world import (
    BUSY,
    DONE,
    ON_SERVER,
    SERVER_ONLY,
    Event,
    EventKind,
    SmallWorld,
    world_data,
)
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

_WHERE = frozenset({BUSY, ON_SERVER, DONE})
_T = TypeVar("_T")


def kind_name(error: BaseException) -> str:
    """The name of what the learner's code raised (the phone's, for a `PhoneRaised`)."""
    return error.kind if isinstance(error, PhoneRaised) else type(error).__name__


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
        return str(rule) if rule is not None else f"crash ({kind_name(self.error)})"

    @property
    def detail(self) -> str:
        if isinstance(self.error, RuleBroken):
            return self.error.detail
        return f"your code raised {kind_name(self.error)}: {self.error}"


class ReplayDiverged(RuntimeError):
    """Replaying a checked prefix did not behave as it did the first time."""


class Device(abc.ABC):
    """Where the flow runs: each command is one step of a timeline (see the module
    docstring); the answer is the phone's report, plain data the judge reads."""

    @abc.abstractmethod
    def call(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send one command; the phone's (first) report of it."""

    def more(self) -> dict[str, Any]:
        """The next report of the last command, when it said ``more`` (it ran ahead)."""
        raise NotImplementedError

    @abc.abstractmethod
    def close(self) -> None:
        """The exploration is over."""


class _Attempt:
    """One call of the flow's `send` (a first send or a retry), as the judge knows it."""

    __slots__ = (
        "error",
        "raised_at",
        "reported",
        "request",
        "retry",
        "returned_as",
        "send",
        "where",
    )

    def __init__(self, send: int, retry: bool) -> None:
        self.send = send
        self.retry = retry
        self.where = BUSY
        """`BUSY`, `ON_SERVER` (waiting on its request) or `DONE`, as the phone last said."""
        self.error: BaseException | None = None
        self.raised_at: Blame | None = None
        self.reported = False
        self.request: Request | None = None
        """Its latest request to the server, as the judge's server holds it."""
        self.returned_as: object = None
        """What the row it returned showed the moment it returned (a `Status`), if it
        returned a row (rule 15)."""

    @property
    def done(self) -> bool:
        return self.where == DONE

    @property
    def quiet(self) -> bool:
        """Finished, or waiting on the server's answer to its own request."""
        if self.done:
            return True
        request = self.request
        return self.where == ON_SERVER and request is not None and not request.answered


class Run:
    """A fresh client on the device, the judge's server and rule watch, driven one `Event` at
    a time."""

    def __init__(self, device: Device, world: SmallWorld, *, blame: bool = False) -> None:
        self.device = device
        self.world = world
        self.blame = blame
        self.server = ScriptedServer()
        self.reader = ScreenReader(USER)
        self.journal = RemoteJournal(self.reader.key)
        self.read_history = False
        """True once the flow asked the server for history (it can see stores then)."""
        self.watch = RuleWatch(self.reader.state)
        count = len(world.sends)
        self.tasks: list[_Attempt] = []
        self.canon = CanonicalState()
        """Which send each client id belongs to, and the run's canonical key."""
        self.hidden: int | None = None
        """The phone's number for what only it can see (where its sends wait, its locals)."""
        self._send_rank: dict[int, int] = {}
        """Each send's place in the order you sent them."""
        self._firsts: list[_Attempt | None] = [None] * count
        self._retries: list[_Attempt | None] = [None] * count
        self._stored: list[ServerMessage | None] = [None] * count
        self._echoes = [0] * count
        self._posted: ServerMessage | None = None
        self._actual: dict[str, str] = {OTHER: OTHER_CLIENT_ID}
        self._held: list[Event] = []
        """Server-only events the phone has not been told yet (they go with the next step)."""
        self._replay: tuple[tuple[Event, ...], WatchMemory] | None = ((), WatchMemory())
        """The events to replay on a fresh phone run with the next step, and the watch's
        memory there; a new run always starts afresh."""
        self._ahead: deque[Event] = deque()
        """The events the phone was asked to run ahead into (`step`'s ``ahead``)."""
        self._streaming = False
        """Whether the phone ran ahead into the first of ``_ahead`` (its report is next)."""
        self._checking = True
        self._trouble: RuleBroken | None = None
        self._returned_now: list[_Attempt] = []
        """The sends that returned in the step being read (`_take`)."""

    @property
    def state(self) -> ChatState:
        """The judge's mirror of the phone's screen."""
        return self.reader.state

    # Driving.

    def replay(
        self, events: tuple[Event, ...], memory: WatchMemory, *, checked: bool = False
    ) -> None:
        """Bring this fresh run to the point after ``events`` (checked before).

        The phone replays them with the next `step`; the rule watch is then handed
        ``memory`` (what it remembered there the first time). ``checked=True`` checks
        every step again instead (slower: for measuring).
        """
        if not checked:
            self._replay = (events, memory)
            return
        for event in events:
            failure = self.step(event)
            if failure is not None:
                raise ReplayDiverged(
                    f"replaying {list(events)} failed at {event!r} ({failure.label}): "
                    "the flow does not behave the same way every time"
                ) from failure.error

    def can_step(self, event: Event) -> bool:
        """Whether the phone's run is where this run is: it may have run ahead into another
        branch than ``event`` (then a new run replays its way here)."""
        return not self._streaming or self._ahead[0] == event

    def step(self, event: Event, ahead: tuple[Event, ...] = ()) -> Failure | None:
        """Apply one event and check every rule; the first thing that went wrong, if any.

        The order of the checks follows the scenario harness: what the request
        showed (rules 1, 8, 10), a send that is stuck or did not finish (rule 15),
        the learner's code raising, then the rule watch, then what only the
        explorer can tell (which sends are still on their way, the order of the
        unconfirmed rows).

        ``ahead`` are the events the walk will most likely ask for next: the phone may go
        on into them at once (see `chatkit.phone.timeline.TimelineDevice`).
        """
        if not self._streaming:
            self._ahead = deque(ahead)
        crash = self._apply(event, online=True)
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

    def memory(self) -> WatchMemory:
        """What the rule watch remembers, with client ids renamed to sends (``s0``…)."""
        return self.watch.memory().renamed(self.canon.rename)

    def key(self, memory: WatchMemory) -> Hashable:
        """Everything that decides what happens next, minus the random client ids."""
        return self.canon.key(self.state, self.server, memory, self.tasks, self.hidden)

    def _apply(self, event: Event, *, online: bool) -> Failure | None:
        """One event on the phone (``online``: when the flow can see it, or a replay is due)
        and on the judge's side; what ``reconcile`` raised, if it did."""
        kind, index = event.kind, event.send
        report = None
        if online and self._streaming:  # the phone already ran into this event
            if self._ahead.popleft() != event:
                raise ReplayDiverged(f"the phone ran ahead into another event than {event!r}")
            report = self.device.more()
        elif online and (self._replay is not None or kind not in SERVER_ONLY):
            report = self._exchange(event)
        if report is not None:
            self._streaming = report.get("more") is True
            if not self._streaming:
                self._ahead.clear()
        if kind is EventKind.SEND:
            self._send_rank[index] = len(self._send_rank)
            self._firsts[index] = self._attempt(index, False)
        elif kind is EventKind.RETRY:
            self._retries[index] = self._attempt(index, True)
        elif kind is EventKind.STORE:
            self._stored[index] = self.server.store(self._request(self._latest(index)))
        elif kind is EventKind.ACK or kind is EventKind.RETRY_ACK:
            task = self._firsts[index] if kind is EventKind.ACK else self._retries[index]
            request = self._request(task)
            stored = self.server.store(request)
            self.watch.told(stored)
            self.server.ack(request)
        elif kind is EventKind.TIME_OUT:
            _answered(self.server.time_out, self._request(self._firsts[index]))
        elif kind is EventKind.REFUSE:
            _answered(self.server.refuse, self._request(self._firsts[index]), REFUSAL)
        elif kind is EventKind.ECHO:
            echoed = self._stored[index]
            assert echoed is not None
            self._echoes[index] += 1
            self.watch.told(echoed)
        elif kind is EventKind.POST:
            assert self.world.other is not None
            self._posted = self.server.post(CHAT, OTHER, self.world.other, OTHER_CLIENT_ID)
        else:
            assert self._posted is not None
            self.watch.told(self._posted)
        if report is None:
            if online:  # nothing in the client can move: the phone hears of it with the next
                self._held.append(event)
            return None
        return self._read(self._take, report)

    def _attempt(self, index: int, retry: bool) -> _Attempt:
        task = _Attempt(index, retry)
        self.tasks.append(task)
        return task

    # The phone's side.

    def _exchange(self, event: Event) -> dict[str, Any]:
        """Send the phone one step (after a replay, if one is due); its report. The judge's
        side of a replay is rebuilt here, before the judge's side of the step."""
        command: dict[str, Any] = {"step": _event_data(event)}
        if self._held:
            command["before"] = [_event_data(held) for held in self._held]
            self._held = []
        replay = self._replay
        if replay is not None:
            command["replay"] = [_event_data(each) for each in replay[0]]
            command["world"] = world_data(self.world)
        if self.blame:
            command["blame"] = True
        if self._ahead:
            command["then"] = [_event_data(each) for each in self._ahead]
        report = self.device.call(command)
        if replay is not None:
            self._replay = None
            self._read(lambda base: self._rebuild(replay[0], replay[1], base), report.get("base"))
        return report

    def _read(self, read: Callable[[Any], _T], data: Any) -> _T:
        """Read what the phone said; a report that is not one ends the exploration."""
        try:
            return read(data)
        except StateShapeError:  # a report, of a screen that is not one: the flow's doing
            raise
        except NOT_A_REPORT as error:
            raise PhoneMisbehaved(f"the phone's report is not one: {error}") from None

    def _rebuild(self, events: tuple[Event, ...], memory: WatchMemory, base: Any) -> None:
        """The judge's side of a replay the phone made: the same events on the judge's
        server, with the requests the phone's sends made, unchecked."""
        if base["raised"] is not False:
            raise ReplayDiverged("replaying a checked prefix, the flow's reconcile raised")
        attempts = base["attempts"]
        checking, self._checking = self._checking, False
        try:
            for event in events:
                self._apply(event, online=False)
                if event.kind is EventKind.SEND or event.kind is EventKind.RETRY:
                    task = self.tasks[-1]
                    sent = attempts[len(self.tasks) - 1]
                    if sent is not None:
                        client_id, chat_id, body = (_text(value) for value in sent)
                        self._requested(task, client_id, chat_id, body)
        finally:
            self._checking = checking
        self.reader.apply(base["screen"])
        self._where(base["where"])
        self.read_history = base["history"] is True
        self.watch.recall(
            WatchMemory(
                tuple((self._actual.get(cid, cid), status) for cid, status in memory.last_status),
                memory.banner,
                tuple((self._actual.get(cid, cid), status) for cid, status in memory.banner_status),
            )
        )

    def _take(self, report: dict[str, Any]) -> Failure | None:
        """Read the phone's report of one step, in order; what ``reconcile`` raised, if it did."""
        self._returned_now = []
        for event in report["events"]:
            self.reader.apply(event["screen"])
            task = self.tasks[_number(event["attempt"])]
            kind = event["e"]
            if kind == "paused":
                if self._checking:
                    retry_of = self._actual.get(f"s{task.send}") if task.retry else None
                    self._check(
                        check_shown_before_first_await,
                        self.state,
                        self._body(task),
                        CHAT,
                        retry_of,
                        _number(event["shown_before"]),
                    )
            elif kind == "request":
                self._requested(
                    task,
                    sent_text(event["client_id"]),
                    sent_text(event["chat_id"]),
                    sent_text(event["body"]),
                )
            elif kind == "returned":
                task.returned_as = self.reader.status_of(event["row"])
                self._returned_now.append(task)
            else:
                raise ValueError(f"no such event: {kind!r}")
        self.reader.apply(report["screen"])
        self._where(report["where"])
        for task, error in zip(self.tasks, report["errors"], strict=True):
            if error is not None and task.error is None:
                said = reported_error(error)
                task.error, task.raised_at = error_of(said), blame_of(said.get("where"))
        self.read_history = self.read_history or report["history"] is True
        self.hidden = _number(report["key"])
        for key, name, count, where in report.get("blame", []):
            blame = blame_of(where)
            if type(key) is str and type(name) is str and type(count) is int and blame:
                self.journal.take(key, name, count, blame)
        raised = report.get("raised")
        return Failure(error_of(raised)) if raised is not None else None

    def _where(self, where: object) -> None:
        if type(where) is not list or len(where) != len(self.tasks):
            raise ValueError("where the sends are, not said for each")
        for task, place in zip(self.tasks, where, strict=True):
            if place not in _WHERE:
                raise ValueError(f"a send somewhere unknown: {place!r}")
            task.where = place

    def _requested(self, task: _Attempt, client_id: str, chat_id: str, body: str) -> None:
        """The phone's send reached the server: the judge's server gets the request."""
        future: asyncio.Future[ServerMessage] = asyncio.get_running_loop().create_future()
        request = Request(chat_id, client_id, body, USER, future)
        self.server.requests.append(request)
        task.request = request
        stored = self.server.find(chat_id, client_id)
        if stored is not None and stored.author != USER:
            _answered(self.server.refuse, request, CLIENT_ID_TAKEN)
        label = f"s{task.send}"
        if task.retry:
            if self._checking:
                self._check(check_retry_id, body, client_id, self._actual.get(label))
        else:
            earlier = self.canon.sends.get(client_id)
            if self._checking and earlier is not None and earlier != label:
                first = (
                    f"{OTHER}'s message {self.world.other!r}"
                    if earlier == OTHER
                    else f"your earlier message {self._label_body(earlier)!r}"
                )
                self._check(check_new_id, body, first)
            self.canon.name(client_id, label)
            self._actual[label] = client_id
        if self._checking:
            typed = self._label_body(label)
            self._check(check_pending_on_screen, self.state, client_id, chat_id, typed, body)
        self.watch.sent(client_id)

    def _check(self, check: Callable[..., None], *arguments: object) -> None:
        """Run one of the rules' checks now; keep the first rule it finds broken for `step`."""
        if self._trouble is not None:
            return
        check_state_shape(self.state)
        try:
            check(*arguments)
        except RuleBroken as broken:
            self._trouble = broken

    def _crash(self, task: _Attempt | None) -> Failure | None:
        """The error a send raised, once: DeliveryError escaping is rule 6, anything else a crash."""
        if task is None or task.error is None or task.reported:
            return None
        task.reported = True
        if isinstance(task.error, DeliveryError):
            return Failure(
                RuleBroken(
                    Rule.KEEP_WORDS,
                    f"send let DeliveryError({task.error.reason!r}) escape; "
                    "catch it and roll back instead",
                    function="send",  # the rule is rollback's, but send is where to look
                    blame=task.raised_at,
                )
            )
        return Failure(task.error)

    def _latest(self, index: int) -> _Attempt | None:
        return self._retries[index] or self._firsts[index]

    def _request(self, task: _Attempt | None) -> Request:
        if task is None or task.request is None:
            raise ReplayDiverged("a send the timeline answers never reached the server")
        return task.request

    # Checking.

    def _verdict(self, event: Event) -> Failure | None:
        """Check everything after ``event``; raise `RuleBroken`, or return a crash."""
        if self._trouble is not None:
            raise self._trouble
        kind, index = event.kind, event.send
        task: _Attempt | None = None
        unconfirmed: _Attempt | None = None
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
            acked = kind is EventKind.ACK or kind is EventKind.RETRY_ACK
            if acked and task in self._returned_now:
                unconfirmed = task  # told once the screen's own rules held: they say more
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
        if unconfirmed is not None:
            check_returned_row(self._body(unconfirmed), unconfirmed.returned_as, just_acked=True)
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
        for task in self.tasks:
            if task.request is not None:  # it (or a task of its own) called the server
                check_returned_row(self._body(task), task.returned_as, just_acked=False)
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

    def _body(self, task: _Attempt) -> str:
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


def _event_data(event: Event) -> list[object]:
    return [event.kind.value, event.send]


def _number(value: object) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"a number that is not one: {value!r}")
    return value


def _text(value: object) -> str:
    if type(value) is not str:
        raise ValueError(f"text that is not: {value!r}")
    return value


def _answered(answer: Callable[..., None], request: Request, *reason: str) -> None:
    """Answer ``request`` with an error: the phone's send gets it, so the judge's copy of
    the answer is read here (asyncio would otherwise report it as never retrieved)."""
    answer(request, *reason)
    request.answer.exception()
