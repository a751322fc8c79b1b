"""Messages in PostgreSQL: the `MessageStore` for several server processes at once.

The promises are SQLite's (`chatkit.live.storage.messages`), kept across processes:

* **Committed before acknowledged**: `append` returns after its transaction commits.
* **Idempotent on (chat, client id)**: a unique constraint, and the stored copy is
  returned instead of a second row.
* **Gap-free seq per chat**: each chat has a counter row in ``chat_seq``. An append
  bumps it with ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` and inserts the
  message with that number, in one statement and one transaction; the row's lock,
  held until commit, orders the writers of one chat, and a rollback takes the bump
  back with it. (A PostgreSQL SEQUENCE would not: it skips the numbers of rolled-back
  transactions.) A client id already stored makes the insert do nothing; the
  transaction is then rolled back, bump and all, and the stored copy read. One
  statement under the lock, not three, is what lets one busy chat take over twice the
  appends. Writers of different chats never wait for each other.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg  # type: ignore[import-untyped]

from chatkit.live.storage.messages import Appended, Page, StoreError
from chatkit.live.storage.postgres.schema import open_pool
from chatkit.live.storage.postgres.serving import WAIT_S, OneServerPerDatabase
from chatkit.live.wire import ms_to_datetime, now_ms
from chatkit.model import ServerMessage

_COLUMNS = "id, chat_id, seq, client_id, author, body, created_at"

_APPEND = f"""
WITH bump AS (
    INSERT INTO chat_seq AS counter (chat_id, last_seq) VALUES ($1, 1)
    ON CONFLICT (chat_id) DO UPDATE SET last_seq = counter.last_seq + 1
    RETURNING last_seq
)
INSERT INTO messages (chat_id, seq, client_id, author, body, created_at)
SELECT $1::text, last_seq, $2::text, $3::text, $4::text, $5::bigint FROM bump
ON CONFLICT (chat_id, client_id) DO NOTHING
RETURNING {_COLUMNS}
"""
_EXISTING = f"SELECT {_COLUMNS} FROM messages WHERE chat_id = $1 AND client_id = $2"
_AFTER = f"SELECT {_COLUMNS} FROM messages WHERE chat_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
_BEFORE = (
    f"SELECT {_COLUMNS} FROM messages WHERE chat_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
)

_FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, ValueError)
"""What a store call may meet: the server refusing, the connection gone, text it cannot
encode (UnicodeEncodeError is a ValueError)."""


class _AlreadyStored(Exception):
    """Leaves the append's transaction, rolling back its counter bump."""


def _message(row: asyncpg.Record) -> ServerMessage:
    return ServerMessage(
        row["id"],
        row["chat_id"],
        row["seq"],
        row["client_id"],
        row["author"],
        row["body"],
        ms_to_datetime(row["created_at"]),
    )


class PostgresStore:
    """Messages in a PostgreSQL database, through a pool of asyncpg connections."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        shared: bool = False,
        lock_wait_s: float = WAIT_S,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        self._clock = clock
        self._pool: asyncpg.Pool | None = None
        self._serving = OneServerPerDatabase(url, shared=shared, wait_s=lock_wait_s)
        """``shared``: other servers on the database share Redis with this one."""

    async def open(self) -> None:
        await self._serving.acquire()
        try:
            self._pool = await open_pool(self.url, max_size=self.pool_size)
        except BaseException:
            await self._serving.release()
            raise

    async def close(self) -> None:
        """Wait for the appends in progress (each holds a connection), then close."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        await self._serving.release()

    async def append(self, chat_id: str, client_id: str, author: str, body: str) -> Appended:
        pool = self._opened()
        try:
            async with pool.acquire() as db:
                try:
                    async with db.transaction():
                        values = (chat_id, client_id, author, body, self._clock())
                        inserted = await db.fetchrow(_APPEND, *values)
                        if inserted is None:  # the client id is stored: undo the bump
                            raise _AlreadyStored
                        return Appended(_message(inserted), created=True)
                except _AlreadyStored:
                    # After the rollback, a fresh statement sees the copy that conflicted.
                    existing = await db.fetchrow(_EXISTING, chat_id, client_id)
                    if existing is None:  # pragma: no cover - a stored message is never deleted
                        message = f"client id {client_id!r} conflicted but is not stored"
                        raise StoreError(message) from None
                    return Appended(_message(existing), created=False)
        except _FAILURES as error:
            raise StoreError(f"the message could not be stored: {error}") from None

    async def page(
        self, chat_id: str, *, after: int | None = None, before: int | None = None, limit: int
    ) -> Page:
        pool = self._opened()
        try:
            if after is not None:
                rows = await pool.fetch(_AFTER, chat_id, after, limit + 1)
            else:
                bound = before if before is not None else 2**63 - 1
                rows = await pool.fetch(_BEFORE, chat_id, bound, limit + 1)
        except _FAILURES as error:
            raise StoreError(f"the history could not be read: {error}") from None
        has_more = len(rows) > limit
        # a backward page was fetched newest first; every page reads oldest first
        rows = rows[:limit] if after is not None else rows[:limit][::-1]
        return Page([_message(row) for row in rows], has_more)

    async def check(self) -> None:
        try:
            await self._opened().fetchval("SELECT 1")
        except _FAILURES as error:
            raise StoreError(f"PostgreSQL does not answer: {error}") from None

    def _opened(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("the message store is not open")
        return self._pool
