"""What crosses between server processes: messages, typing notices and fault switches.

One process alone (`Fanout`) hands each to its own connections. With ``--redis``
(`RedisFanout`) there are several, and every packet between them goes through
the sealed link (`chatkit.live.server.cluster.redis_link`). What each kind promises:

- **Messages, exactly once, through a Redis outage.** A process delivers a message
  it stored to its own connections at once, then publishes it. Every process keeps,
  per chat its connections are in, a ledger of the seqs it delivered
  (`chatkit.live.server.cluster.delivered`) and delivers a seq only the first time it comes. When
  a seq arrives with a hole below it, the hole is read from the database after
  `GAP_GRACE_S` (it may be a packet still on its way); when the link comes back,
  every chat is read from the database after its ledger's floor. A message whose
  publish failed is announced later as its chat's head, so others read it too.
  Connections are told when cross-server delivery is degraded and when it is back.
- **Typing** goes to this process's connections, then to the others; while Redis
  is away the typist is answered ``unavailable`` (its own process's members did see it).
- **Fault switches** live in Redis, and every change reaches every process once
  (`chatkit.live.server.cluster.shared_faults`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from redis.exceptions import RedisError

from chatkit.live.server.cluster.delivered import ChatLedger
from chatkit.live.server.cluster.redis_link import (
    COMMAND_TIMEOUT_S,
    RETRY_S,
    LinkDown,
    Packet,
    RedisLink,
)
from chatkit.live.server.cluster.shared_faults import SharedSwitches
from chatkit.live.server.errors import Unavailable
from chatkit.live.server.faults import FaultInjector, FaultSettings
from chatkit.live.storage.messages import MessageStore, StoreError
from chatkit.live.wire import message_from_wire, message_to_wire
from chatkit.model import ServerMessage

log = logging.getLogger("chatkit.live")

GAP_GRACE_S = 0.5
"""How long a hole in a chat's seqs may wait for its packet before it is read from the
database (packets of two processes may cross on the way)."""
FILL_PAGE = 500
"""Messages read from the database at a time when filling a hole."""
DRAIN_EVERY = 100
"""A catch-up lets the connections write out what it gave them after this many messages."""
PUBLISH_BATCH = 256
"""The most packets published in one round trip."""
OUTBOX_MAX = 10_000
"""Packets waiting to be published; beyond, a chat's head is published instead."""
FILLS_AT_ONCE = 8
"""Chats read from the database at once when the link comes back."""
TYPING_AWAY = (
    "the other servers cannot be told right now (their link through Redis is down): "
    "only the people on this server see that you are typing"
)


@dataclass(frozen=True, slots=True)
class Typing:
    """Someone started or stopped typing in a chat."""

    chat_id: str
    user: str
    typing: bool
    session: str
    """The typist's session (its key): its own connections are not told."""


class Listener(Protocol):
    """The realtime side: where what crosses between processes is delivered."""

    async def deliver(self, message: ServerMessage) -> None:
        """To this process's connections in the message's chat."""
        ...

    async def faults_changed(self, settings: FaultSettings) -> None: ...

    async def typing_heard(self, notice: Typing) -> None: ...

    async def link_changed(self, up: bool) -> None:
        """Cross-server delivery is degraded (False) or back (True)."""
        ...

    def has_members(self, chat_id: str) -> bool:
        """Whether any connection of this process is in the chat's room."""
        ...

    async def drained(self, chat_id: str) -> None:
        """Return once the chat's connections have written out most of what waits for
        them (a catch-up delivers in bursts; the burst is not theirs to be shed for)."""
        ...


class Fanout:
    """One server process alone: everything goes to its own connections."""

    def __init__(self, faults: FaultInjector) -> None:
        self.faults = faults
        self.degraded = False
        """Whether cross-server delivery is degraded now (never, for one process)."""
        self._listener: Listener | None = None

    def listen(self, listener: Listener) -> None:
        """Where messages, switches and typing notices go (the realtime side)."""
        self._listener = listener

    async def open(self) -> None:
        """Be ready before the first connection (nothing to do for one process)."""

    async def close(self) -> None:
        """Stop listening (nothing to do for one process)."""

    async def message(self, message: ServerMessage) -> None:
        """A message this process stored: to every member of its chat."""
        if self._listener is not None:
            await self._listener.deliver(message)

    async def watch(self, chat_id: str, *, fresh: bool) -> None:
        """A connection of this process entered the chat's room (``fresh``: the first)."""

    async def change_faults(self, changes: Mapping[str, object]) -> FaultSettings:
        """Change some switches everywhere; raise ValueError (nothing changed) if one is
        not valid. Every connection is told before this returns."""
        settings = self.faults.update(changes)
        await self._told(settings)
        return settings

    async def typing(self, notice: Typing) -> None:
        """Tell everyone in the chat, the typist's own connections aside."""
        if self._listener is not None:
            await self._listener.typing_heard(notice)

    async def _told(self, settings: FaultSettings) -> None:
        if self._listener is not None:
            await self._listener.faults_changed(settings)


class RedisFanout(Fanout):
    """Several server processes, one Redis, one database."""

    def __init__(self, faults: FaultInjector, url: str, secret: bytes, store: MessageStore) -> None:
        super().__init__(faults)
        self.store = store
        self.link = RedisLink(url, secret, self._heard, self._link_changed)
        self.switches = SharedSwitches(faults, self.link, self._told)
        self._ledgers: dict[str, ChatLedger] = {}
        self._outbox: collections.deque[tuple[str, int, bytes]] = collections.deque()
        self._heads: dict[str, int] = {}
        """Chats whose last messages could not be published: announced when the link is back."""
        self._wake = asyncio.Event()
        self._fills: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        """Subscribe, then take the current switches (or offer this process's own);
        raise OSError if Redis cannot be reached."""
        await self.link.open()
        start = self.faults.settings
        try:
            await self.switches.settle()
        except (RedisError, OSError, TimeoutError) as error:
            raise OSError(f"cannot read the fault switches in Redis ({error})") from None
        if self.faults.settings != start:
            log.warning("the fault switches are shared: using the ones in Redis")
        self._spawn(self._publish_loop(), "chatkit-publisher")

    async def close(self) -> None:
        """Publish what is still waiting (within `COMMAND_TIMEOUT_S`), then stop."""
        if self.link.up and (self._outbox or self._heads):
            with contextlib.suppress(LinkDown, TimeoutError):
                async with asyncio.timeout(COMMAND_TIMEOUT_S):
                    outbox = [packet for _, _, packet in self._outbox]
                    await self.link.publish(self._head_packets(self._heads) + outbox)
        for task in [*self._tasks, *self._fills.values()]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._fills.values(), return_exceptions=True)
        await self.link.close()

    # Messages.

    async def message(self, message: ServerMessage) -> None:
        ledger = self._ledgers.get(message.chat_id)
        if (ledger is None or ledger.take(message.seq)) and self._listener is not None:
            await self._listener.deliver(message)
        packet = self.link.pack({"kind": "message", "message": message_to_wire(message)})
        if self.link.up and len(self._outbox) < OUTBOX_MAX:
            self._outbox.append((message.chat_id, message.seq, packet))
        else:
            self._note_head(message.chat_id, message.seq)
        self._wake.set()

    async def watch(self, chat_id: str, *, fresh: bool) -> None:
        """Start a chat's ledger at its last seq (what came before is history)."""
        ledger = self._ledgers.get(chat_id)
        if ledger is not None and ledger.floor is not None and not fresh:
            return
        if ledger is None or fresh:
            ledger = self._ledgers[chat_id] = ChatLedger()
        try:
            last = await self.store.page(chat_id, limit=1)
        except StoreError as error:
            log.error("could not read where %r stands (%s)", chat_id, error)
            return
        ledger.start_at(last.messages[-1].seq if last.messages else 0)

    async def _arrived(self, message: ServerMessage) -> None:
        """A message another process stored."""
        listener = self._listener
        if listener is None or not listener.has_members(message.chat_id):
            return
        ledger = self._ledgers.setdefault(message.chat_id, ChatLedger())
        if ledger.take(message.seq):
            await listener.deliver(message)
        if ledger.missing():
            self._fill_soon(message.chat_id, GAP_GRACE_S)

    def _fill_soon(self, chat_id: str, delay: float) -> None:
        if chat_id in self._fills:
            self._again.add(chat_id)
            return
        task = asyncio.get_running_loop().create_task(self._filling(chat_id, delay))
        self._fills[chat_id] = task

    async def _filling(self, chat_id: str, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            ledger = self._ledgers.get(chat_id)
            if delay and chat_id not in self._again and (ledger is None or not ledger.missing()):
                return  # the packet came meanwhile: nothing to read
            while True:
                self._again.discard(chat_id)
                await self._fill(chat_id)
                if chat_id not in self._again:
                    return
        except StoreError as error:
            log.error("could not read the messages missed in %r (%s)", chat_id, error)
        finally:
            self._fills.pop(chat_id, None)

    async def _fill(self, chat_id: str) -> int:
        """Deliver, from the database, every message of a chat after its ledger's floor
        that has not been delivered yet; how many that was."""
        ledger = self._ledgers.get(chat_id)
        delivered = 0
        while ledger is not None and ledger.floor is not None and self._listener is not None:
            floor = ledger.floor
            page = await self.store.page(chat_id, after=floor, limit=FILL_PAGE)
            for message in page.messages:
                if ledger.take(message.seq):
                    await self._listener.deliver(message)
                    delivered += 1
                    if delivered % DRAIN_EVERY == 0:
                        await self._listener.drained(chat_id)
            if not page.has_more or ledger.floor == floor:
                break
        return delivered

    def _note_head(self, chat_id: str, seq: int) -> None:
        self._heads[chat_id] = max(seq, self._heads.get(chat_id, 0))

    async def _publish_loop(self) -> None:
        """Publish what this process stored, in batches; what cannot go out now is
        remembered as its chat's head and announced once the link is back."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self.link.up:
                self._outbox_to_heads()
                continue
            batch = [self._outbox.popleft() for _ in range(min(PUBLISH_BATCH, len(self._outbox)))]
            heads, self._heads = self._heads, {}
            try:
                outbox = [packet for _, _, packet in batch]
                await self.link.publish(self._head_packets(heads) + outbox)
            except LinkDown:
                for chat_id, seq in [*heads.items(), *((c, s) for c, s, _ in batch)]:
                    self._note_head(chat_id, seq)
                self._outbox_to_heads()
                await asyncio.sleep(RETRY_S)
                self._wake.set()
                continue
            if self._outbox:
                self._wake.set()

    def _head_packets(self, heads: Mapping[str, int]) -> list[bytes]:
        """Packets saying how far chats go: whoever is behind reads the rest."""
        return [
            self.link.pack({"kind": "head", "chat_id": chat_id, "seq": seq})
            for chat_id, seq in heads.items()
        ]

    def _outbox_to_heads(self) -> None:
        while self._outbox:
            chat_id, seq, _ = self._outbox.popleft()
            self._note_head(chat_id, seq)

    # The link.

    async def _link_changed(self, up: bool) -> None:
        if not up:
            self._outbox_to_heads()
            if not self.degraded:
                self.degraded = True
                if self._listener is not None:
                    await self._listener.link_changed(False)
            return
        self._wake.set()  # the heads that could not go out
        self._spawn(self._recover(), "chatkit-recover")

    async def _recover(self) -> None:
        """After the link came back: the switches, then every chat's missed messages;
        then the connections are told delivery is whole again."""
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await self.switches.settle()
        listener = self._listener
        if listener is None:
            return
        for chat_id in [c for c in self._ledgers if not listener.has_members(c)]:
            del self._ledgers[chat_id]
        turns = asyncio.Semaphore(FILLS_AT_ONCE)
        began = time.monotonic()

        async def fill(chat_id: str) -> int:
            async with turns:
                return await self._fill(chat_id)

        results = await asyncio.gather(
            *(fill(chat_id) for chat_id in list(self._ledgers)), return_exceptions=True
        )
        for failed in [r for r in results if isinstance(r, BaseException)]:
            log.error("could not read the messages missed while Redis was away (%s)", failed)
        log.warning(
            "delivered %d message(s) of other servers missed while Redis was away, in %.2f s",
            sum(r for r in results if isinstance(r, int)),
            time.monotonic() - began,
        )
        if self.link.up and self.degraded:
            self.degraded = False
            await listener.link_changed(True)

    async def _heard(self, packet: Packet) -> None:
        """One packet another process sealed; one that cannot be used is logged, not fatal."""
        try:
            kind = packet["kind"]
            if kind == "message":
                await self._arrived(message_from_wire(packet["message"]))
            elif kind == "head":
                chat_id, seq = packet["chat_id"], packet["seq"]
                ledger = self._ledgers.get(chat_id)
                listener = self._listener
                if (
                    ledger is not None
                    and listener is not None
                    and listener.has_members(chat_id)
                    and ledger.behind(seq)
                ):
                    self._fill_soon(chat_id, 0.0)
            elif kind == "typing" and self._listener is not None:
                await self._listener.typing_heard(
                    Typing(
                        str(packet["chat_id"]),
                        str(packet["user"]),
                        packet["typing"] is True,
                        str(packet["session"]),
                    )
                )
            elif kind == "faults":
                await self.switches.apply(packet)
        except Exception:
            log.exception("could not use a packet from the other servers")

    def _spawn(self, work: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Typing.

    async def typing(self, notice: Typing) -> None:
        await super().typing(notice)
        if not self.link.up:
            raise Unavailable(TYPING_AWAY)
        try:
            await self.link.publish([self.link.pack({"kind": "typing", **asdict(notice)})])
        except LinkDown:
            raise Unavailable(TYPING_AWAY) from None

    async def change_faults(self, changes: Mapping[str, object]) -> FaultSettings:
        return await self.switches.change(changes)
