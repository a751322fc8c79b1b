"""The scenario harness: drive a flow through scripted events and tell the story.

A scenario reads like what happens on the wire::

    hi = await kit.send("hi")      # you press enter
    kit.store(hi)                  # the server stores it
    await kit.echo(hi)             # its echo arrives first
    await kit.ack(hi)              # then the ack
    kit.expect(["'hi' sent #1"])

Each step is written to the story with every client's timeline after it, and every
rule of the design is checked after every step (`chatkit.engine.rules.RuleWatch`), so a
broken rule is reported at the step that broke it. Time never enters: each phone runs
until every send is either finished or waiting on the scripted server.

The harness is the judge's: it never runs the learner's code. Every client is a phone,
a process of its own (`chatkit.phone`), seen through a `RemotePhone` whose state is a
mirror of the phone's screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from chatkit.blame import CREATED
from chatkit.engine.remote import Op, RemotePhone
from chatkit.engine.rules import (
    STATUS_FIELDS,
    Rule,
    RuleBroken,
    RuleWatch,
    check_new_id,
    check_pending_on_screen,
    check_reached_server,
    check_retry_id,
    check_shown_before_first_await,
    describe_timeline,
)
from chatkit.engine.scripted import Request, ScriptedServer
from chatkit.engine.story import SERVER, Kind, Step, screen
from chatkit.engine.timelines.explore import Exploration
from chatkit.engine.timelines.world import SmallWorld
from chatkit.limits import MAX_YIELDS
from chatkit.model import DeliveryError, InvalidMessage, ServerMessage, Status
from chatkit.phone.link import PhoneTemplate
from chatkit.sandbox import ScriptedClock, ScriptedWorld
from chatkit.state import ChatState

DEFAULT_CHAT = "general"


STORY_END_ROWS = 6
"""A long timeline is shown in the story as its first and last this many rows."""

PRIMARY, FALLBACK = "primary", "fallback"
"""The names of a failover client's two transports, as the story says them."""


@dataclass(eq=False)
class Sending:
    """A send the scenario started: its task and, once it got there, its server request."""

    user: str
    chat_id: str
    body: str
    retry_of: str | None = None
    task: Op = field(init=False, repr=False)
    """The send as the phone runs it: ``done()``, ``result()``, ``exception()``."""
    request: Request | None = None
    """The request this send waits on now: after a failover, the fallback's."""
    via: str | None = None
    """The transport ``request`` came in on (`PRIMARY` or `FALLBACK`); None without failover."""
    stored: ServerMessage | None = None
    shown_as: str | None = "new"
    """How its message showed when it was sent: ``"new"``, ``"failed"`` (a retry of a failed
    one), or None (a retry of one already confirmed: it need not reach the server)."""
    broken: RuleBroken | None = None
    """A rule this send broke as it reached the server, raised by the harness, not in the send."""

    @property
    def client_id(self) -> str:
        if self.request is None:
            raise RuleBroken(Rule.INSTANT, f"your send of {self.body!r} never reached the server")
        return self.request.client_id


@dataclass
class _Member:
    client: RemotePhone
    watch: RuleWatch
    chats: set[str] = field(default_factory=set)


class Scenario:
    """One scripted server, the clients talking to it, and the story so far.

    Every user's client is a device of its own: a phone forked from ``phones``, running
    its own fresh copy of the flow, all in one scripted ``world``: a clock that moves only
    when the scenario moves it (``kit.clock``), and chance seeded by the scenario's name.
    """

    def __init__(
        self, phones: PhoneTemplate, world: ScriptedWorld, chat_id: str = DEFAULT_CHAT
    ) -> None:
        self.phones = phones
        self.world = world
        self.chat_id = chat_id
        self.server = ScriptedServer()
        self.story: list[Step] = []
        self.sendings: list[Sending] = []
        self._client_ids: dict[str, Sending] = {}
        """Every client id a send has used so far, by any user, and the send that used it."""
        self._members: dict[str, _Member] = {}
        self._sendings: dict[int, Sending] = {}
        """Each op a phone runs for a send, by ``id``: the send it is."""
        self._device_ids = 0
        self._retrying: str | None = None
        self.client("you")  # "you" is in the chat from the start, so every echo reaches you

    # Who is there.

    def client(
        self, user: str = "you", *, chats: tuple[str, ...] = (), failover: bool = False
    ) -> RemotePhone:
        """The client of ``user``, connected and in the scenario's chat (made on first use).

        With ``failover``, the client talks through a `chatkit.failover.FailoverServer` from
        then on: each send goes out over the primary and, when the primary refuses it or times
        out, again over the fallback with the same client id. Both are connections to the
        scripted server, so the scenario answers each request as usual; `Sending.via` says
        which one it is on.
        """
        member = self._members.get(user)
        if member is None:
            member = self._members[user] = self._new_member(user, user)
        author = member.client.user
        if failover and not member.client.failing_over:
            member.client.fail_over()
        for chat_id in (self.chat_id, *chats):
            if chat_id not in member.chats:
                member.chats.add(chat_id)
                self.server.join(chat_id, author, self._listener(member))
        return member.client

    def phone(self, user: str, name: str) -> RemotePhone:
        """Another phone of ``user``'s, called ``name`` in the story ("your new phone").

        It signs in as ``user`` but runs its own copy of the flow, with an empty screen —
        a second device, or the app just reinstalled. Send from it with ``by=name``.
        """
        if name not in self._members:
            self._members[name] = self._new_member(user, name)
        return self.client(name)

    def _new_member(self, user: str, device: str) -> _Member:
        link = self.phones.phone(self.world.name, device, user)
        try:
            phone = RemotePhone(
                link, device, user, self.server, self, self.world.output.write, self._now
            )
        except BaseException:
            link.close()
            raise
        return _Member(phone, RuleWatch(phone.state))

    def _now(self) -> datetime:
        return self.world.clock.now

    def close(self) -> None:
        """Hang up every phone of the scenario."""
        for member in self._members.values():
            member.client.close()

    @property
    def clock(self) -> ScriptedClock:
        """The scenario's clock: it stands still until the scenario moves it (``tick``, ``move_to``)."""
        return self.world.clock

    def state(self, user: str = "you") -> ChatState:
        return self.client(user).state

    # What the users do.

    async def send(self, body: str, *, by: str = "you", chat: str | None = None) -> Sending:
        """``by`` presses enter on ``body``; returns once the send waits on the server."""
        client = self.client(by, chats=(chat,) if chat else ())
        chat_id = chat or self.chat_id
        sending = Sending(by, chat_id, body)
        await self._begin(
            sending, client, {"do": "send", "chat_id": chat_id, "body": body},
            f"{_does(by, 'send')} {_quote(body)}",
        )  # fmt: skip
        return sending

    async def send_many(
        self, bodies: list[str], *, by: str = "you", chats: tuple[str, ...] = ()
    ) -> list[Sending]:
        """``by`` sends every body in quick succession, into ``chats`` in turn (or the
        scenario's chat); the story tells it as one step."""
        client = self.client(by, chats=chats)
        targets = chats or (self.chat_id,)
        sendings = [
            Sending(by, targets[number % len(targets)], body) for number, body in enumerate(bodies)
        ]
        self.sendings.extend(sendings)
        client.start_many(
            [
                (
                    "send",
                    self._binder(sending),
                    {"chat_id": sending.chat_id, "body": sending.body},
                )
                for sending in sendings
            ]
        )
        await self.settle()
        across = f" across {len(chats)} chats" if chats else ""
        text = f"{_does(by, 'send')} {len(bodies):,} messages in a burst{across}"
        self._step(text, Kind.SEND, by, SERVER, check=False)
        for sending in sendings:
            self._raise_if_not_started(sending)
        self._check()
        return sendings

    async def ack_many(self, sendings: list[Sending]) -> None:
        """The acks of all these sends reach their senders, in this order."""
        for sending in sendings:
            self.server.ack(self._request(sending))
            self._members[sending.user].watch.told(self._stored(sending))
        await self.settle()
        users = sorted({sending.user for sending in sendings})
        text = f"the acks for all {len(sendings):,} messages arrive"
        self._step(text, Kind.ACK, SERVER, users[0] if len(users) == 1 else "the chat", check=False)
        for sending in sendings:
            self._raise_if_unfinished(sending)
        self._check()

    async def retry(self, failed: Sending) -> Sending:
        """The user retries a failed message."""
        client = self.client(failed.user)
        sending = Sending(failed.user, failed.chat_id, failed.body, retry_of=failed.client_id)
        row = self.state(failed.user).get(failed.client_id)
        sending.shown_as = "failed" if row is not None and row.status is Status.FAILED else None
        self._retrying = failed.client_id
        try:
            text = f"{_does(failed.user, 'retry')} {_quote(failed.body)}"
            await self._begin(sending, client, {"do": "retry", "client_id": failed.client_id}, text)
        finally:
            self._retrying = None
        return sending

    async def send_invalid(self, body: str, *, by: str = "you") -> InvalidMessage:
        """Send a body that must be refused; return the error the flow raised."""
        state = self.state(by)
        before = _snapshot(state)
        task = self.client(by).start("send", lambda op: None, chat_id=self.chat_id, body=body)
        await self.settle()
        self._step(
            f"{_does(by, 'try')} to send {_quote(body)}", Kind.REFUSED_INPUT, by, by, check=False
        )
        error = task.exception() if task.done() else None
        if not isinstance(error, InvalidMessage):
            if task.done() and error is not None and not isinstance(error, DeliveryError):
                raise error
            raise RuleBroken(
                Rule.BAD_INPUT,
                f"sending {_quote(body)} should raise InvalidMessage before anything is shown "
                f"(got {'no error' if error is None else type(error).__name__})",
            )
        if _snapshot(state) != before:
            raise RuleBroken(
                Rule.BAD_INPUT,
                "the refused message changed the state; refuse it before touching anything",
                expected=before[0],
                actual=_snapshot(state)[0],
            )
        self._check()
        return error

    async def backfill(self, user: str = "you") -> None:
        """``user`` reconnects and the chat's history is merged into the screen."""
        member = self._members[user]
        for message in self.server.stored.get(self.chat_id, []):
            member.watch.told(message)
        await self._reload(member, "backfill")
        self._step(f"{_does(user, 'reconnect')}; the history arrives", Kind.HISTORY, SERVER, user)

    async def resync(self, user: str = "you") -> None:
        """``user`` reloads the chat: the server's list replaces the confirmed rows."""
        member = self._members[user]
        for message in self.server.stored.get(self.chat_id, []):
            member.watch.told(message)
        await self._reload(member, "resync")
        try:
            self._step(
                f"{_does(user, 'reload')} the chat from the server", Kind.HISTORY, SERVER, user
            )
        except RuleBroken as broken:
            if broken.rule not in (Rule.KEEP_WORDS, Rule.EXACTLY_ONCE, Rule.OTHERS):
                raise
            raise RuleBroken(
                Rule.RESYNC,
                f"after the reload: {broken.detail} (a reload replaces the confirmed rows; "
                "your pending and failed ones must stay, each once)",
                actual=broken.actual,
                about=broken.about,
                fields=broken.fields,
                blame=broken.blame,
            ) from None

    async def explore(self, world: SmallWorld, seconds: float) -> Exploration:
        """Every timeline of ``world`` on a phone of its own; the shortest broken one, if any,
        becomes this scenario's story."""
        result = self._members["you"].client.explore(world, seconds)
        story = result.counterexample
        if story is not None and story.failure is not None:
            self.story.extend(story.steps)
        return result

    # What the server does.

    def store(self, sending: Sending) -> ServerMessage:
        """The server stores the message (nobody is told yet)."""
        stored = self._stored(sending)
        self._step(
            f"the server stores {_quote(sending.body)} as #{stored.seq}", Kind.STORE, SERVER, SERVER
        )
        return stored

    def store_many(self, sendings: list[Sending]) -> None:
        """The server stores all these messages, in this order (nobody is told yet)."""
        for sending in sendings:
            self._stored(sending)
        self._step(f"the server stores all {len(sendings):,} messages", Kind.STORE, SERVER, SERVER)

    def post(self, body: str, *, by: str = "bob") -> ServerMessage:
        """Someone on another device sends ``body``; the server stores it (nobody told yet)."""
        self._device_ids += 1
        message = self.server.post(self.chat_id, by, body, f"{by}-device-{self._device_ids}")
        sends = "you send" if by == "you" else f"{by} sends"
        device = " from your other device" if by == "you" else ""
        self._step(
            f"{sends} {_quote(body)}{device}; the server stores it as #{message.seq}",
            Kind.POST,
            by,
            SERVER,
        )
        return message

    async def ack(self, sending: Sending) -> ServerMessage:
        """The ack reaches the sender (the server stores the message first if needed)."""
        self.server.ack(self._request(sending))
        stored = self._stored(sending)
        self._members[sending.user].watch.told(stored)
        await self._answered(
            sending,
            f"the ack for {_quote(sending.body)} reaches {sending.user}{_over(sending)}",
            Kind.ACK,
        )
        return stored

    async def late_ack(self, sending: Sending) -> ServerMessage:
        """An ack that arrives after the sender gave up: the client hands it to reconcile."""
        stored = self._stored(sending)
        member = self._members[sending.user]
        member.watch.told(stored)
        try:
            member.client.receive(stored)
        finally:
            self._step(
                f"the late ack for {_quote(sending.body)} reaches {sending.user}{_over(sending)}",
                Kind.ACK,
                SERVER,
                sending.user,
                check=False,
            )
        await self.settle()
        self._check()
        return stored

    async def refuse(self, sending: Sending, reason: str = "the server refused it") -> None:
        """The server refuses the message: nothing is stored, the sender gets the reason."""
        self.server.refuse(self._request(sending), reason)
        await self._answered(
            sending,
            f"the server refuses {_quote(sending.body)}{_over(sending)}: {reason}",
            Kind.REFUSE,
        )

    async def time_out(self, sending: Sending) -> None:
        """The sender gives up waiting for the ack (it was lost, or is only late)."""
        self.server.time_out(self._request(sending))
        await self._answered(
            sending,
            f"{_whose(sending.user)} client gives up waiting for {_quote(sending.body)}"
            f"{_over(sending)}",
            Kind.LOST,
        )

    async def echo(self, what: Sending | ServerMessage, *, to: str | None = None) -> None:
        """The server's realtime event for a stored message reaches the chat (or one user)."""
        message = what if isinstance(what, ServerMessage) else what.stored
        if message is None:
            raise ValueError("store or ack a message before echoing it")
        whom = "the chat" if to is None else to
        try:
            self.server.echo(message, to=to)
        finally:
            self._step(
                f"the echo of {_quote(message.body)} (#{message.seq}) reaches {whom}",
                Kind.ECHO,
                SERVER,
                whom,
                check=False,
            )
        await self.settle()
        self._check()

    # Checking.

    def expect(
        self, expected: list[str], *, user: str = "you", rule: Rule = Rule.EXACTLY_ONCE
    ) -> None:
        """The timeline ``user`` sees must read ``expected``.

        A line like ``"'hi' failed"`` accepts any reason; write the reason in
        brackets to require it.
        """
        actual = describe_timeline(self.state(user), self.chat_id)
        if len(actual) != len(expected) or not all(map(_line_matches, expected, actual)):
            raise self.blame(
                RuleBroken(
                    rule, "the timeline is not what it should be", expected=expected, actual=actual
                ),
                user,
            )

    def expect_returned_row(self, sending: Sending) -> None:
        """``send`` (or a retry) must hand back the very row it shows for this message:
        not a copy, not ``None``, on success, failure and retry alike."""
        shown = self.state(sending.user).get(sending.retry_of or sending.client_id)
        returned = sending.task.result() if sending.task.done() else None
        if shown is None or returned is not shown:
            raise RuleBroken(
                Rule.IDENTITY,
                f"send should return the row it shows for {_quote(sending.body)}: the same "
                "object, not a copy or None, whatever the server answered",
                function="send",
            )

    def expect_flags(self, *, sending: bool, error: str | None, user: str = "you") -> None:
        """The chat's "sending…" indicator and error banner must be as given."""
        chat = self.state(user).chat(self.chat_id)
        if (chat.sending, chat.error) != (sending, error):
            raise self.blame(
                RuleBroken(
                    Rule.LOADING_AND_ERRORS,
                    "the chat's indicator and banner are not what they should be",
                    expected=[f"sending={sending}", f"error={error!r}"],
                    actual=[f"sending={chat.sending}", f"error={chat.error!r}"],
                    about=(chat, *chat.rows),
                    fields=("error", "in_flight", "status"),
                ),
                user,
            )

    async def settle(self) -> None:
        """Hand each phone the server's answers, until every send is finished or waits on
        the server (each phone runs until it is quiet after each of them)."""
        for _ in range(MAX_YIELDS):
            if not any([member.client.flush() for member in self._members.values()]):
                return

    async def finish(self) -> None:
        """The end of a scenario: every send has finished or still waits on the server."""
        await self.settle()
        for sending in self.sendings:
            if not _is_quiet(sending):
                raise RuleBroken(
                    Rule.FINISHES,
                    f"the send of {_quote(sending.body)} is stuck on something other than the server",
                )
            self._raise_if_crashed(sending)

    # Plumbing.

    async def _begin(
        self, sending: Sending, client: RemotePhone, command: dict[str, str], text: str
    ) -> None:
        """Start a send, let it run until it waits on the server, and tell that step."""
        self._start(sending, client, command)
        await self.settle()
        kind = Kind.SEND if sending.retry_of is None else Kind.RETRY
        self._step(text + _over(sending), kind, sending.user, SERVER, check=False)
        self._raise_if_not_started(sending)
        self._check()

    def _start(self, sending: Sending, client: RemotePhone, command: dict[str, str]) -> None:
        """Start a send on its phone. It runs up to the first moment it gives up control;
        right then its message must be on screen as pending (rule 1), whatever it awaits
        (`paused`)."""
        self.sendings.append(sending)
        arguments = {name: value for name, value in command.items() if name != "do"}
        client.start(command["do"], self._binder(sending), **arguments)

    def _binder(self, sending: Sending) -> Callable[[Op], None]:
        """What a phone calls with the op it runs ``sending`` as, before it runs it."""

        def bind(op: Op) -> None:
            sending.task = op
            self._sendings[id(op)] = sending

        return bind

    async def _reload(self, member: _Member, how: str) -> None:
        """The phone reloads the chat's history (``backfill`` or ``resync``) and merges it."""
        op = member.client.start(how, lambda op: None, chat_id=self.chat_id)
        await self.settle()
        if op.error is not None:
            raise op.error
        if not op.done():
            raise RuleBroken(
                Rule.FINISHES, "the history arrived, but merging it into the screen never finished"
            )

    # What the phones tell.

    def paused(self, phone: RemotePhone, op: Op, shown_before: int) -> None:
        """A send gave up control for the first time, before calling the server."""
        sending = self._sendings.get(id(op))
        if sending is None or sending.request is not None or sending.broken is not None:
            return
        try:
            check_shown_before_first_await(
                phone.state, sending.body, sending.chat_id, sending.retry_of, shown_before
            )
        except RuleBroken as broken:
            broken.blame = op.paused_at
            sending.broken = broken

    def _raise_if_not_started(self, sending: Sending) -> None:
        """After a send's first run: it must have broken no rule and reached the server."""
        if sending.broken is not None:
            raise sending.broken
        if sending.request is None:
            self._raise_if_crashed(sending)
            check_reached_server(
                sending.body, finished=sending.task.done(), shown_as=sending.shown_as
            )

    async def _answered(self, sending: Sending, text: str, kind: Kind) -> None:
        """After the server answered a send: it must finish, unless it failed over.

        A failover client whose primary failed is not done yet: it has sent the same
        message again over the fallback, and now waits there for the scenario's answer.
        """
        answered = sending.request
        await self.settle()
        failing_over = (
            not sending.task.done() and sending.via == FALLBACK and sending.request is not answered
        )
        if failing_over:
            text += f"; {_whose(sending.user)} client fails over to the {FALLBACK}"
        self._step(text, kind, SERVER, sending.user, check=False)
        self._raise_if_unfinished(sending, failing_over=failing_over)
        self._check()

    def _raise_if_unfinished(self, sending: Sending, *, failing_over: bool = False) -> None:
        """Once the server answered: the send finished (or failed over), broke no rule on its
        way and raised nothing."""
        if not sending.task.done() and not failing_over:
            raise RuleBroken(
                Rule.FINISHES,
                f"the server answered, but the send of {_quote(sending.body)} did not finish",
            )
        if sending.broken is not None:
            raise sending.broken
        self._raise_if_crashed(sending)

    def _raise_if_crashed(self, sending: Sending) -> None:
        if not sending.task.done():
            return
        if sending.task.cancelled():  # nothing in a scenario cancels a send but the send itself
            raise RuleBroken(
                Rule.FINISHES,
                f"the send of {_quote(sending.body)} raised CancelledError instead of finishing",
            )
        error = sending.task.exception()
        if isinstance(error, DeliveryError):
            escaped = RuleBroken(
                Rule.KEEP_WORDS,
                f"send let DeliveryError({error.reason!r}) escape; catch it and roll back instead",
                function="send",  # the rule is rollback's, but send is where to look
            )
            escaped.blame = sending.task.raised_at
            raise escaped
        if error is not None:
            raise error

    def _stored(self, sending: Sending) -> ServerMessage:
        """The server's copy of the message, stored now if it is not yet (stored once)."""
        sending.stored = self.server.store(self._request(sending))
        return sending.stored

    def _request(self, sending: Sending) -> Request:
        if sending.request is None:
            raise RuleBroken(
                Rule.INSTANT, f"your send of {_quote(sending.body)} never reached the server"
            )
        return sending.request

    def requested(self, phone: RemotePhone, op: Op | None, request: Request) -> None:
        """A phone's flow called ``server.send``: check the call as it arrives."""
        sending = self._sendings.get(id(op))
        if sending is None or op is None:
            return
        previous, sending.request, sending.via = sending.request, request, op.via
        if (
            sending.via == FALLBACK
            and previous is not None
            and previous.client_id == request.client_id
        ):
            return  # the same message again, not a new one (and its echo may have confirmed it)
        try:
            self._check_request(sending, request)
        except RuleBroken as broken:
            broken.blame = op.called_at
            sending.broken = broken

    def _check_request(self, sending: Sending, request: Request) -> None:
        member = self._members[sending.user]
        if sending.retry_of is not None:
            check_retry_id(sending.body, request.client_id, sending.retry_of)
        else:
            earlier = self._client_ids.get(request.client_id)
            first = (
                None
                if earlier is None
                else f"{_whose(earlier.user)} earlier message {_quote(earlier.body)}"
            )
            check_new_id(sending.body, first, client_id=request.client_id, sender=sending.user)
        check_pending_on_screen(
            member.client.state, request.client_id, request.chat_id, sending.body, request.body
        )
        member.watch.sent(request.client_id)
        self._client_ids.setdefault(request.client_id, sending)

    def _listener(self, member: _Member) -> Callable[[ServerMessage], None]:
        def deliver(message: ServerMessage) -> None:
            member.watch.told(message)
            member.client.receive(message)

        return deliver

    def _step(
        self,
        text: str,
        kind: Kind = Kind.NOTE,
        source: str = "",
        target: str = "",
        *,
        check: bool = True,
    ) -> None:
        """Write a line of the story and, unless told not to yet, check every rule."""
        screens = {
            user: screen(member.client.state, self.chat_id, rows=STORY_END_ROWS)
            for user, member in self._members.items()
        }
        printed = self.world.output.drain()
        step = Step(len(self.story) + 1, text, screens, kind, source, target, printed)
        self.story.append(step)
        if check:
            self._check()

    def _check(self) -> None:
        for member in self._members.values():
            try:
                member.watch.check(retrying=self._retrying)
            except RuleBroken as broken:
                if broken.about:
                    self.blame(broken)
                raise

    def blame(self, broken: RuleBroken, user: str = "you") -> RuleBroken:
        """Say where the learner's code made the change that broke the rule, if it can tell.

        The change is the last one the learner's code made to what the rule is about; for
        a rule about a whole timeline, the last change to any row of ``user``'s chat.
        """
        if broken.blame is None:
            chat = self.state(user).chat(self.chat_id)
            about = broken.about or (chat, *chat.rows)
            fields = broken.fields if broken.about else (*STATUS_FIELDS, *CREATED, "rows")
            for member in (self._members[user], *self._members.values()):
                broken.blame = member.client.journal.latest(about, fields)
                if broken.blame is not None:
                    break
        return broken


def _is_quiet(sending: Sending) -> bool:
    task = sending.task
    if task.done():
        return True
    return task.state == "server" and task.request is not None and not task.request.answered


def _over(sending: Sending) -> str:
    """`` over the fallback``: which transport a failover client's request is on, or nothing."""
    return "" if sending.via is None else f" over the {sending.via}"


def _snapshot(state: ChatState) -> tuple[list[str], dict[str, tuple[bool, str | None]], int]:
    lines = [line for chat_id in state.chats for line in describe_timeline(state, chat_id)]
    flags = {chat.id: (chat.sending, chat.error) for chat in state.chats.values()}
    return lines, flags, len(state.messages)


def _line_matches(expected: str, actual: str) -> bool:
    if expected == actual:
        return True
    return expected.endswith(" failed") and actual.startswith(expected + " (")


def _does(user: str, verb: str) -> str:
    """``you send`` but ``bob sends``: the story speaks to the learner."""
    if user == "you":
        return f"you {verb}"
    return f"{user} {verb[:-1]}ies" if verb.endswith("y") else f"{user} {verb}s"


def _whose(user: str) -> str:
    return "your" if user == "you" else f"{user}'s"


def _quote(body: str, limit: int = 40) -> str:
    """A body as the story shows it: quoted, and shortened if it is long."""
    if len(body) <= limit:
        return repr(body)
    return f"{body[:limit]!r}… ({len(body)} characters)"
