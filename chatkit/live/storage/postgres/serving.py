"""No silent split on PostgreSQL either: servers on one database all share Redis, or one
is alone.

Many processes on one database keep the messages right, but without ``--redis`` each
broadcasts only to its own connections, so members connected to different servers
would miss each other's messages and nothing would say so. As with SQLite's file lock
(`chatkit.live.storage.messages.OneServerPerFile`), a server without ``--redis`` holds the
database alone and servers with it hold it together. The lock is a PostgreSQL
session-level advisory lock on a connection kept for it: it goes with that connection,
however its process ends, on whichever host. A host that vanished without closing it
(a power cut) lets go within about half a minute, once PostgreSQL's TCP keepalives on
that connection give up.
"""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]

from chatkit.live.storage.locations import shown
from chatkit.live.storage.messages import StoreError

_KEY = 0x63686174  # any fixed number, the same in every chatkit server
_KEEPALIVES = (
    "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3"
)
"""PostgreSQL's side gives up on a silent holder after ~25 s (its default: the OS's, hours)."""
WAIT_S = 2.0
"""How long a server waits for the lock before it refuses to start (at least 1 ms)."""


class OneServerPerDatabase:
    def __init__(self, url: str, *, shared: bool = False, wait_s: float = WAIT_S) -> None:
        self.url = url
        self.shared = shared
        self.wait_s = wait_s
        self._holder: asyncpg.Connection | None = None

    async def acquire(self) -> None:
        """Take the lock now, or raise `StoreError` saying who holds it and what to do."""
        try:
            holder = await asyncpg.connect(self.url)
        except (OSError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise StoreError(
                f"cannot connect to PostgreSQL at {shown(self.url)}: {error}"
            ) from None
        take = "pg_advisory_lock_shared" if self.shared else "pg_advisory_lock"
        try:
            # A server killed a moment ago may still hold the lock until PostgreSQL sees
            # its connection close: wait that long, not for ever.
            await holder.execute(_KEEPALIVES)
            await holder.execute(f"SET lock_timeout = {max(1, int(self.wait_s * 1000))}")
            await holder.execute(f"SELECT {take}($1)", _KEY)
            await holder.execute("RESET lock_timeout")
        except asyncpg.LockNotAvailableError:
            await holder.close()
            raise StoreError(self._refusal()) from None
        except BaseException:
            await holder.close()
            raise
        self._holder = holder

    async def release(self) -> None:
        if self._holder is not None:
            holder, self._holder = self._holder, None
            await holder.close()  # the lock goes with the connection

    def _refusal(self) -> str:
        where = shown(self.url)
        if self.shared:
            return (
                f"a chatkit server started without --redis is already serving {where}: it "
                "would not hear this one's broadcasts. Restart it with the same --redis URL, "
                "or give this one a database of its own (--db)."
            )
        return (
            f"another chatkit server is already serving {where}, and without --redis this "
            "one would not hear its broadcasts, so their members would miss each other's "
            "messages: run every server on this database with --redis redis://…, or give "
            "this one a database of its own (--db)."
        )
