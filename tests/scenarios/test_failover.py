"""Failover: a second transport rescues a send, and never shows a message twice.

Your client talks to the server over a primary transport (a WebSocket) and, when
that fails, over a fallback (plain HTTP), through `chatkit.failover.FailoverServer`.
The fallback resends with the same client id, so a server that already stored the
message answers with its stored copy. Your flow sees one `server.send` that
either returns the server's copy or raises `DeliveryError` — and must stay
correct whichever road the message took.

The driver below scripts the scripted server exactly as the other families do:
each send waits until the scenario says which transport answers, and how.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Literal, NoReturn

import pytest

from chatkit.client import ChatClient
from chatkit.failover import FailoverServer, both_failed
from chatkit.harness import Step
from chatkit.model import DeliveryError, Message, ServerMessage, Status
from chatkit.protocols import Flow
from chatkit.rules import Rule, RuleBroken, RuleWatch, describe_timeline
from chatkit.scripted import Connection, Request, ScriptedServer
from chatkit.state import ChatState

pytestmark = pytest.mark.family("failover")

Via = Literal["primary", "fallback"]
CHAT = "general"
MAX_YIELDS = 200


@dataclass(eq=False)
class Attempt:
    """One press of enter (or of retry), and the requests it made on each transport."""

    body: str
    retry_of: str | None = None
    task: asyncio.Task[Message] = field(init=False, repr=False)
    requests: dict[Via, Request] = field(default_factory=dict)
    latest: Request | None = None
    broken: RuleBroken | None = None
    """A rule broken as the send reached the server, raised by the drill, not in the send."""

    @property
    def client_id(self) -> str:
        request = self.requests.get("primary") or self.latest
        if request is None:
            raise RuleBroken(Rule.INSTANT, f"your send of {self.body!r} never reached the server")
        return request.client_id


_attempt: contextvars.ContextVar[Attempt] = contextvars.ContextVar("failover_attempt")


class Wire:
    """One of the client's transports: a connection to the scripted server, with a name."""

    def __init__(self, via: Via, connection: Connection, drill: Drill) -> None:
        self.via: Via = via
        self.connection = connection
        self.drill = drill

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        self.drill.arriving_via = self.via  # read by the server's on_request, synchronously
        return await self.connection.send(chat_id, client_id, body)

    async def history(self, chat_id: str) -> list[ServerMessage]:
        return await self.connection.history(chat_id)


class Drill:
    """A scripted server, one user's client over a failover transport, and the story."""

    def __init__(self, flow: Flow, user: str = "you") -> None:
        self.server = ScriptedServer()
        self.server.on_request = self._on_request
        self.state = ChatState(user)
        self.failover = FailoverServer(
            Wire("primary", self.server.connect(user), self),
            Wire("fallback", self.server.connect(user), self),
        )
        self.client = ChatClient(flow, self.state, self.failover)
        self.server.join(CHAT, user, self._deliver)
        self.watch = RuleWatch(self.state)
        self.attempts: list[Attempt] = []
        self.story: list[Step] = []
        """The same shape as `chatkit.harness.Scenario.story`, for a grader that shows it."""
        self.arriving_via: Via = "primary"
        self._retrying: str | None = None

    # What the user does.

    async def send(self, body: str) -> Attempt:
        attempt = Attempt(body)
        await self._begin(attempt, self.client.send(CHAT, body))
        self._step(f"you send {body!r}; it goes out over the primary")
        return attempt

    async def retry(self, failed: Attempt) -> Attempt:
        attempt = Attempt(failed.body, retry_of=failed.client_id)
        self._retrying = failed.client_id
        try:
            await self._begin(attempt, self.client.retry(failed.client_id))
            self._step(f"you retry {failed.body!r}; it goes out over the primary")
        finally:
            self._retrying = None
        return attempt

    # What the server and the network do.

    def store(self, attempt: Attempt, via: Via) -> ServerMessage:
        stored = self.server.store(self._request(attempt, via))
        self._step(f"the server stores {attempt.body!r} as #{stored.seq} (nobody is told yet)")
        return stored

    async def ack(self, attempt: Attempt, via: Via) -> ServerMessage:
        request = self._request(attempt, via)
        stored = self.server.store(request)
        self.watch.told(stored)
        self.server.ack(request)
        await self._answered(
            attempt, f"the {via}'s answer for {attempt.body!r} arrives: #{stored.seq}"
        )
        return stored

    async def refuse(self, attempt: Attempt, via: Via, reason: str) -> None:
        self.server.refuse(self._request(attempt, via), reason)
        await self._answered(attempt, f"the {via} refuses {attempt.body!r}: {reason}")

    async def time_out(self, attempt: Attempt, via: Via) -> None:
        self.server.time_out(self._request(attempt, via))
        await self._answered(
            attempt, f"no answer over the {via} for {attempt.body!r}; the client gives up"
        )

    async def echo(self, message: ServerMessage) -> None:
        self.server.echo(message)
        await self._settle()
        self._step(f"the echo of {message.body!r} (#{message.seq}) reaches you")

    # Checking.

    def expect(self, expected: list[str]) -> None:
        actual = describe_timeline(self.state, CHAT)
        if actual != expected and not _loosely_equal(expected, actual):
            self._fail(
                RuleBroken(
                    Rule.EXACTLY_ONCE,
                    "the timeline is not what it should be",
                    expected=expected,
                    actual=actual,
                )
            )

    def expect_flags(self, *, sending: bool, error: str | None) -> None:
        chat = self.state.chat(CHAT)
        if (chat.sending, chat.error) != (sending, error):
            self._fail(
                RuleBroken(
                    Rule.LOADING_AND_ERRORS,
                    "the chat's indicator and banner are not what they should be",
                    expected=[f"sending={sending}", f"error={error!r}"],
                    actual=[f"sending={chat.sending}", f"error={chat.error!r}"],
                )
            )

    def expect_stored(self, count: int) -> None:
        stored = self.server.stored.get(CHAT, [])
        assert len(stored) == count, f"the server should hold {count} message(s), not {len(stored)}"

    # Plumbing.

    async def _begin(self, attempt: Attempt, send: Coroutine[object, object, Message]) -> None:
        context = contextvars.copy_context()
        context.run(_attempt.set, attempt)
        attempt.task = asyncio.get_running_loop().create_task(send, context=context)
        self.attempts.append(attempt)
        await self._settle()
        if attempt.broken is not None:
            self._fail(attempt.broken)
        self._raise_if_crashed(attempt)
        if "primary" not in attempt.requests:
            where = "returned" if attempt.task.done() else "is stuck"
            self._fail(
                RuleBroken(
                    Rule.INSTANT,
                    f"your send of {attempt.body!r} {where} without calling server.send",
                )
            )

    async def _answered(self, attempt: Attempt, text: str) -> None:
        await self._settle()
        self._step(text)
        self._raise_if_crashed(attempt)

    async def _settle(self) -> None:
        for _ in range(MAX_YIELDS):
            if all(_quiet(attempt) for attempt in self.attempts):
                return
            await asyncio.sleep(0)
        stuck = next(a for a in self.attempts if not _quiet(a))
        self._fail(
            RuleBroken(
                Rule.FINISHES,
                f"the send of {stuck.body!r} is stuck on something other than the server",
            )
        )

    def _request(self, attempt: Attempt, via: Via) -> Request:
        request = attempt.requests.get(via)
        if request is None:
            self._fail(
                RuleBroken(
                    Rule.FINISHES,
                    f"the send of {attempt.body!r} never reached the server over the {via}",
                )
            )
        return request

    def _on_request(self, request: Request) -> None:
        attempt = _attempt.get(None)
        if attempt is None:
            return
        via = self.arriving_via
        attempt.requests[via] = request
        attempt.latest = request
        if via == "fallback":
            assert request.client_id == attempt.requests["primary"].client_id, (
                "the failover transport must resend with the same client id"
            )
            return
        if attempt.retry_of is not None and request.client_id != attempt.retry_of:
            attempt.broken = RuleBroken(
                Rule.IDEMPOTENT_RETRY,
                f"the retry of {attempt.body!r} used a new client id; reuse the failed "
                "message's id so a server that already stored it does not store it twice",
            )
            return
        row = self.state.get(request.client_id)
        if row is None or row.status is not Status.PENDING:
            attempt.broken = RuleBroken(
                Rule.INSTANT,
                f"when {attempt.body!r} reached the server it was not on screen as pending; "
                "show it before you await the server",
            )
            return
        self.watch.sent(request.client_id)

    def _deliver(self, message: ServerMessage) -> None:
        self.watch.told(message)
        self.client.receive(message)

    def _raise_if_crashed(self, attempt: Attempt) -> None:
        task = attempt.task
        if not task.done() or task.cancelled():
            return
        error = task.exception()
        if isinstance(error, DeliveryError):
            self._fail(
                RuleBroken(
                    Rule.KEEP_WORDS,
                    f"send let DeliveryError({error.reason!r}) escape; catch it and roll back instead",
                )
            )
        if error is not None:
            raise error

    def _step(self, text: str) -> None:
        timeline = describe_timeline(self.state, CHAT)
        self.story.append(Step(len(self.story) + 1, text, {self.state.user: timeline}))
        try:
            self.watch.check(retrying=self._retrying)
        except RuleBroken as broken:
            self._fail(broken)

    def _fail(self, broken: RuleBroken) -> NoReturn:
        lines = [f"{step.number}. {step.text}\n     {step.timelines}" for step in self.story]
        broken.add_note("what happened:\n" + "\n".join(lines))
        raise broken


def _quiet(attempt: Attempt) -> bool:
    if attempt.task.done():
        return True
    return attempt.latest is not None and not attempt.latest.answered


def _loosely_equal(expected: list[str], actual: list[str]) -> bool:
    """``"'hi' failed"`` accepts any reason; a reason in brackets must match."""
    if len(expected) != len(actual):
        return False
    return all(
        e == a or (e.endswith(" failed") and a.startswith(e + " ("))
        for e, a in zip(expected, actual, strict=True)
    )


@pytest.fixture
def drill(flow: Flow) -> Drill:
    """One user's client over a failover transport, against a fresh scripted server."""
    return Drill(flow)


async def test_primary_refuses_then_fallback_delivers(drill: Drill) -> None:
    """You send "hi". The primary transport (the WebSocket) turns it down: the
    server is busy. Your client quietly tries the fallback (plain HTTP) with the
    same client id, and that one gets through: the server stores "hi" as #1 and
    answers. While the fallback works, "hi" is still pending; in the end there is
    one row, sent #1, and no error banner: the user never needed to know the
    first road was closed."""
    hi = await drill.send("hi")
    await drill.refuse(hi, "primary", "the server is busy")
    drill.expect(["'hi' pending"])
    drill.expect_flags(sending=True, error=None)
    await drill.ack(hi, "fallback")
    drill.expect(["'hi' sent #1"])
    drill.expect_flags(sending=False, error=None)
    drill.expect_stored(1)


async def test_lost_ack_then_fallback_returns_the_same_message(drill: Drill) -> None:
    """You send "hi" over the primary. The server stores it as #1, but its answer
    is lost on the way back and your client gives up waiting. The fallback sends
    "hi" again with the same client id; the server recognises it and answers with
    the message it already has, #1, storing nothing new. You see one row, sent #1,
    and the server holds one message: no duplicate, on either side."""
    hi = await drill.send("hi")
    drill.store(hi, "primary")
    await drill.time_out(hi, "primary")
    drill.expect(["'hi' pending"])
    stored = await drill.ack(hi, "fallback")
    assert stored.seq == 1
    drill.expect(["'hi' sent #1"])
    drill.expect_flags(sending=False, error=None)
    drill.expect_stored(1)


async def test_both_transports_fail_and_the_message_fails_with_a_reason(drill: Drill) -> None:
    """You send "hi". The primary refuses it (the server is busy) and the fallback
    cannot reach the server either (you are offline). Now the message really did
    not get through: it stays on screen as failed, with the reason the failover
    gives — both causes — and the error banner shows the same reason. The words
    are kept, so you can retry."""
    hi = await drill.send("hi")
    await drill.refuse(hi, "primary", "the server is busy")
    await drill.refuse(hi, "fallback", "you are offline")
    reason = both_failed("the server is busy", "you are offline")
    drill.expect([f"'hi' failed ({reason})"])
    drill.expect_flags(sending=False, error=reason)
    drill.expect_stored(0)


async def test_echo_arrives_while_failing_over(drill: Drill) -> None:
    """You send "hi". The server stores it as #1 and broadcasts it: your own echo
    arrives first and confirms the row, sent #1. But the primary's answer is lost,
    so the failover asks again over the fallback, which answers with #1 once
    more. An answer for a message already confirmed must change nothing: still
    one row, still sent #1, no banner."""
    hi = await drill.send("hi")
    stored = drill.store(hi, "primary")
    await drill.echo(stored)
    drill.expect(["'hi' sent #1"])
    await drill.time_out(hi, "primary")
    drill.expect(["'hi' sent #1"])
    await drill.ack(hi, "fallback")
    drill.expect(["'hi' sent #1"])
    drill.expect_flags(sending=False, error=None)
    drill.expect_stored(1)


async def test_echo_then_both_transports_fail_keeps_it_sent(drill: Drill) -> None:
    """You send "hi". The server stores it as #1 and your echo arrives: sent #1.
    Then the primary's answer is lost and the fallback cannot reach the server,
    so your flow is told the send failed. But the echo already proved the
    server has "hi": a failure that comes after the confirmation must not undo
    it. The row stays sent #1, with no error banner."""
    hi = await drill.send("hi")
    stored = drill.store(hi, "primary")
    await drill.echo(stored)
    await drill.time_out(hi, "primary")
    await drill.refuse(hi, "fallback", "you are offline")
    drill.expect(["'hi' sent #1"])
    drill.expect_flags(sending=False, error=None)
    drill.expect_stored(1)


async def test_retry_after_both_fail_reuses_the_stored_message(drill: Drill) -> None:
    """You send "hi". The server does store it as #1, but the answer is lost, and
    then the fallback cannot reach the server at all: "hi" shows as failed. You
    press retry. The retry must reuse the message's client id, so the server
    recognises "hi" and answers with #1 instead of storing it again. One row,
    sent #1, the banner cleared; one message on the server."""
    hi = await drill.send("hi")
    drill.store(hi, "primary")
    await drill.time_out(hi, "primary")
    await drill.refuse(hi, "fallback", "you are offline")
    drill.expect(["'hi' failed"])
    again = await drill.retry(hi)
    drill.expect(["'hi' pending"])
    stored = await drill.ack(again, "primary")
    assert stored.seq == 1
    drill.expect(["'hi' sent #1"])
    drill.expect_flags(sending=False, error=None)
    drill.expect_stored(1)


async def test_late_echo_proves_a_failed_send_got_through(drill: Drill) -> None:
    """You send "hi". The server stores it as #1, but the primary's answer is lost
    and the fallback is refused, so "hi" shows as failed. Then the echo of #1
    arrives after all: the server had it from the start. A failed message the
    server proves it stored becomes sent #1 — the same row, not a second one —
    and the banner clears."""
    hi = await drill.send("hi")
    stored = drill.store(hi, "primary")
    await drill.time_out(hi, "primary")
    await drill.refuse(hi, "fallback", "you are offline")
    drill.expect(["'hi' failed"])
    await drill.echo(stored)
    drill.expect(["'hi' sent #1"])
    drill.expect_flags(sending=False, error=None)
    drill.expect_stored(1)


async def test_two_sends_fail_over_independently(drill: Drill) -> None:
    """You send "one", then "two". The primary refuses "two", so it travels over
    the fallback while "one" is still waiting for its answer on the primary.
    "one" is answered first and becomes #1; "two" arrives as #2. Each message
    settles on its own: "sending…" stays on until both are settled, and in the
    end both are sent, in server order, each shown once."""
    one = await drill.send("one")
    two = await drill.send("two")
    await drill.refuse(two, "primary", "the server is busy")
    drill.expect(["'one' pending", "'two' pending"])
    await drill.ack(one, "primary")
    drill.expect(["'one' sent #1", "'two' pending"])
    drill.expect_flags(sending=True, error=None)
    await drill.ack(two, "fallback")
    drill.expect(["'one' sent #1", "'two' sent #2"])
    drill.expect_flags(sending=False, error=None)
    drill.expect_stored(2)
