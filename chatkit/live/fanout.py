"""What every server process does for its own connections: fault switches and typing.

One process alone (`Fanout`) changes its switches and tells its connections. With
``--redis`` (`RedisFanout`) there are several, and each must end up with the same
switches and tell only its own connections, so every connection hears a change
once:

- The switches live in Redis, under one key, with a version. A change reads them,
  merges and checks the change, and writes them back and publishes them in one
  transaction that fails if another change came in between (then it is made
  again on the newer switches). So concurrent changes on different processes
  both count, and every process sees them in one order.
- Every process applies a version newer than its own and announces it to its own
  connections; the process that made the change does so before it answers, so
  its next send already sees it.
- A process that starts later reads the key before it serves, after subscribing,
  so it misses no change. The first process's start switches fill an empty key.

A typing notice is published likewise, and every process passes it to its own
connections in the chat except the typist's: whichever process they are on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass

import redis.asyncio
from redis.exceptions import RedisError, WatchError

from chatkit.live.faults import FaultInjector, FaultSettings
from chatkit.live.redis_rooms import redis_database

log = logging.getLogger("chatkit.live")

RECONNECT_S = 1.0
"""How long the listener waits before listening again after Redis went away."""


@dataclass(frozen=True, slots=True)
class Typing:
    """Someone started or stopped typing in a chat."""

    chat_id: str
    user: str
    typing: bool
    session: str
    """The typist's session (its key): its own connections are not told."""


AnnounceFaults = Callable[[FaultSettings], Awaitable[None]]
DeliverTyping = Callable[[Typing], Awaitable[None]]


class Fanout:
    """One server process alone: a change or a typing notice goes to its connections."""

    def __init__(self, faults: FaultInjector) -> None:
        self.faults = faults
        self._announce: AnnounceFaults | None = None
        self._deliver: DeliverTyping | None = None

    def listen(self, announce: AnnounceFaults, deliver: DeliverTyping) -> None:
        """Where changed switches and typing notices go (the realtime side)."""
        self._announce, self._deliver = announce, deliver

    async def open(self) -> None:
        """Be ready before the first connection (nothing to do for one process)."""

    async def close(self) -> None:
        """Stop listening (nothing to do for one process)."""

    async def change_faults(self, changes: Mapping[str, object]) -> FaultSettings:
        """Change some switches everywhere; raise ValueError (nothing changed) if one is
        not valid. Every connection is told before this returns."""
        settings = self.faults.update(changes)
        await self._told(settings)
        return settings

    async def typing(self, notice: Typing) -> None:
        """Tell everyone in the chat, the typist's own connections aside."""
        if self._deliver is not None:
            await self._deliver(notice)

    async def _told(self, settings: FaultSettings) -> None:
        if self._announce is not None:
            await self._announce(settings)


class RedisFanout(Fanout):
    """Several server processes, one Redis: the switches are kept and changed there."""

    def __init__(self, faults: FaultInjector, url: str) -> None:
        super().__init__(faults)
        self.url = url
        db = redis_database(url)
        self.channel = f"chatkit:{db}:fanout"
        self.key = f"chatkit:{db}:faults"
        self.version = 0
        """The version of the switches this process has applied."""
        self._redis = redis.asyncio.Redis.from_url(url)
        self._pubsub = self._redis.pubsub()
        self._listener: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Subscribe, then take the current switches (or offer this process's own);
        raise OSError if Redis cannot be reached."""
        try:
            await self._pubsub.subscribe(self.channel)
            await self._pubsub.get_message(timeout=None)  # the subscription, confirmed
            offer = self._notice(1, self.faults.settings, restart_dice=True)
            await self._redis.set(self.key, offer, nx=True)
            stored = await self._redis.get(self.key)
        except (RedisError, OSError) as error:
            raise OSError(f"cannot reach Redis at {self.url} ({error})") from None
        if stored is not None:
            start = self.faults.settings
            await self._apply(json.loads(stored))
            if self.faults.settings != start:
                log.warning("the fault switches are shared: using the ones in Redis")
        self._listener = asyncio.get_running_loop().create_task(
            self._listen(), name="chatkit-fanout"
        )

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self._pubsub.aclose()
        await self._redis.aclose()

    async def change_faults(self, changes: Mapping[str, object]) -> FaultSettings:
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(self.key)
                    stored = await pipe.get(self.key)
                    current = json.loads(stored) if stored is not None else None
                    version = current["version"] if current else self.version
                    base = FaultSettings(**current["faults"]) if current else self.faults.settings
                    settings = FaultInjector(base).update(changes)  # ValueError: nothing changed
                    notice = self._notice(version + 1, settings, restart_dice="seed" in changes)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(self.key, notice)
                    pipe.publish(self.channel, notice)
                    await pipe.execute()
                    break
                except WatchError:  # another process changed them meanwhile: on the newer ones
                    continue
        await self._apply(json.loads(notice))
        return self.faults.settings

    async def typing(self, notice: Typing) -> None:
        await self._redis.publish(self.channel, json.dumps({"kind": "typing", **asdict(notice)}))

    @staticmethod
    def _notice(version: int, settings: FaultSettings, *, restart_dice: bool) -> str:
        return json.dumps(
            {
                "kind": "faults",
                "version": version,
                "faults": settings.to_json(),
                "restart_dice": restart_dice,
            }
        )

    async def _apply(self, notice: Mapping[str, object]) -> None:
        """Take switches newer than this process's, and tell its connections."""
        version, faults = notice.get("version"), notice.get("faults")
        if not isinstance(version, int) or not isinstance(faults, dict) or version <= self.version:
            return
        self.version = version
        restart = notice.get("restart_dice") is True
        self.faults.update({name: v for name, v in faults.items() if name != "seed" or restart})
        await self._told(self.faults.settings)

    async def _listen(self) -> None:
        while True:
            try:
                async for message in self._pubsub.listen():
                    if message.get("type") == "message":
                        await self._heard(message["data"])
            except (RedisError, OSError) as error:
                log.warning("lost Redis (%s); listening again in %s s", error, RECONNECT_S)
                await asyncio.sleep(RECONNECT_S)
                await self._catch_up()

    async def _catch_up(self) -> None:
        """After Redis came back: the switches may have changed while we were away."""
        try:
            stored = await self._redis.get(self.key)
        except (RedisError, OSError):
            return  # still away: the next round tries again
        if stored is not None:
            await self._apply(json.loads(stored))

    async def _heard(self, data: bytes) -> None:
        """One notice from the channel; one that cannot be used is logged, not fatal."""
        try:
            notice = json.loads(data)
            if notice.get("kind") == "faults":
                await self._apply(notice)
            elif notice.get("kind") == "typing" and self._deliver is not None:
                await self._deliver(
                    Typing(
                        str(notice["chat_id"]),
                        str(notice["user"]),
                        notice["typing"] is True,
                        str(notice["session"]),
                    )
                )
        except Exception:
            log.exception("could not use a notice from the other servers")
