"""Where messages are kept: a small interface, and SQLite behind it.

The server only ever talks to a `MessageStore`, so a PostgreSQL store (or the
naive one-JSON-file store the benchmark compares against) drops in
without touching a handler. The default, `SQLiteStore`, is embedded: one file,
no service to run, which is what a classroom laptop wants.

Two promises every store keeps, because the exercise depends on them:

* **Committed before acknowledged.** `append` returns only once the message is
  durably stored, so a server killed right after an ack loses nothing it acked.
* **Idempotent on (chat, client id).** Appending a client id the chat already has
  returns the stored message and stores nothing new: that is what makes a retry,
  or a failover to a second transport, safe.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import sqlite3
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal, Protocol, TypeVar

from chatkit.live.wire import ms_to_datetime, now_ms
from chatkit.model import ServerMessage

T = TypeVar("T")

SCHEMA_VERSION = 1


class StoreError(Exception):
    """The store could not do what was asked (disk full, file locked, closed...)."""


class OneServerPerFile:
    """Server processes on one SQLite file either all share a message queue, or are alone.

    Several processes on one file keep the messages right (SQLite serialises the
    writers), but each broadcasts only to its own connections: two members of one
    chat, connected to different processes, would not hear each other, and nothing
    would say so. So a server without ``--redis`` holds the file alone, and servers
    with it (``shared``) hold it together, their broadcasts crossing through Redis;
    either kind refuses to start beside the other. The lock is the operating
    system's, on a file beside the database: it goes with the process, however that
    process ends. (Windows has no shared lock here: shared servers take none.)
    """

    def __init__(self, database: Path, *, shared: bool = False) -> None:
        self.database = database
        self.shared = shared
        self.path = database.with_name(database.name + ".serving")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")  # a folder that cannot be written fails here, as itself
        try:
            _lock(handle, shared=self.shared)
        except OSError:
            handle.close()
            raise StoreError(self._refusal()) from None
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file lets go of the lock
            self._file = None

    def _refusal(self) -> str:
        if self.shared:
            return (
                f"a chatkit server started without --redis is already serving {self.database}: "
                "it would not hear this one's broadcasts. Restart it with the same --redis "
                "URL, or give this one a database of its own (--db)."
            )
        return (
            f"another chatkit server is already serving {self.database}. A second process on "
            "the same file would not hear the first one's broadcasts, so its members would "
            "miss each other's messages: connect to the running server, give this one a "
            "database of its own (--db), or run every server with --redis redis://… so "
            "broadcasts cross between them (PostgreSQL, for servers on several hosts)."
        )


def _lock(handle: IO[str], *, shared: bool) -> None:
    """Take the file's lock now (exclusive, or shared with other shared holders), or
    raise OSError if another process holds it the other way."""
    if sys.platform == "win32":
        if not shared:
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)


@dataclass(frozen=True, slots=True)
class Appended:
    """The result of an append: the stored message, and whether this call stored it."""

    message: ServerMessage
    created: bool


@dataclass(frozen=True, slots=True)
class Page:
    """A slice of a chat's history, oldest first, and whether more lies beyond it."""

    messages: list[ServerMessage]
    has_more: bool


class MessageStore(Protocol):
    """What the server needs from storage. Sequence numbers come from here, not the
    handlers: handlers run concurrently, and only the store sees every append in order."""

    async def open(self) -> None:
        """Make the store ready (create tables, start workers). Called once at start-up."""
        ...

    async def close(self) -> None:
        """Finish pending appends and release the store. Called once at shutdown."""
        ...

    async def append(self, chat_id: str, client_id: str, author: str, body: str) -> Appended:
        """Store a message with the chat's next sequence number, or return the copy
        already stored under (chat_id, client_id). Returns only after it is committed."""
        ...

    async def page(
        self, chat_id: str, *, after: int | None = None, before: int | None = None, limit: int
    ) -> Page:
        """Up to ``limit`` messages, oldest first.

        With ``after``: the first ones whose seq is greater (paging forward, for a
        client catching up). Otherwise the newest ones whose seq is below ``before``
        (or the newest of all): the screenful a chat opens on, paging backwards.
        """
        ...

    async def check(self) -> None:
        """Raise `StoreError` if the store cannot serve reads right now (for /health)."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id          INTEGER PRIMARY KEY,
    chat_id     TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    client_id   TEXT    NOT NULL,
    author      TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,  -- milliseconds since the Unix epoch, UTC
    UNIQUE (chat_id, seq),
    UNIQUE (chat_id, client_id)
);
"""

_INSERT = """
INSERT INTO messages (chat_id, seq, client_id, author, body, created_at)
SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5 FROM messages WHERE chat_id = ?1
ON CONFLICT (chat_id, client_id) DO NOTHING
RETURNING id, chat_id, seq, client_id, author, body, created_at
"""

_EXISTING = """
SELECT id, chat_id, seq, client_id, author, body, created_at
FROM messages WHERE chat_id = ? AND client_id = ?
"""

_COLUMNS = "id, chat_id, seq, client_id, author, body, created_at"

Row = tuple[int, str, int, str, str, str, int]


def _message(row: Row) -> ServerMessage:
    id_, chat_id, seq, client_id, author, body, created_at = row
    return ServerMessage(id_, chat_id, seq, client_id, author, body, ms_to_datetime(created_at))


@dataclass(eq=False)
class _Pending:
    values: tuple[str, str, str, str]
    future: asyncio.Future[Appended] = field(repr=False)


class SQLiteStore:
    """Messages in one SQLite file, in WAL mode, with group commit.

    SQLite calls block, so they run on two threads of the store's own: one writer
    (SQLite allows one at a time anyway) and one reader (WAL lets reads proceed
    while a write commits), and the event loop never waits on the disk.

    Appends queue up while a commit is in progress and the next transaction
    takes them all (up to ``batch_max``): one disk sync for many messages. Under
    load that is what keeps ``synchronous=FULL`` — every ack durable even against
    a power cut — fast; with one client it costs nothing extra.

    The writer thread takes appends straight from a thread-safe queue and answers a
    whole batch in one callback on the loop. An ack waits for the disk, never for
    the event loop to come round to a hand-off: with ten busy clients, each turn of
    the loop took long enough that the hand-offs cost more than the commits.
    """

    def __init__(
        self,
        path: Path,
        *,
        synchronous: Literal["NORMAL", "FULL"] = "FULL",
        batch_max: int = 256,
        clock: Callable[[], int] = now_ms,
        shared: bool = False,
    ) -> None:
        self.path = path
        self.synchronous = synchronous
        self.batch_max = batch_max
        self._clock = clock
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="chatkit-sqlite-reader")
        self._write_db: sqlite3.Connection | None = None
        self._read_db: sqlite3.Connection | None = None
        self._inbox: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._closed = False
        self._serving = OneServerPerFile(path, shared=shared)
        """Held while open: alone, or (``shared``) with servers whose broadcasts cross."""

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._serving.acquire()
        connected: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._writer = threading.Thread(
            target=self._write_loop,
            args=(asyncio.get_running_loop(), connected),
            name="chatkit-sqlite-writer",
            daemon=True,
        )
        self._writer.start()
        await asyncio.wrap_future(connected)
        self._read_db = await self._on(self._reader, self._connect_reader)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._inbox.put(None)  # after every append already queued
            await asyncio.wrap_future(self._writer_done)
        if self._read_db is not None:
            await self._on(self._reader, self._read_db.close)
        self._reader.shutdown(wait=True)
        self._serving.release()

    async def append(self, chat_id: str, client_id: str, author: str, body: str) -> Appended:
        if self._closed or self._writer is None or self._writer_done.done():
            raise StoreError("the message store is not open")
        future: asyncio.Future[Appended] = asyncio.get_running_loop().create_future()
        self._inbox.put(_Pending((chat_id, client_id, author, body), future))
        return await future

    async def page(
        self, chat_id: str, *, after: int | None = None, before: int | None = None, limit: int
    ) -> Page:
        rows = await self._on(self._reader, self._read_page, chat_id, after, before, limit)
        has_more = len(rows) > limit
        # a backward page was fetched newest first; every page reads oldest first
        rows = rows[:limit] if after is not None else rows[:limit][::-1]
        return Page([_message(row) for row in rows], has_more)

    async def check(self) -> None:
        await self._on(self._reader, self._select_one)

    # Everything below runs on the store's threads, never on the event loop.

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        db.execute("PRAGMA busy_timeout = 5000")
        return db

    def _connect_writer(self) -> sqlite3.Connection:
        db = self._connect()
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path} cannot use WAL mode (got {mode!r})")
        db.execute(f"PRAGMA synchronous = {self.synchronous}")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise StoreError(f"{self.path} has schema version {version}; expected {SCHEMA_VERSION}")
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return db

    def _connect_reader(self) -> sqlite3.Connection:
        db = self._connect()
        db.execute("PRAGMA query_only = ON")
        return db

    def _write_batch(self, batch: list[tuple[str, str, str, str]]) -> list[Appended | StoreError]:
        """Store a batch in one IMMEDIATE transaction: one commit, one disk sync.

        A message the database refuses (text it cannot encode, say) fails alone: the
        batch is then written again, each message in a savepoint of its own, and the
        others are committed all the same. Only then, because a savepoint costs three
        statements more a message, and a refusal is rare (bodies are checked before
        they get here). ``ON CONFLICT DO NOTHING RETURNING`` returns no row for a
        client id already stored, so the stored copy is read back in the same
        transaction.
        """
        db = self._write_db
        if db is None:
            raise StoreError("the message store is not open")
        db.execute("BEGIN IMMEDIATE")
        try:
            try:
                results: list[Appended | StoreError] = [
                    self._write_one(db, *values) for values in batch
                ]
            except (sqlite3.Error, ValueError):  # UnicodeEncodeError is one
                db.execute("ROLLBACK")
                db.execute("BEGIN IMMEDIATE")
                results = self._write_alone(db, batch)
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        return results

    def _write_alone(
        self, db: sqlite3.Connection, batch: list[tuple[str, str, str, str]]
    ) -> list[Appended | StoreError]:
        """Write each message of ``batch`` in a savepoint of its own, inside the open
        transaction: one the database refuses becomes a `StoreError`, the others stay."""
        results: list[Appended | StoreError] = []
        for values in batch:
            db.execute("SAVEPOINT one")
            try:
                results.append(self._write_one(db, *values))
            except (sqlite3.Error, ValueError) as error:
                db.execute("ROLLBACK TO one")
                results.append(StoreError(f"the message could not be stored: {error}"))
            db.execute("RELEASE one")
        return results

    def _write_one(
        self, db: sqlite3.Connection, chat_id: str, client_id: str, author: str, body: str
    ) -> Appended:
        row = db.execute(_INSERT, (chat_id, client_id, author, body, self._clock()))
        inserted = row.fetchone()
        if inserted is not None:
            return Appended(_message(inserted), created=True)
        existing = db.execute(_EXISTING, (chat_id, client_id)).fetchone()
        if existing is None:  # pragma: no cover - the conflict guarantees a row
            raise StoreError(f"client id {client_id!r} conflicted but is not stored")
        return Appended(_message(existing), created=False)

    def _read_page(
        self, chat_id: str, after: int | None, before: int | None, limit: int
    ) -> list[Row]:
        db = self._read_db
        if db is None:
            raise StoreError("the message store is not open")
        if after is not None:
            query = (
                f"SELECT {_COLUMNS} FROM messages WHERE chat_id = ? AND seq > ? "
                "ORDER BY seq LIMIT ?"
            )
            return db.execute(query, (chat_id, after, limit + 1)).fetchall()
        query = (
            f"SELECT {_COLUMNS} FROM messages WHERE chat_id = ? AND seq < ? "
            "ORDER BY seq DESC LIMIT ?"
        )
        bound = before if before is not None else 2**63 - 1
        return db.execute(query, (chat_id, bound, limit + 1)).fetchall()

    def _select_one(self) -> None:
        db = self._read_db
        if db is None:
            raise StoreError("the message store is not open")
        db.execute("SELECT 1 FROM messages LIMIT 1").fetchall()

    # The writer thread.

    def _write_loop(
        self, loop: asyncio.AbstractEventLoop, connected: concurrent.futures.Future[None]
    ) -> None:
        """Connect, then take every append waiting, commit them together, and answer
        them all in one callback on ``loop``; until `close` queues its mark."""
        try:
            self._write_db = self._connect_writer()
        except BaseException as error:
            connected.set_exception(error)
            self._writer_done.set_result(None)
            return
        connected.set_result(None)
        try:
            stopping = False
            while not stopping:
                first = self._inbox.get()
                if first is None:
                    break
                batch = [first]
                while len(batch) < self.batch_max:
                    try:
                        item = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stopping = True
                        break
                    batch.append(item)
                results: list[Appended | StoreError]
                try:
                    results = self._write_batch([item.values for item in batch])
                except Exception as error:  # every waiting sender hears about it
                    reason = f"the message could not be stored: {error}"
                    results = [StoreError(reason) for _ in batch]
                with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                    loop.call_soon_threadsafe(_answer, batch, results)
        finally:
            self._write_db.close()
            self._writer_done.set_result(None)

    @staticmethod
    async def _on(pool: ThreadPoolExecutor, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, function, *args)


def _answer(batch: list[_Pending], results: list[Appended | StoreError]) -> None:
    """On the event loop: hand each sender in ``batch`` its result."""
    for item, result in zip(batch, results, strict=True):
        if item.future.done():  # its sender may have given up waiting
            continue
        if isinstance(result, StoreError):
            item.future.set_exception(result)
        else:
            item.future.set_result(result)
