"""Who is there: a scenario's phones, each in its chats, and the sends they started.

The cast knows each user's phone (`chatkit.engine.remote.RemotePhone`) and its rule
watch, joins it to the scripted server's chats, and hands the server's answers back to
the phones until every send is finished or waits on the server. It checks nothing: the
`chatkit.engine.referee` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from chatkit.engine.remote import Hooks, Op, RemotePhone
from chatkit.engine.rules import Rule, RuleBroken, RuleWatch
from chatkit.limits import MAX_YIELDS
from chatkit.model import ServerMessage
from chatkit.phone.link import PhoneTemplate
from chatkit.sandbox import ScriptedWorld
from chatkit.script.server import Request, ScriptedServer

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
    one), or None (a retry of one on its way or confirmed: it need not reach the server)."""
    broken: RuleBroken | None = None
    """A rule this send broke as it reached the server, raised by the harness, not in the send."""

    @property
    def client_id(self) -> str:
        if self.request is None:
            raise RuleBroken(Rule.INSTANT, f"your send of {self.body!r} never reached the server")
        return self.request.client_id


@dataclass
class Member:
    """One phone of the scenario, its rule watch, and the chats it is in."""

    client: RemotePhone
    watch: RuleWatch
    chats: set[str] = field(default_factory=set)


class Cast:
    """The scenario's phones, by the name the story gives them ("you", "bob", "your new phone")."""

    def __init__(
        self,
        phones: PhoneTemplate,
        world: ScriptedWorld,
        server: ScriptedServer,
        chat_id: str,
        hooks: Hooks,
    ) -> None:
        self.phones = phones
        self.world = world
        self.server = server
        self.chat_id = chat_id
        self.hooks = hooks
        self.members: dict[str, Member] = {}

    def __iter__(self) -> Iterator[tuple[str, Member]]:
        return iter(self.members.items())

    def __getitem__(self, name: str) -> Member:
        return self.members[name]

    def client(
        self, user: str = "you", *, chats: tuple[str, ...] = (), failover: bool = False
    ) -> RemotePhone:
        """The phone of ``user``, connected and in the scenario's chat (made on first use);
        see `chatkit.engine.harness.Scenario.client`."""
        member = self.members.get(user)
        if member is None:
            member = self.members[user] = self._new_member(user, user)
        author = member.client.user
        if failover and not member.client.failing_over:
            member.client.fail_over()
        for chat_id in (self.chat_id, *chats):
            if chat_id not in member.chats:
                member.chats.add(chat_id)
                self.server.join(chat_id, author, _listener(member))
        return member.client

    def phone(self, user: str, name: str) -> RemotePhone:
        """Another phone of ``user``'s, called ``name`` in the story."""
        if name not in self.members:
            self.members[name] = self._new_member(user, name)
        return self.client(name)

    def _new_member(self, user: str, device: str) -> Member:
        link = self.phones.phone(self.world.name, device, user)
        try:
            phone = RemotePhone(
                link, device, user, self.server, self.hooks, self.world.output.write, self._now
            )
        except BaseException:
            link.close()
            raise
        return Member(phone, RuleWatch(phone.state))

    def _now(self) -> datetime:
        return self.world.clock.now

    def flush(self) -> None:
        """Hand each phone the server's answers, until every send is finished or waits on
        the server (each phone runs until it is quiet after each of them)."""
        for _ in range(MAX_YIELDS):
            if not any([member.client.flush() for member in self.members.values()]):
                return

    def close(self) -> None:
        """Hang up every phone."""
        for member in self.members.values():
            member.client.close()


def _listener(member: Member) -> Callable[[ServerMessage], None]:
    def deliver(message: ServerMessage) -> None:
        member.watch.told(message)
        member.client.receive(message)

    return deliver


def is_quiet(sending: Sending) -> bool:
    """Finished, or waiting on the server's answer to its own request."""
    task = sending.task
    if task.done():
        return True
    return task.state == "server" and task.request is not None and not task.request.answered


def over(sending: Sending) -> str:
    """`` over the fallback``: which transport a failover client's request is on, or nothing."""
    return "" if sending.via is None else f" over the {sending.via}"
