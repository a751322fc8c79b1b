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

from chatkit.engine.cast import FALLBACK, PRIMARY, Cast, Member, Sending, is_quiet, over
from chatkit.engine.referee import Referee, snapshot
from chatkit.engine.remote import Op, RemotePhone
from chatkit.engine.rules import Rule, RuleBroken, check_returned_row
from chatkit.engine.story import SERVER, Kind, Step, screen
from chatkit.engine.timelines.device import PhoneDevice
from chatkit.engine.timelines.explore import Exploration, explore_async
from chatkit.engine.words import does, quote, whose
from chatkit.model import TIMED_OUT, DeliveryError, InvalidMessage, ServerMessage, Status
from chatkit.phone.link import PhoneTemplate
from chatkit.sandbox import ScriptedClock, ScriptedWorld
from chatkit.script.server import Request, ScriptedServer
from chatkit.script.small_world import SmallWorld
from chatkit.state import ChatState

__all__ = ["DEFAULT_CHAT", "FALLBACK", "PRIMARY", "Scenario", "Sending"]
"""What scenario authors use: the kit, a send it started, a failover client's transports."""

DEFAULT_CHAT = "general"


STORY_END_ROWS = 6
"""A long timeline is shown in the story as its first and last this many rows."""


class Scenario:
    """The ``kit`` a scenario is written with: what the users do and what the server does,
    each written to the story and checked.

    It is a thin facade over parts with one job each: who is there (`Cast`: the phones,
    each forked from ``phones`` with its own fresh copy of the flow), what is checked
    (`Referee`), and the scripted server. A new server behaviour is a method here; a new
    check goes to the referee. All of it runs in one scripted ``world``: a clock that moves
    only when the scenario moves it (``kit.clock``), and chance seeded by the scenario's name.
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
        self.cast = Cast(phones, world, self.server, chat_id, self)
        """Who is there: the phones (`chatkit.engine.cast`)."""
        self.referee = Referee(self.cast, chat_id)
        """What is checked (`chatkit.engine.referee`)."""
        self._device_ids = 0
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
        return self.cast.client(user, chats=chats, failover=failover)

    def phone(self, user: str, name: str) -> RemotePhone:
        """Another phone of ``user``'s, called ``name`` in the story ("your new phone").

        It signs in as ``user`` but runs its own copy of the flow, with an empty screen —
        a second device, or the app just reinstalled. Send from it with ``by=name``.
        """
        return self.cast.phone(user, name)

    def close(self) -> None:
        """Hang up every phone of the scenario."""
        self.cast.close()

    # What the phones tell, as it happens: the referee checks it.

    def paused(self, phone: RemotePhone, op: Op, shown_before: int) -> None:
        self.referee.paused(phone, op, shown_before)

    def requested(self, phone: RemotePhone, op: Op | None, request: Request) -> None:
        self.referee.requested(phone, op, request)

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
            f"{does(by, 'send')} {quote(body)}",
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
        text = f"{does(by, 'send')} {len(bodies):,} messages in a burst{across}"
        self._step(text, Kind.SEND, by, SERVER, check=False)
        for sending in sendings:
            self.referee.raise_if_not_started(sending)
        self.referee.check()
        return sendings

    async def ack_many(self, sendings: list[Sending]) -> None:
        """The acks of all these sends reach their senders, in this order."""
        for sending in sendings:
            self.server.ack(self._request(sending))
            self.cast[sending.user].watch.told(self._stored(sending))
        await self.settle()
        users = sorted({sending.user for sending in sendings})
        text = f"the acks for all {len(sendings):,} messages arrive"
        self._step(text, Kind.ACK, SERVER, users[0] if len(users) == 1 else "the chat", check=False)
        for sending in sendings:
            self.referee.raise_if_unfinished(sending)
        self.referee.check()

    async def retry(self, failed: Sending) -> Sending:
        """The user retries a failed message."""
        client = self.client(failed.user)
        sending = Sending(failed.user, failed.chat_id, failed.body, retry_of=failed.client_id)
        row = self.state(failed.user).get(failed.client_id)
        sending.shown_as = "failed" if row is not None and row.status is Status.FAILED else None
        self.referee.retrying = failed.client_id
        self.cast[failed.user].watch.resent(failed.client_id)
        try:
            text = f"{does(failed.user, 'retry')} {quote(failed.body)}"
            await self._begin(sending, client, {"do": "retry", "client_id": failed.client_id}, text)
        finally:
            self.referee.retrying = None
        return sending

    async def send_invalid(self, body: str, *, by: str = "you") -> InvalidMessage:
        """Send a body that must be refused; return the error the flow raised."""
        state = self.state(by)
        before = snapshot(state)
        task = self.client(by).start("send", lambda op: None, chat_id=self.chat_id, body=body)
        await self.settle()
        self._step(
            f"{does(by, 'try')} to send {quote(body)}", Kind.REFUSED_INPUT, by, by, check=False
        )
        error = task.exception() if task.done() else None
        if not isinstance(error, InvalidMessage):
            if task.done() and error is not None and not isinstance(error, DeliveryError):
                raise error
            raise RuleBroken(
                Rule.BAD_INPUT,
                f"sending {quote(body)} should raise InvalidMessage before anything is shown "
                f"(got {'no error' if error is None else type(error).__name__})",
            )
        if snapshot(state) != before:
            raise RuleBroken(
                Rule.BAD_INPUT,
                "the refused message changed the state; refuse it before touching anything",
                expected=before[0],
                actual=snapshot(state)[0],
            )
        self.referee.check()
        return error

    async def backfill(self, user: str = "you") -> None:
        """``user`` reconnects and the chat's history is merged into the screen."""
        member = self.cast[user]
        for message in self.server.stored.get(self.chat_id, []):
            member.watch.told(message)
        await self._reload(member, "backfill")
        self._step(f"{does(user, 'reconnect')}; the history arrives", Kind.HISTORY, SERVER, user)

    async def resync(self, user: str = "you") -> None:
        """``user`` reloads the chat: the server's list replaces the confirmed rows."""
        member = self.cast[user]
        for message in self.server.stored.get(self.chat_id, []):
            member.watch.told(message)
        await self._reload(member, "resync")
        try:
            self._step(
                f"{does(user, 'reload')} the chat from the server", Kind.HISTORY, SERVER, user
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

    async def explore(self, world: SmallWorld) -> Exploration:
        """Every timeline of ``world``, the flow on your phone, one step of a timeline per
        command; the shortest broken one, if any, becomes this scenario's story."""
        result = await explore_async(PhoneDevice(self.cast["you"].client), world)
        story = result.counterexample
        if story is not None and story.failure is not None:
            self.story.extend(story.steps)
        return result

    # What the server does.

    def store(self, sending: Sending) -> ServerMessage:
        """The server stores the message (nobody is told yet)."""
        stored = self._stored(sending)
        self._step(
            f"the server stores {quote(sending.body)} as #{stored.seq}", Kind.STORE, SERVER, SERVER
        )
        return stored

    def store_many(self, sendings: list[Sending]) -> None:
        """The server stores all these messages, in this order (nobody is told yet)."""
        for sending in sendings:
            self._stored(sending)
        self._step(f"the server stores all {len(sendings):,} messages", Kind.STORE, SERVER, SERVER)

    def post(self, body: str, *, by: str = "bob", chat: str | None = None) -> ServerMessage:
        """Someone on another device sends ``body`` into ``chat`` (the scenario's chat unless
        given); the server stores it (nobody told yet)."""
        self._device_ids += 1
        chat_id = chat or self.chat_id
        message = self.server.post(chat_id, by, body, f"{by}-device-{self._device_ids}")
        sends = "you send" if by == "you" else f"{by} sends"
        device = " from your other device" if by == "you" else ""
        where = "" if chat_id == self.chat_id else f" in {quote(chat_id)}"
        self._step(
            f"{sends} {quote(body)}{where}{device}; the server stores it as #{message.seq}",
            Kind.POST,
            by,
            SERVER,
        )
        return message

    async def ack(self, sending: Sending) -> ServerMessage:
        """The ack reaches the sender (the server stores the message first if needed)."""
        self.server.ack(self._request(sending))
        stored = self._stored(sending)
        self.cast[sending.user].watch.told(stored)
        await self._answered(
            sending,
            f"the ack for {quote(sending.body)} reaches {sending.user}{over(sending)}",
            Kind.ACK,
        )
        return stored

    async def late_ack(self, sending: Sending) -> ServerMessage:
        """An ack that arrives after the sender gave up: the client hands it to reconcile."""
        stored = self._stored(sending)
        member = self.cast[sending.user]
        member.watch.told(stored)
        try:
            member.client.receive(stored)
        finally:
            self._step(
                f"the late ack for {quote(sending.body)} reaches {sending.user}{over(sending)}",
                Kind.ACK,
                SERVER,
                sending.user,
                check=False,
            )
        await self.settle()
        self.referee.check()
        return stored

    async def refuse(self, sending: Sending, reason: str = "the server refused it") -> None:
        """The server refuses the message: nothing is stored, the sender gets the reason."""
        self.server.refuse(self._request(sending), reason)
        await self._answered(
            sending,
            f"the server refuses {quote(sending.body)}{over(sending)}: {reason}",
            Kind.REFUSE,
            reason,
        )

    async def time_out(self, sending: Sending) -> None:
        """The sender gives up waiting for the ack (it was lost, or is only late)."""
        self.server.time_out(self._request(sending))
        await self._answered(
            sending,
            f"{whose(sending.user)} client gives up waiting for {quote(sending.body)}"
            f"{over(sending)}",
            Kind.LOST,
            TIMED_OUT,
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
                f"the echo of {quote(message.body)} (#{message.seq}) reaches {whom}",
                Kind.ECHO,
                SERVER,
                whom,
                check=False,
            )
        await self.settle()
        self.referee.check()

    # Checking.

    def expect(
        self,
        expected: list[str],
        *,
        user: str = "you",
        rule: Rule = Rule.EXACTLY_ONCE,
        chat: str | None = None,
    ) -> None:
        """The timeline ``user`` sees in ``chat`` (the scenario's chat unless given) must
        read ``expected``.

        A line like ``"'hi' failed"`` accepts any reason; write the reason in
        brackets to require it.
        """
        self.referee.expect(expected, user=user, rule=rule, chat=chat)

    def expect_returned_row(self, sending: Sending) -> None:
        """``send`` (or a retry) must hand back the very row it shows for this message."""
        self.referee.expect_returned_row(sending)

    def failed_over(self, sending: Sending) -> bool:
        """Whether the failover client now waits on the fallback for ``sending``: False when
        the send had already finished (it stopped waiting once its echo confirmed it, say),
        so there is nothing to fail over."""
        if sending.via == FALLBACK:
            return True
        if sending.task.done():
            return False
        raise RuleBroken(
            Rule.FINISHES,
            f"the primary transport failed {sending.body!r}, but the send neither finished "
            "nor went on over the fallback",
            function="send",
        )

    def expect_fallback(self, sending: Sending) -> None:
        """The failover client must now wait on the fallback for ``sending``: its message
        has not been confirmed, so the send cannot have finished."""
        if not self.failed_over(sending):
            raise RuleBroken(
                Rule.FINISHES,
                f"the primary transport failed {sending.body!r} and the send finished, "
                "though nothing had confirmed the message: it must wait for the fallback's "
                "answer",
                function="send",
            )

    def expect_flags(self, *, sending: bool, error: str | None, user: str = "you") -> None:
        """The chat's "sending…" indicator and error banner must be as given."""
        self.referee.expect_flags(sending=sending, error=error, user=user)

    def blame(self, broken: RuleBroken, user: str = "you") -> RuleBroken:
        """Say where the learner's code made the change that broke the rule, if it can tell."""
        return self.referee.blame(broken, user)

    async def settle(self) -> None:
        """Hand each phone the server's answers, until every send is finished or waits on
        the server (each phone runs until it is quiet after each of them)."""
        self.cast.flush()

    async def finish(self) -> None:
        """The end of a scenario: every send has finished or still waits on the server."""
        await self.settle()
        for sending in self.sendings:
            if not is_quiet(sending):
                raise RuleBroken(
                    Rule.FINISHES,
                    f"the send of {quote(sending.body)} is stuck on something other than the server",
                )
            self.referee.raise_if_crashed(sending)

    # Plumbing.

    async def _begin(
        self, sending: Sending, client: RemotePhone, command: dict[str, str], text: str
    ) -> None:
        """Start a send, let it run until it waits on the server, and tell that step."""
        self._start(sending, client, command)
        await self.settle()
        kind = Kind.SEND if sending.retry_of is None else Kind.RETRY
        self._step(text + over(sending), kind, sending.user, SERVER, check=False)
        self.referee.raise_if_not_started(sending)
        self.referee.check()

    def _start(self, sending: Sending, client: RemotePhone, command: dict[str, str]) -> None:
        """Start a send on its phone. It runs up to the first moment it gives up control;
        right then its message must be on screen as pending (rule 1), whatever it awaits
        (`paused`)."""
        self.sendings.append(sending)
        arguments = {name: value for name, value in command.items() if name != "do"}
        client.start(command["do"], self._binder(sending), **arguments)

    def _binder(self, sending: Sending) -> Callable[[Op], None]:
        """What a phone calls with the op it runs ``sending`` as, before it runs it."""
        return lambda op: self.referee.bind(sending, op)

    async def _reload(self, member: Member, how: str) -> None:
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

    async def _answered(
        self, sending: Sending, text: str, kind: Kind, reason: str | None = None
    ) -> None:
        """After the server answered a send: it must finish, unless it failed over. A
        failure (``reason``) must then show on its row: that reason, unless a failover
        client gave its own (both transports' reasons in one).

        A failover client whose primary failed is not done yet: it has sent the same
        message again over the fallback, and now waits there for the scenario's answer.
        """
        answered = sending.request
        finished_before = sending.task.done()
        await self.settle()
        failing_over = (
            not sending.task.done() and sending.via == FALLBACK and sending.request is not answered
        )
        if failing_over:
            text += f"; {whose(sending.user)} client fails over to the {FALLBACK}"
        elif reason is not None and sending.task.done() and answered is not None:
            # A failover client, or a flow whose own time-out ran out, gives its own reason.
            told = reason if sending.via is None and not sending.task.gave_up else None
            self.cast[sending.user].watch.failed(answered.client_id, told)
            if sending.task.gave_up:
                self.referee.own_time_out(sending)
        self._step(text, kind, SERVER, sending.user, check=False)
        self.referee.raise_if_unfinished(sending, failing_over=failing_over)
        self.referee.check()
        if answered is not None:  # the rules of the screen first: they say more
            just_acked = reason is None and not finished_before
            check_returned_row(sending.body, sending.task.returned_as, just_acked=just_acked)

    def _stored(self, sending: Sending) -> ServerMessage:
        """The server's copy of the message, stored now if it is not yet (stored once)."""
        sending.stored = self.server.store(self._request(sending))
        return sending.stored

    def _request(self, sending: Sending) -> Request:
        if sending.request is None:
            raise RuleBroken(
                Rule.INSTANT, f"your send of {quote(sending.body)} never reached the server"
            )
        return sending.request

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
            for user, member in self.cast
        }
        printed = self.world.output.drain()
        step = Step(len(self.story) + 1, text, screens, kind, source, target, printed)
        self.story.append(step)
        if check:
            self.referee.check()
