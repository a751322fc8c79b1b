"""One server process's link to the others through Redis: sealed packets, and whether it holds.

With ``--redis`` every server process subscribes to one channel, named after the
Redis database (``chatkit:<db>:cluster``), and publishes there what the others
must hear: messages it stored, typing notices, fault switches. `RedisLink` is
that channel, with three promises:

- **Only the servers speak on it.** Every packet is sealed with the shared secret
  (`chatkit.live.server.cluster.secret`); a packet that does not open is dropped and
  counted in the log, whoever managed to publish it.
- **It knows when it is down.** The listener reads with a deadline and pings
  Redis when the channel is quiet; a Redis that closed the connection, or stopped
  answering (a stalled process, a cut network), is noticed within `STALL_S`.
  Then it reconnects, retrying every `RETRY_S` (no growing back-off: a link that
  comes back late is messages that come back late).
- **It says so.** `on_state(False)` when the link goes, `on_state(True)` once it
  is subscribed again, so the process can read from the database what it missed
  and tell its connections.

Redis authentication and TLS come with the URL (``redis://user:password@host``,
``rediss://``); a URL's password is never shown (`shown_url`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from chatkit.live.server.cluster.secret import Seal

log = logging.getLogger("chatkit.live")

CHECK_TIMEOUT_S = 5.0
"""How long `check_redis` waits for Redis to answer."""
COMMAND_TIMEOUT_S = 1.0
"""How long one Redis command may take before the link counts Redis as away."""
HEARTBEAT_S = 0.25
"""How often a quiet link pings Redis (and how long one read waits)."""
STALL_S = 1.5
"""Nothing heard for this long, ping answers included: Redis is away."""
RETRY_S = 0.25
"""How long the link waits between two attempts to reconnect."""
STILL_AWAY_LOG_EVERY_S = 30.0
"""While the link is down, how often the log says so again (and why: a wrong password...)."""
FORGERY_LOG_EVERY_S = 10.0
"""Dropped packets are logged at most this often (with their count), so a flood of
forgeries cannot flood the log."""

Packet = dict[str, Any]
"""An opened packet: a JSON object with at least ``kind`` and ``from`` (the sender)."""


class LinkDown(Exception):
    """Redis could not be reached (or did not answer in time)."""


def redis_database(url: str) -> int:
    """The database number a Redis URL names (0 when it names none).

    Redis's publish/subscribe channels are the same in every database, so the
    channel is named after it: servers on one Redis but different databases
    (``redis://host/1``, ``redis://host/2``) are separate, as their keys are."""
    db = parse_url(url).get("db", 0)  # type: ignore[no-untyped-call]
    return int(db) if isinstance(db, int | str) else 0


def shown_url(url: str) -> str:
    """``url`` as a message may show it: its password (if any) as ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def check_redis(url: str) -> None:
    """Raise OSError, saying what to do, unless a Redis answers at ``url`` (so a server
    that cannot share its broadcasts says so before it opens a port)."""
    import redis as blocking

    where = shown_url(url)
    try:
        client = blocking.Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT_S)
    except ValueError as error:  # not a Redis URL
        raise OSError(f"--redis {where}: {error}") from None
    try:
        client.ping()
    except blocking.AuthenticationError:
        raise OSError(f"Redis at {where} refused the user or password in the URL") from None
    except (blocking.RedisError, OSError) as error:
        raise OSError(
            f"no Redis answers at {where} ({type(error).__name__}) — start redis-server, "
            "or check the --redis URL"
        ) from None
    finally:
        client.close()


def _client(url: str, *, retries: int) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(
        url,
        socket_timeout=COMMAND_TIMEOUT_S,
        socket_connect_timeout=COMMAND_TIMEOUT_S,
        retry=Retry(NoBackoff(), retries, supported_errors=(RedisConnectionError,)),
    )


class RedisLink:
    """The sealed channel between the server processes on one Redis database."""

    def __init__(
        self,
        url: str,
        secret: bytes,
        on_packet: Callable[[Packet], Awaitable[None]],
        on_state: Callable[[bool], Awaitable[None]],
    ) -> None:
        self.url = url
        db = redis_database(url)
        self.channel = f"chatkit:{db}:cluster"
        self.faults_key = f"chatkit:{db}:faults"
        self.host_id = secrets.token_hex(8)
        """This process, in the packets it sends: it skips its own."""
        self.up = False
        """Whether the link holds (subscribed, and Redis answering)."""
        self.redis = _client(url, retries=1)
        """For commands: one retry on a connection Redis closed (after Redis restarted)."""
        self._seal = Seal(secret, self.channel)
        self._on_packet = on_packet
        self._on_state = on_state
        self._listening = _client(url, retries=0)
        """For the subscription: no silent reconnect, so every gap is noticed here."""
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._dropped = 0
        self._dropped_logged_at = 0.0

    async def open(self) -> None:
        """Subscribe before the first connection; OSError if Redis cannot be reached."""
        try:
            await self._subscribe()
        except (RedisError, OSError, TimeoutError) as error:
            raise OSError(
                f"cannot reach Redis at {shown_url(self.url)} ({type(error).__name__})"
            ) from None
        self.up = True
        self._task = asyncio.get_running_loop().create_task(self._run(), name="chatkit-link")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._drop_subscription()
        await self._listening.aclose()
        await self.redis.aclose()

    # Sealing.

    def pack(self, body: Mapping[str, object]) -> bytes:
        """A packet for the others, sealed, saying it is from this process."""
        return self._seal.seal(json.dumps({**body, "from": self.host_id}).encode())

    def unpack(self, data: bytes, where: str) -> Packet | None:
        """The packet in ``data`` if the servers sealed it; None (and counted in the log)
        if not. ``where`` says where it was found, for the log."""
        body = self._seal.open(data)
        packet = None
        if body is not None:
            with contextlib.suppress(ValueError):
                packet = json.loads(body)
        if isinstance(packet, dict) and isinstance(packet.get("kind"), str):
            return packet
        self._dropped += 1
        now = time.monotonic()
        if now - self._dropped_logged_at >= FORGERY_LOG_EVERY_S:
            log.warning(
                "dropped %d packet(s) %s that no server of this cluster sealed: someone "
                "else can write to this Redis (it must not be reachable by users), or a "
                "server has another --cluster-secret-file",
                self._dropped,
                where,
            )
            self._dropped, self._dropped_logged_at = 0, now
        return None

    # Publishing.

    async def publish(self, packets: Sequence[bytes]) -> None:
        """Publish sealed packets, in order, in one round trip; LinkDown if Redis is away
        (then some may have gone out: every receiver takes a packet once, however often)."""
        if not packets:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for packet in packets:
                    pipe.publish(self.channel, packet)
                await pipe.execute()
        except (RedisError, OSError, TimeoutError) as error:
            raise LinkDown(type(error).__name__) from None

    # Listening.

    async def _subscribe(self) -> None:
        pubsub = self._listening.pubsub()
        self._pubsub = pubsub
        async with asyncio.timeout(COMMAND_TIMEOUT_S):
            await pubsub.subscribe(self.channel)
            while True:  # until the subscription is confirmed
                reply = await pubsub.get_message(timeout=COMMAND_TIMEOUT_S)
                if reply is not None and reply.get("type") == "subscribe":
                    return

    async def _drop_subscription(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(COMMAND_TIMEOUT_S):
                    await pubsub.aclose()

    async def _run(self) -> None:
        while True:
            try:
                await self._hear()  # returns only by raising
            except (RedisError, OSError, TimeoutError) as error:
                reason = type(error).__name__
            log.warning("lost the link to Redis (%s); reconnecting", reason)
            self.up = False
            await self._told(False)
            await self._reconnect()
            log.warning("the link to Redis is back")
            self.up = True
            await self._told(True)

    async def _hear(self) -> NoReturn:
        """Read packets until Redis goes away (raises) or stops answering (TimeoutError)."""
        pubsub = self._pubsub
        heard = pinged = time.monotonic()
        while True:
            message = await pubsub.get_message(timeout=HEARTBEAT_S)
            now = time.monotonic()
            if message is not None:
                if message.get("type") == "message":
                    packet = self.unpack(message["data"], f"on {self.channel}")
                    if packet is not None and packet.get("from") != self.host_id:
                        await self._on_packet(packet)
                heard = time.monotonic()  # after the work: a slow delivery is no stall
                continue
            if now - heard > STALL_S:
                raise TimeoutError("Redis stopped answering")
            if now - pinged >= HEARTBEAT_S:
                pinged = now
                await pubsub.ping()

    async def _reconnect(self) -> None:
        said = time.monotonic()
        while True:
            await self._drop_subscription()
            try:
                await self._subscribe()
                return
            except (RedisError, OSError, TimeoutError) as error:
                if time.monotonic() - said >= STILL_AWAY_LOG_EVERY_S:
                    said = time.monotonic()
                    log.warning("still no link to Redis (%s); retrying", type(error).__name__)
                await asyncio.sleep(RETRY_S)

    async def _told(self, up: bool) -> None:
        try:
            await self._on_state(up)
        except Exception:
            log.exception("could not act on the link to Redis going %s", "up" if up else "down")
