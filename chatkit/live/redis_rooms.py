"""Socket.IO rooms that span server processes: python-socketio's Redis manager, made ready.

With ``--redis``, every server process hands its broadcasts to python-socketio's
`socketio.AsyncRedisManager`: an emit to a chat's room reaches that room's
connections on this process at once and is published on a Redis channel, from
which every other process delivers it to its own connections in the room. Rooms
stay each process's own; only the emits cross. So a member hears each message of
their chats once, whichever process they are connected to.

Two things the plain manager leaves open, `RedisRooms` closes:

- **Listening before the first connection.** python-socketio subscribes to the
  channel when the first client connects, in the background, so that client
  could miss what is published before the subscription lands. `start` subscribes
  when the server starts and returns only once a probe published on the channel
  has come back to this process.
- **Slow readers everywhere.** A process sheds the connections that stopped
  reading after each broadcast it makes (`chatkit.live.frames`); one heard from
  another process is followed by the same check here.
"""

from __future__ import annotations

import asyncio
import contextlib

import socketio  # type: ignore[import-untyped]
from redis.connection import parse_url

PROBE_EVERY_S = 0.05
"""How often `RedisRooms.start` publishes its probe until one comes back."""
CHECK_TIMEOUT_S = 5.0
"""How long `check_redis` waits for Redis to answer."""


def redis_database(url: str) -> int:
    """The database number a Redis URL names (0 when it names none).

    Redis's publish/subscribe channels are the same in every database, so the
    channels are named after it: servers on one Redis but different databases
    (``redis://host/1``, ``redis://host/2``) are separate, as their keys are."""
    db = parse_url(url).get("db", 0)  # type: ignore[no-untyped-call]
    return int(db) if isinstance(db, int | str) else 0


def check_redis(url: str) -> None:
    """Raise OSError, saying what to do, unless a Redis answers at ``url`` (so a server
    that cannot share its broadcasts says so before it opens a port)."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT_S)
    except ValueError as error:  # not a Redis URL
        raise OSError(f"--redis {url}: {error}") from None
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        raise OSError(
            f"no Redis answers at {url} ({error}) — start redis-server, or check the --redis URL"
        ) from None
    finally:
        client.close()


class RedisRooms(socketio.AsyncRedisManager):  # type: ignore[misc]
    """The client manager of a server that shares broadcasts through Redis."""

    def __init__(self, url: str, *, max_queued_packets: int) -> None:
        super().__init__(url, channel=f"chatkit:{redis_database(url)}:socketio")
        self.max_queued_packets = max_queued_packets

    async def start(self, timeout: float) -> None:
        """Subscribe now, and return once this process hears the channel.

        The probe is an ack addressed to this process itself (python-socketio's own
        cross-process ack message), so nothing reaches any client. Raises OSError if
        no probe comes back within ``timeout`` seconds (Redis is unreachable)."""
        self.server.manager_initialized = True  # python-socketio would do it at first connect
        self.initialize()
        heard = asyncio.Event()
        probe = f"chatkit-probe-{self.host_id}"
        try:
            async with asyncio.timeout(timeout):
                while not heard.is_set():
                    ack_id = self._generate_ack_id(probe, heard.set)
                    await self._publish(
                        {
                            "method": "callback",
                            "host_id": self.host_id,
                            "sid": probe,
                            "namespace": "/",
                            "id": ack_id,
                            "args": [],
                        }
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(heard.wait(), PROBE_EVERY_S)
        except TimeoutError:
            raise OSError(f"cannot reach Redis at {self.redis_url}") from None
        finally:
            self.callbacks.pop(probe, None)  # a late probe is ignored (with a warning)

    async def _handle_emit(self, message: dict[str, object]) -> None:
        """Deliver an emit to this process's connections; shed slow readers after one
        that came from another process (this process's own are shed by their sender)."""
        await super()._handle_emit(message)
        if message.get("host_id") != self.host_id:
            room = message.get("room")
            await self.server.shed_slow_readers(
                self.max_queued_packets, room if isinstance(room, str) else None
            )
