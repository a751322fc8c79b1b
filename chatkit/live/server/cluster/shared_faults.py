"""The fault switches, shared by every server process through Redis.

They live in Redis, under one key, sealed (`chatkit.live.server.cluster.secret`), with a
version. A change reads them, merges and checks the change, and writes them back
and publishes them in one transaction that fails if another change came in
between (then it is made again on the newer switches), so concurrent changes on
different processes both count and every process sees them in one order. Every
process applies a version newer than its own and tells its connections; the one
that made the change does so before it answers, so its next send sees it.

The version only grows: a change is numbered above both the key's and this
process's, so after Redis restarted empty a change still takes effect everywhere.
A process whose switches are newer than the key's, or that finds the key empty
or not sealed by the cluster, writes its own back (at start, and whenever its
link returns); one that finds newer ones takes them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from redis.exceptions import RedisError, WatchError

from chatkit.live.server.cluster.redis_link import Packet, RedisLink
from chatkit.live.server.errors import Unavailable
from chatkit.live.server.faults import FaultInjector, FaultSettings
from chatkit.live.wire import whole_number

FAULTS_AWAY = (
    "the fault switches are kept in Redis, which does not answer right now: nothing "
    "changed; try again when it is back"
)


class SharedSwitches:
    """This process's view of the switches every process shares."""

    def __init__(
        self,
        faults: FaultInjector,
        link: RedisLink,
        told: Callable[[FaultSettings], Awaitable[None]],
    ) -> None:
        self.faults = faults
        self.link = link
        self._told = told
        self.version = 0
        """The version of the switches this process has applied."""

    async def change(self, changes: Mapping[str, object]) -> FaultSettings:
        """Change some switches on every process; ValueError (nothing changed) if one is
        not valid, `Unavailable` if Redis does not answer. In effect here on return."""
        key = self.link.faults_key
        try:
            async with self.link.redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(key)
                        current = self._stored(await pipe.get(key))
                        theirs = current["version"] if current is not None else 0
                        base = self.faults.settings
                        if current is not None and theirs >= self.version:
                            base = FaultSettings(**current["faults"])
                        settings = FaultInjector(base).update(changes)  # ValueError: unchanged
                        notice = self._notice(
                            max(theirs, self.version) + 1, settings, restart_dice="seed" in changes
                        )
                        pipe.multi()  # type: ignore[no-untyped-call]
                        pipe.set(key, self.link.pack(notice))
                        pipe.publish(self.link.channel, self.link.pack(notice))
                        await pipe.execute()
                        break
                    except WatchError:  # another process changed them meanwhile: again
                        continue
        except (RedisError, OSError, TimeoutError):
            raise Unavailable(FAULTS_AWAY) from None
        await self.apply(notice)
        return self.faults.settings

    async def settle(self) -> None:
        """Take the switches in Redis if they are newer than this process's; write this
        process's there if the key is empty, forged or older (Redis restarted empty)."""
        key = self.link.faults_key
        async with self.link.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    current = self._stored(await pipe.get(key))
                    if current is not None and current["version"] >= self.version:
                        await pipe.reset()  # type: ignore[no-untyped-call]
                        break
                    current = self._notice(
                        max(self.version, 1), self.faults.settings, restart_dice=False
                    )
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(key, self.link.pack(current))
                    pipe.publish(self.link.channel, self.link.pack(current))
                    await pipe.execute()
                    break
                except WatchError:
                    continue
        assert current is not None
        await self.apply(current)

    async def apply(self, notice: Mapping[str, object]) -> None:
        """Take switches newer than this process's, and tell its connections."""
        version, faults = notice.get("version"), notice.get("faults")
        if not whole_number(version) or not isinstance(faults, dict) or version <= self.version:
            return
        self.version = version
        restart = notice.get("restart_dice") is True
        self.faults.update({name: v for name, v in faults.items() if name != "seed" or restart})
        await self._told(self.faults.settings)

    def _stored(self, data: bytes | str | None) -> Packet | None:
        """The switches kept in Redis, if a server of this cluster wrote them."""
        if not isinstance(data, bytes):
            return None
        notice = self.link.unpack(data, f"in {self.link.faults_key}")
        if notice is None or notice.get("kind") != "faults":
            return None
        if not whole_number(notice.get("version")) or not isinstance(notice.get("faults"), dict):
            return None
        return notice

    @staticmethod
    def _notice(version: int, settings: FaultSettings, *, restart_dice: bool) -> Packet:
        return {
            "kind": "faults",
            "version": version,
            "faults": settings.to_json(),
            "restart_dice": restart_dice,
        }
