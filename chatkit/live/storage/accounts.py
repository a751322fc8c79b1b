"""Accounts, sessions and chat membership, kept in the server's SQLite file.

Who may say they are whom, and who may read which chat, must survive a restart
as surely as the messages do, so they live in the database next to them:

- ``users``: a name and its scrypt password hash (`chatkit.live.storage.passwords`);
- ``sessions``: the SHA-256 of each session token, whose it is and when it
  expires; signing out deletes the row, so a revoked token is gone for good;
- ``chats``: the private chats, their creator and the digest of their invite code;
- ``members``: who is in which chat (public chats too, once joined);
- ``invites``: invitations by name not yet accepted. An invite makes nobody a member:
  the invitee accepts it (or declines), so nobody can be put in chats, up to the cap
  on how many one may be in, without consent.

The server and ``chatkit accounts`` talk to an `Accounts`: `AccountStore` runs the
functions below (on a `sqlite3.Connection`) on a thread of its own, so neither a
disk read nor a password check ever blocks the event loop;
`chatkit.live.storage.postgres.accounts` keeps the same tables in PostgreSQL, shared by
several server processes.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from chatkit.live.storage.passwords import dummy_hash, hash_password, token_digest, verify_password
from chatkit.live.wire import now_ms

T = TypeVar("T")

PRIVATE_PREFIX = "private-"
"""Every private chat's id starts so, and no public chat's may: a private chat is never
created by joining a name, so a join cannot tell whether one exists."""
TOKEN_BYTES = 24
INVITE_BYTES = 12
MAX_PENDING_INVITES = 100
"""Invitations one person may have waiting; more are dropped (the inviter is not told,
as they are not told whether the account exists)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name        TEXT PRIMARY KEY,
    password    TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash  TEXT PRIMARY KEY,
    user        TEXT NOT NULL REFERENCES users (name),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chats (
    chat_id     TEXT PRIMARY KEY,
    creator     TEXT NOT NULL,
    invite_hash TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    chat_id     TEXT NOT NULL,
    user        TEXT NOT NULL,
    PRIMARY KEY (chat_id, user)
);
CREATE INDEX IF NOT EXISTS members_by_user ON members (user);
CREATE TABLE IF NOT EXISTS invites (
    chat_id     TEXT NOT NULL,
    user        TEXT NOT NULL,
    inviter     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (user, chat_id)
);
"""


class AccountError(Exception):
    """An account that cannot be made as asked (the name is taken, say)."""


@dataclass(frozen=True, slots=True)
class PrivateChat:
    chat_id: str
    invite_code: str


class Accounts(Protocol):
    """What the server and ``chatkit accounts`` need from the account tables.

    Sessions are named by the SHA-256 digest of their token (its ``key``): the token
    itself is only ever the client's.
    """

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def create_users(
        self, accounts: Iterable[tuple[str, str]], *, replace: bool = False
    ) -> int:
        """Add accounts in one transaction, all or none (`AccountError` for a name taken);
        with ``replace``, set new passwords, which signs out their old sessions. How many."""
        ...

    async def user_names(self) -> list[str]:
        """Every account's name, sorted."""
        ...

    async def user_exists(self, name: str) -> bool: ...

    async def check_password(self, name: str, password: str) -> bool:
        """Whether it matches; as slow for an unknown name as for a known one."""
        ...

    async def new_session(self, name: str, ttl_s: float) -> tuple[str, int]:
        """A fresh session token for ``name`` and its expiry (ms since the epoch)."""
        ...

    async def session(self, key: str) -> tuple[str, int] | None:
        """Whose session ``key`` is and when it expires; None if unknown, expired or revoked."""
        ...

    async def live_sessions(self, keys: list[str]) -> dict[str, int]:
        """Of ``keys``, those still valid, with their expiry."""
        ...

    async def revoke(self, key: str) -> None:
        """Sign a session out for good."""
        ...

    async def chats_of(self, names: list[str]) -> dict[str, set[str]]:
        """The chats each of these users is a member of (every name is a key)."""
        ...

    async def add_member(self, chat_id: str, name: str) -> None: ...

    async def remove_member(self, chat_id: str, name: str) -> None: ...

    async def create_private_chat(self, creator: str) -> PrivateChat:
        """A new private chat with an unguessable id and invite code; its creator is in it."""
        ...

    async def new_invite_code(self, chat_id: str) -> str:
        """Replace a private chat's invite code (the old one stops working)."""
        ...

    async def redeem_invite(self, code: str, name: str) -> str | None:
        """Join the private chat an invite code opens; its id, or None for no such code."""
        ...

    async def add_invite(self, chat_id: str, name: str, inviter: str) -> bool:
        """Invite ``name`` into a chat, pending their consent; whether an invite was added
        (not if there is no such account, they are in the chat already, were invited into
        it already, or have `MAX_PENDING_INVITES` waiting)."""
        ...

    async def pending_invites(self, name: str) -> list[tuple[str, str]]:
        """The chats ``name`` is invited into and has not answered, with who invited them."""
        ...

    async def take_invite(self, chat_id: str, name: str) -> bool:
        """Accept a pending invite: ``name`` becomes a member. False if there was none."""
        ...

    async def decline_invite(self, chat_id: str, name: str) -> None: ...


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the server's database with the account tables in place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 5000")
    db.execute("PRAGMA journal_mode = WAL")
    db.executescript(SCHEMA)
    return db


def create_user(db: sqlite3.Connection, name: str, password: str, *, replace: bool = False) -> None:
    """Add an account (or, with ``replace``, set a new password for an existing one)."""
    hashed = hash_password(password)
    try:
        if replace:
            db.execute(
                "INSERT INTO users (name, password, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET password = excluded.password",
                (name, hashed, now_ms()),
            )
        else:
            db.execute(
                "INSERT INTO users (name, password, created_at) VALUES (?, ?, ?)",
                (name, hashed, now_ms()),
            )
    except sqlite3.IntegrityError:
        raise AccountError(f"there is already an account named {name!r}") from None
    if replace:  # a new password signs out every old session
        db.execute("DELETE FROM sessions WHERE user = ?", (name,))


def password_hash(db: sqlite3.Connection, name: str) -> str | None:
    row = db.execute("SELECT password FROM users WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


def check_password(db: sqlite3.Connection, name: str, password: str) -> bool:
    return password_matches(password, password_hash(db, name))


def password_matches(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches; as slow for an unknown user (``stored`` None) as a known."""
    return verify_password(password, stored or dummy_hash()) and stored is not None


def user_exists(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is not None


def new_session(db: sqlite3.Connection, name: str, ttl_s: float) -> tuple[str, int]:
    """A fresh session token for ``name`` and its expiry (ms since the epoch)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = now_ms()
    expires = now + int(ttl_s * 1000)
    db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))  # tidy as we go
    db.execute(
        "INSERT INTO sessions (token_hash, user, created_at, expires_at) VALUES (?, ?, ?, ?)",
        (token_digest(token), name, now, expires),
    )
    return token, expires


def session_user(db: sqlite3.Connection, token: str) -> tuple[str, int] | None:
    """Whose session ``token`` is and when it expires, or None (unknown, expired, revoked)."""
    return session_of_key(db, token_digest(token))


def session_of_key(db: sqlite3.Connection, key: str) -> tuple[str, int] | None:
    """`session_user`, by the digest of the token."""
    row = db.execute(
        "SELECT user, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?",
        (key, now_ms()),
    ).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def live_sessions(db: sqlite3.Connection, keys: list[str]) -> dict[str, int]:
    """Of these session keys, the ones still valid, with their expiry."""
    now, alive = now_ms(), {}
    for key in keys:
        row = db.execute(
            "SELECT expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?", (key, now)
        ).fetchone()
        if row is not None:
            alive[key] = int(row[0])
    return alive


def user_names(db: sqlite3.Connection) -> list[str]:
    return [str(row[0]) for row in db.execute("SELECT name FROM users ORDER BY name")]


def revoke(db: sqlite3.Connection, token_hash: str) -> None:
    """Sign a session out for good (by the digest of its token)."""
    db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))


def chats_of(db: sqlite3.Connection, name: str) -> set[str]:
    return {row[0] for row in db.execute("SELECT chat_id FROM members WHERE user = ?", (name,))}


def add_member(db: sqlite3.Connection, chat_id: str, name: str) -> None:
    db.execute("INSERT OR IGNORE INTO members (chat_id, user) VALUES (?, ?)", (chat_id, name))


def remove_member(db: sqlite3.Connection, chat_id: str, name: str) -> None:
    db.execute("DELETE FROM members WHERE chat_id = ? AND user = ?", (chat_id, name))


def create_private_chat(db: sqlite3.Connection, creator: str) -> PrivateChat:
    """A new private chat with an unguessable id and invite code; its creator is in it."""
    chat = PrivateChat(
        PRIVATE_PREFIX + secrets.token_urlsafe(9), secrets.token_urlsafe(INVITE_BYTES)
    )
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "INSERT INTO chats (chat_id, creator, invite_hash, created_at) VALUES (?, ?, ?, ?)",
            (chat.chat_id, creator, token_digest(chat.invite_code), now_ms()),
        )
        add_member(db, chat.chat_id, creator)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return chat


def new_invite_code(db: sqlite3.Connection, chat_id: str) -> str:
    """Replace a private chat's invite code (the old one stops working)."""
    code = secrets.token_urlsafe(INVITE_BYTES)
    db.execute("UPDATE chats SET invite_hash = ? WHERE chat_id = ?", (token_digest(code), chat_id))
    return code


def redeem_invite(db: sqlite3.Connection, code: str, name: str) -> str | None:
    """Join the private chat an invite code opens; its id, or None for no such code."""
    row = db.execute(
        "SELECT chat_id FROM chats WHERE invite_hash = ?", (token_digest(code),)
    ).fetchone()
    if row is None:
        return None
    add_member(db, row[0], name)
    return str(row[0])


def add_invite(db: sqlite3.Connection, chat_id: str, name: str, inviter: str) -> bool:
    """`Accounts.add_invite` in one statement, so two invites at once cannot both pass the
    checks and exceed the bound."""
    added = db.execute(
        "INSERT OR IGNORE INTO invites (chat_id, user, inviter, created_at) "
        "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE name = ?) "
        "AND NOT EXISTS (SELECT 1 FROM members WHERE chat_id = ? AND user = ?) "
        "AND (SELECT count(*) FROM invites WHERE user = ?) < ?",
        (chat_id, name, inviter, now_ms(), name, chat_id, name, name, MAX_PENDING_INVITES),
    ).rowcount
    return bool(added)


def pending_invites(db: sqlite3.Connection, name: str) -> list[tuple[str, str]]:
    rows = db.execute(
        "SELECT chat_id, inviter FROM invites WHERE user = ? ORDER BY created_at, chat_id",
        (name,),
    )
    return [(str(chat_id), str(inviter)) for chat_id, inviter in rows]


def take_invite(db: sqlite3.Connection, chat_id: str, name: str) -> bool:
    db.execute("BEGIN IMMEDIATE")
    try:
        taken = db.execute(
            "DELETE FROM invites WHERE chat_id = ? AND user = ?", (chat_id, name)
        ).rowcount
        if taken:
            add_member(db, chat_id, name)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return bool(taken)


def decline_invite(db: sqlite3.Connection, chat_id: str, name: str) -> None:
    db.execute("DELETE FROM invites WHERE chat_id = ? AND user = ?", (chat_id, name))


def create_users(
    db: sqlite3.Connection, accounts: Iterable[tuple[str, str]], *, replace: bool = False
) -> int:
    """Add many accounts in one transaction (all or none); how many."""
    count = 0
    db.execute("BEGIN IMMEDIATE")
    try:
        for name, password in accounts:
            create_user(db, name, password, replace=replace)
            count += 1
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return count


class AccountStore:
    """`Accounts` in a SQLite file: the functions above on one connection on one thread,
    and password checks on threads of their own (scrypt lets go of the GIL, so a class
    signing in at once uses every core, and the database thread is never held up)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="chatkit-sqlite-accounts")
        self._hashing = ThreadPoolExecutor(
            min(4, os.cpu_count() or 1), thread_name_prefix="chatkit-passwords"
        )
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._db = await self._on(lambda: connect(self.path))

    async def close(self) -> None:
        if self._db is not None:
            await self._on(self._db.close)
            self._db = None
        self._pool.shutdown(wait=True)
        self._hashing.shutdown(wait=True)

    async def check_password(self, name: str, password: str) -> bool:
        stored = await self.run(password_hash, name)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._hashing, password_matches, password, stored)

    async def create_users(
        self, accounts: Iterable[tuple[str, str]], *, replace: bool = False
    ) -> int:
        rows = list(accounts)
        return await self.run(lambda db: create_users(db, rows, replace=replace))

    async def user_names(self) -> list[str]:
        return await self.run(user_names)

    async def user_exists(self, name: str) -> bool:
        return await self.run(user_exists, name)

    async def new_session(self, name: str, ttl_s: float) -> tuple[str, int]:
        return await self.run(new_session, name, ttl_s)

    async def session(self, key: str) -> tuple[str, int] | None:
        return await self.run(session_of_key, key)

    async def live_sessions(self, keys: list[str]) -> dict[str, int]:
        return await self.run(live_sessions, keys)

    async def revoke(self, key: str) -> None:
        await self.run(revoke, key)

    async def chats_of(self, names: list[str]) -> dict[str, set[str]]:
        return await self.run(lambda db: {name: chats_of(db, name) for name in names})

    async def add_member(self, chat_id: str, name: str) -> None:
        await self.run(add_member, chat_id, name)

    async def remove_member(self, chat_id: str, name: str) -> None:
        await self.run(remove_member, chat_id, name)

    async def create_private_chat(self, creator: str) -> PrivateChat:
        return await self.run(create_private_chat, creator)

    async def new_invite_code(self, chat_id: str) -> str:
        return await self.run(new_invite_code, chat_id)

    async def redeem_invite(self, code: str, name: str) -> str | None:
        return await self.run(redeem_invite, code, name)

    async def add_invite(self, chat_id: str, name: str, inviter: str) -> bool:
        return await self.run(add_invite, chat_id, name, inviter)

    async def pending_invites(self, name: str) -> list[tuple[str, str]]:
        return await self.run(pending_invites, name)

    async def take_invite(self, chat_id: str, name: str) -> bool:
        return await self.run(take_invite, chat_id, name)

    async def decline_invite(self, chat_id: str, name: str) -> None:
        await self.run(decline_invite, chat_id, name)

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """``function(db, *args)`` on the store's thread."""
        db = self._db
        if db is None:
            raise RuntimeError("the account store is not open")
        return await self._on(lambda: function(db, *args))

    async def _on(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)
