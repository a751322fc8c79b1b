"""A phone as the judge sees it: a mirror of its screen, and what its flow did.

`RemotePhone` stands where an in-process `chatkit.ChatClient` used to: the scenario
starts sends and reloads on it, hands it realtime messages, and reads its state. The
state is the judge's mirror (`chatkit.phone.screen.ScreenReader`), rebuilt from the
phone's reports; each server call the flow made reaches the judge's scripted server
as a `Request`, and each answer the script gives goes back to the phone when the
scenario settles.

Every report is read in order, and each event is handed to the scenario's hooks with
the mirror as it was at that moment: so rule 1 is checked on the screen the phone
showed when its send first gave up control, not on a later one.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Protocol

from chatkit.blame import Blame, RemoteJournal
from chatkit.model import TIMED_OUT, DeliveryError, InvalidMessage, ServerMessage
from chatkit.phone.frames import PhoneGone, WireError
from chatkit.phone.link import REPORT_SECONDS, PhoneLink
from chatkit.phone.screen import ScreenError, ScreenReader
from chatkit.script.server import CLIENT_ID_TAKEN, Request, ScriptedServer
from chatkit.state import ChatState


class PhoneRaised(Exception):
    """The learner's code raised on the phone: what, with which message, and where."""

    def __init__(self, data: object) -> None:
        info = data if isinstance(data, dict) else {}
        self.kind = _text(info.get("type"), "Exception")
        self.detail = _text(info.get("message"), "")
        self.blame = blame_of(info.get("where"))
        self.code = _text(info.get("code"), "None")
        super().__init__(self.detail)

    @property
    def not_written(self) -> bool:
        return self.kind == "NotImplementedError"


class PhoneFailed(PhoneRaised):
    """The phone's run ended: a loop that never stopped, ``sys.exit``, a flood of output."""


class PhoneMisbehaved(Exception):
    """The phone said something that is not a report (or nothing, in time)."""


def blame_of(data: object) -> Blame | None:
    """A `Blame` from the wire, or None if it is not one."""
    if type(data) is not list or len(data) != 5:
        return None
    function, file, line, code, inner = data
    if type(file) is not str or type(line) is not int:
        return None
    return Blame(
        function if type(function) is str else None,
        file,
        line,
        _text(code, ""),
        _text(inner, "?"),
    )


def error_of(data: object) -> BaseException:
    """The exception a send raised, as the judge rebuilds it (the kit's own are rebuilt as
    they were; anything else is a `PhoneRaised`)."""
    info = data if isinstance(data, dict) else {}
    reason = info.get("reason")
    if type(reason) is str:
        return DeliveryError(reason)
    if info.get("invalid") is True:
        return InvalidMessage(_text(info.get("message"), ""))
    return PhoneRaised(info)


@dataclass(eq=False)
class Op:
    """A send, a retry or a reload the scenario started on a phone. It answers the
    questions a task does (``done``, ``result``, ``exception``), from the phone's reports."""

    number: int
    request: Request | None = None
    """The request it waits on now, if it reached the server."""
    via: str | None = None
    state: str = "busy"
    """``busy``, ``server`` (waiting on a request) or ``done``, as the phone last said."""
    finished: bool = False
    returned: object = None
    error: BaseException | None = None
    was_cancelled: bool = False
    paused_at: Blame | None = None
    """Where it first gave up control before calling the server, if it did."""
    called_at: Blame | None = None
    """The learner's line behind its latest server call."""
    raised_at: Blame | None = None
    """Where the error it ended with was raised."""
    slept: float = 0.0
    """How many seconds it waited on the clock (``asyncio.sleep``) in all."""
    slept_at: Blame | None = None
    """Where its longest wait on the clock was asked for."""
    slept_after_answer: float = 0.0
    """How many of those seconds it waited once the server had answered it."""
    slept_after_answer_at: Blame | None = None
    """Where the first of those waits was asked for."""
    gave_up: bool = False
    """Whether a time-out of its own ran out (the script's server gave up on its request)."""
    returned_as: object = None
    """What the row it returned showed the moment it returned (a `Status`), if it
    returned a row (rule 15)."""
    requests: list[Request] = field(default_factory=list)

    def done(self) -> bool:
        return self.finished

    def cancelled(self) -> bool:
        return self.was_cancelled

    def result(self) -> object:
        if not self.finished:
            raise asyncio.InvalidStateError("the send has not finished")
        if self.error is not None:
            raise self.error
        return self.returned

    def exception(self) -> BaseException | None:
        if not self.finished:
            raise asyncio.InvalidStateError("the send has not finished")
        return self.error

    def cancel(self) -> None:
        """Nothing to cancel from the judge: the phone's task ends with the phone."""


class Hooks(Protocol):
    """What the scenario hears from a phone, as it happens."""

    def paused(self, phone: RemotePhone, op: Op, shown_before: int) -> None: ...

    def requested(self, phone: RemotePhone, op: Op | None, request: Request) -> None: ...


class RemotePhone:
    """One device of a scenario, from the judge's side."""

    def __init__(
        self,
        link: PhoneLink,
        name: str,
        user: str,
        server: ScriptedServer,
        hooks: Hooks,
        printed: Callable[[str], object],
        clock: Callable[[], datetime],
    ) -> None:
        self.link = link
        self.name = name
        self.user = user
        self.server = server
        self.hooks = hooks
        self.printed = printed
        self.clock = clock
        self.screen = ScreenReader(user)
        self.journal = RemoteJournal(self.screen.key)
        self.failing_over = False
        self._ops: dict[int, Op] = {}
        self._next_op = 0
        self._requests: dict[int, tuple[Request, Op | None]] = {}
        """Requests the phone's flow made, by the phone's number, until answered."""
        self._forwarded: set[int] = set()
        hello = self._read(link.hello)
        if not hello.get("ready"):
            raise PhoneFailed(hello.get("load") or {"message": "the phone did not start"})

    @property
    def state(self) -> ChatState:
        """The judge's mirror of the phone's screen."""
        return self.screen.state

    # What the scenario does with it.

    def start(self, do: str, bind: Callable[[Op], None], **arguments: object) -> Op:
        """Start a send, a retry or a reload; it runs until it waits on the server or ends.

        ``bind`` is told the new op before the phone runs it, so the hooks know whose it is.
        """
        self._next_op += 1
        op = self._ops[self._next_op] = Op(self._next_op)
        bind(op)
        self._call({"do": do, "op": op.number, **arguments})
        return op

    def start_many(self, starts: list[tuple[str, Callable[[Op], None], dict[str, object]]]) -> None:
        """Start several sends at once, in this order (a burst): one command for all."""
        commands = []
        for do, bind, arguments in starts:
            self._next_op += 1
            op = self._ops[self._next_op] = Op(self._next_op)
            bind(op)
            commands.append({"do": do, "op": op.number, **arguments})
        self._call({"do": "batch", "commands": commands})

    def receive(self, message: ServerMessage) -> None:
        """A realtime message reaches the phone: its ``reconcile`` runs."""
        report = self._call({"do": "receive", "message": message_data(message)})
        raised = report.get("raised")
        if raised is not None:
            raise PhoneRaised(raised)

    def job(self, command: dict[str, Any], seconds: float = REPORT_SECONDS) -> dict[str, Any]:
        """A piece of work the phone does on its own (a step of a timeline, the scale family's
        batches);
        its report, whose ``result`` the caller reads."""
        return self._job_report(lambda: self.link.call(command, seconds))

    def job_more(self, seconds: float = REPORT_SECONDS) -> dict[str, Any]:
        """The next report of a job that answers in several (a timeline's steps run ahead)."""
        return self._job_report(lambda: self.link.read(seconds))

    def _job_report(self, read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        report = self._read(read)
        printed = report.get("printed")
        if type(printed) is str and printed:
            self.printed(printed)
        if "fatal" in report:
            raise PhoneFailed(report["fatal"])
        return report

    def fail_over(self) -> None:
        """From now on the phone talks through a primary and a fallback transport."""
        self.failing_over = True
        self._call({"do": "failover"})

    def flush(self) -> bool:
        """Hand the phone every answer the script gave since, in one command; True if there
        was any."""
        answers = []
        for number, (request, _) in list(self._requests.items()):
            if request.answer.done():
                del self._requests[number]
                self._forwarded.add(number)
                answers.append({"do": "answer", "request": number, **answer_data(request)})
        if answers:
            self._call(answers[0] if len(answers) == 1 else {"do": "batch", "commands": answers})
        return bool(answers)

    def close(self) -> None:
        self.link.close()

    # Reading the phone.

    def _call(self, command: dict[str, Any]) -> dict[str, Any]:
        command["now"] = self.clock().astimezone(UTC).isoformat()
        before = len(self.state.messages) if type(self.state.messages) is dict else 0
        report = self._read(lambda: self.link.call(command))
        try:
            self._take(report, before)
        except NOT_A_REPORT as error:
            self.link.close()
            raise PhoneMisbehaved(f"the phone's report is not one: {error}") from None
        return report

    def _read(self, read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return read()
        except PhoneGone as error:
            raise PhoneMisbehaved(f"the phone ended without a report ({error})") from None
        except WireError as error:
            raise PhoneMisbehaved(
                f"the phone stopped answering ({error}); it ran for more than its time "
                "without handing control back"
            ) from None

    def _take(self, report: dict[str, Any], shown_before: int) -> None:
        events = report.get("events")
        if type(events) is not list:
            raise ScreenError("events that are not a list")
        for event in events:
            if type(event) is not dict:
                raise ScreenError("an event that is not one")
            self.screen.apply(event.get("screen"))
            self._event(event, shown_before)
        self.screen.apply(report.get("screen"))
        for number, state in dict(report.get("ops", {})).items():
            op = self._ops.get(int(number))
            if op is not None and state in ("busy", "server", "done"):
                op.state = state
        printed = report.get("printed")
        if type(printed) is str and printed:
            self.printed(printed)
        for key, name, count, where in report.get("blame", []):
            blame = blame_of(where)
            if type(key) is str and type(name) is str and type(count) is int and blame:
                self.journal.take(key, name, count, blame)
        fatal = report.get("fatal")
        if fatal is not None:
            raise PhoneFailed(fatal)

    def _event(self, event: dict[str, Any], shown_before: int) -> None:
        kind = event.get("e")
        op = self._ops.get(event.get("op") or 0)
        if kind == "paused" and op is not None:
            op.paused_at = blame_of(event.get("where"))
            self.hooks.paused(self, op, shown_before)
        elif kind == "request":
            self._request(event, op)
        elif kind == "returned" and op is not None:
            op.returned_as = self.screen.status_of(event.get("row"))
        elif kind == "done" and op is not None:
            op.finished, op.state = True, "done"
            slept = event.get("slept")
            if isinstance(slept, int | float) and math.isfinite(slept):
                op.slept, op.slept_at = float(slept), blame_of(event.get("slept_at"))
            after = event.get("slept_after_answer")
            if isinstance(after, int | float) and math.isfinite(after):
                op.slept_after_answer = float(after)
                op.slept_after_answer_at = blame_of(event.get("slept_after_answer_at"))
            op.gave_up = event.get("gave_up") is True
            if event.get("cancelled") is True:
                op.was_cancelled = True
            elif "error" in event:
                error = reported_error(event["error"])
                op.error, op.raised_at = error_of(error), blame_of(error.get("where"))
            else:
                returned = event.get("returned")
                op.returned = self.screen.row(returned) if type(returned) is int else None

    def _request(self, event: dict[str, Any], op: Op | None) -> None:
        number = event.get("request")
        if type(number) is not int or number in self._requests or number in self._forwarded:
            raise ScreenError("a request without a fresh number")
        call, via = event.get("call"), event.get("via")
        chat_id = event.get("chat_id")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if call == "history":
            future.set_result(
                list(self.server.stored.get(chat_id, [])) if type(chat_id) is str else []
            )
            self._requests[number] = (
                Request(str(chat_id), "", "", self.user, future),
                op,
            )
            return
        chat_id, client_id, body = (
            sent_text(event.get(name)) for name in ("chat_id", "client_id", "body")
        )
        request = Request(chat_id, client_id, body, self.user, future)
        self._requests[number] = (request, op)
        self.server.requests.append(request)
        if op is not None:
            op.called_at = blame_of(event.get("where"))
            op.request, op.via = request, via if type(via) is str else None
            op.requests.append(request)
            op.state = "server"
        self.hooks.requested(self, op, request)
        stored = self.server.find(request.chat_id, request.client_id)
        if stored is not None and stored.author != self.user and not future.done():
            self.server.refuse(request, CLIENT_ID_TAKEN)


def sent_text(value: object) -> str:
    """An argument of the flow's ``server.send``: its text, or, when it was not text,
    ``<a TYPE>`` (which no typed body or known id ever equals)."""
    if type(value) is str:
        return value
    kind = value.get("$") if isinstance(value, dict) else None
    return f"<a {kind if type(kind) is str else 'value'}>"


def message_data(message: ServerMessage) -> dict[str, object]:
    """The server's copy as the wire to a phone carries it: its fields, the moment in ISO 8601."""
    data: dict[str, object] = {
        field.name: getattr(message, field.name) for field in fields(message)
    }
    data["created_at"] = message.created_at.isoformat()
    return data


def answer_data(request: Request) -> dict[str, object]:
    """What the script answered a request, as the wire carries it."""
    error = request.answer.exception()
    if error is None:
        result = request.answer.result()
        if isinstance(result, list):
            return {"history": [message_data(message) for message in result]}
        return {"ack": message_data(result)}
    reason = error.reason if isinstance(error, DeliveryError) else TIMED_OUT
    return {"refuse": reason}


NOT_A_REPORT = (ScreenError, AttributeError, KeyError, IndexError, TypeError, ValueError)
"""What reading a phone's report raises when the report is not one: the phone misbehaved."""
MAX_TEXT = 4_000
"""How much of a text the phone tells about an error (its message, its line) the judge
keeps: enough to read, never so much that a report of it is the trouble."""


def reported_error(value: object) -> dict[str, Any]:
    """What the phone says a send raised: a mapping, or the report is not one."""
    if type(value) is not dict:
        raise ValueError(f"an error that is not one: {value!r:.80}")
    return value


def _text(value: object, default: str) -> str:
    if type(value) is not str:
        return default
    return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + " …(cut)"
