"""Who is who: signed-in sessions, the chats their users are in, their live connections.

The server never believes a name in a message payload. A client signs in once
(``login`` over Socket.IO, or ``POST /api/login``) with an account's name and
password, and gets a session token; from then on its messages are signed with
the session's user, and it may read and post only in the chats that user is a
member of.

Sessions are kept in the database (`chatkit.live.storage.accounts`: the token's digest,
the user, an expiry), so they survive a restart and signing out revokes them for
good. This registry is a bounded cache in front of it: forgetting a cached
session costs one database read the next time it is used, never a sign-out, so
the cache may drop any session without a live connection, however recently used.

Several server processes may share the database (PostgreSQL, say), and any of them
may sign a session out or change who is in a chat, so the cache never has the last
word. Every use of a token (each HTTP request, a Socket.IO sign-in by token) reads
the session's row: a token revoked anywhere fails at once. Sessions bound to live
Socket.IO connections are not looked up per event; `SessionRegistry.recheck` reads
theirs, and their users' chats, in two queries, and the server runs it every
``session_recheck_s``: that is how long a connection on another process may outlive
its sign-out, or miss a chat it was let into. A user's chats are also re-read when
a token is used and they are older than that.

One session may have several Socket.IO connections (a reconnect overlapping the
old one, say) and an HTTP client holding the same token (the failover
transport): they are all the same device. The chats a session *listens to*
(``rooms``) are the session's; the chats a user *may read* (``account.chats``)
are the user's, on every device.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from chatkit.live.server.errors import NotMember, NotRegistered, Unavailable
from chatkit.live.server.limits import Limits
from chatkit.live.storage.accounts import Accounts
from chatkit.live.storage.passwords import token_digest
from chatkit.live.wire import now_ms

WRONG_LOGIN = "wrong user name or password"
NOT_SIGNED_IN = "sign in first (the session is unknown, has expired or was signed out)"


def not_member(chat_id: str) -> NotMember:
    """The one answer for a chat one may not see, whether or not it exists."""
    return NotMember(
        f"{chat_id!r} is not a chat you are in (join a public chat first; "
        "a private one needs an invite)"
    )


@dataclass(eq=False)
class Account:
    """A user, shared by all of their sessions: the chats they are a member of."""

    name: str
    chats: set[str]
    read_at: float = field(default_factory=time.monotonic)
    """When ``chats`` was read from the database (monotonic seconds)."""
    sessions: int = 0
    """How many of this user's sessions are cached (the account is dropped with the last)."""
    joining: int = 0
    """Chats being joined, made or entered by invite right now: they count against the
    limit before they are in ``chats``, so joins at once cannot pass it together."""


@dataclass(eq=False)
class Session:
    key: str
    """The digest of the session token (the token itself is only ever the client's)."""
    account: Account
    expires_at_ms: int
    rooms: set[str] = field(default_factory=set)
    """The chats this session's connections hear messages from."""
    sids: set[str] = field(default_factory=set)
    """The Socket.IO connections bound to this session right now."""

    @property
    def user(self) -> str:
        return self.account.name

    def require_member(self, chat_id: str) -> None:
        if chat_id not in self.account.chats:
            raise not_member(chat_id)

    def expired(self) -> bool:
        return now_ms() >= self.expires_at_ms


@dataclass(frozen=True, slots=True)
class Rechecked:
    """What `SessionRegistry.recheck` found changed in the database."""

    revoked: list[tuple[Session, list[str]]]
    """Sessions signed out (or expired) elsewhere, each with the connections it had."""
    left: list[tuple[Session, str]]
    """Chats a cached session listened to whose user is no longer a member."""


class SessionRegistry:
    """Every cached session by token digest and by connection, in front of the database."""

    def __init__(
        self,
        store: Accounts,
        max_cached: int,
        *,
        ttl_s: float,
        recheck_s: float = 2.0,
        limits: Limits | None = None,
    ) -> None:
        self.store = store
        self.limits = limits or Limits(max_keys=max_cached)
        """The budgets, by account and by address: a new session or connection resets none."""
        self._checking = 0
        """Password checks under way (`Limits.max_checks` bounds them)."""
        self._checking_from: Counter[str] = Counter()
        """The password checks running now, by the address that asked."""
        self.max_cached = max_cached
        self.ttl_s = ttl_s
        self.recheck_s = recheck_s
        self._by_key: OrderedDict[str, Session] = OrderedDict()
        self._by_sid: dict[str, Session] = {}
        self._accounts: dict[str, Account] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    async def login(self, user: str, password: str, address: str = "") -> tuple[Session, str]:
        """Check the password and open a new session; the session and its token.

        The check is charged to the address, and to the account until it turns out
        right: a wrong password keeps its charge, a right one gets it back. Charged
        before the check, so a burst of guesses in parallel is limited as one in a row.
        From an address the account signed in from before, the account's charge goes to
        a budget of that place's own (`Limits.guess_budget`).
        """
        if self._checking >= self.limits.max_checks:
            raise Unavailable("the server is busy checking passwords; try again in a moment")
        if self._checking_from[address] >= max(1, self.limits.max_checks // 4):
            raise Unavailable(  # one address never takes every check the server can run
                "too many passwords from this address are being checked; try again in a moment"
            )
        self.limits.attempts.charge(address)
        budget, key = self.limits.guess_budget(user, address)
        budget.charge(key)
        self._checking += 1
        self._checking_from[address] += 1
        try:
            right = await self.store.check_password(user, password)
        finally:
            self._checking -= 1
            self._checking_from[address] -= 1
            if not self._checking_from[address]:
                del self._checking_from[address]
        if not right:
            raise NotRegistered(WRONG_LOGIN)
        budget.refund(key)
        self.limits.signed_in(user, address)
        token, expires = await self.store.new_session(user, self.ttl_s)
        return await self._cache(token_digest(token), user, expires), token

    async def find(self, token: object) -> Session | None:
        """The session a token names, or None (unknown, expired or signed out, by any
        process on the database: the row is read every time)."""
        if not isinstance(token, str) or not token or not token.isascii() or len(token) > 256:
            return None  # no token this server made (they are short and plain ASCII)
        key = token_digest(token)
        found = await self.store.session(key)
        cached = self._by_key.get(key)
        if found is None:
            if cached is not None and not cached.sids:  # bound ones go with `recheck`
                self._forget(cached)
            return None
        session = await self._cache(key, *found)
        session.expires_at_ms = found[1]
        if time.monotonic() - session.account.read_at >= self.recheck_s:
            await self._reread_chats([session.account])
        return session

    async def by_token(self, token: object, address: str = "") -> Session:
        """The session a token names; `NotRegistered` if none does (any more).

        A request whose token names no session is one not signed in, so it is charged
        to ``address``: guessing tokens, or sending stale ones in a loop, meets a limit
        like everything else. Charged once found unknown, so good tokens from the same
        address (a class behind one NAT) never pay for someone's made-up ones.
        """
        session = await self.find(token)
        if session is None:
            self.limits.strangers.charge(address)
            raise NotRegistered(NOT_SIGNED_IN)
        return session

    def charge(self, session: Session) -> None:
        """Count one request against its account, whichever session or transport made it."""
        self.limits.requests.charge(session.user)

    def charge_stranger(self, address: str) -> None:
        """Count one request of a connection not signed in against its address."""
        self.limits.strangers.charge(address)

    async def logout(self, session: Session) -> list[str]:
        """Revoke the session for good; the connections it had, now signed out."""
        await self.store.revoke(session.key)
        sids = sorted(session.sids)
        for sid in sids:
            self.unbind(sid)
        self._forget(session)
        return sids

    def by_sid(self, sid: str) -> Session:
        """The session bound to a Socket.IO connection; `NotRegistered` if none is."""
        session = self._by_sid.get(sid)
        if session is None or session.expired():
            raise NotRegistered("sign in first: send 'login' with your user name and password")
        self._touch(session)
        return session

    def bound(self, sid: str) -> Session | None:
        return self._by_sid.get(sid)

    def bind(self, sid: str, session: Session) -> Session | None:
        """Attach a connection to a session; return the session it was attached to before."""
        previous = self.unbind(sid)
        session.sids.add(sid)
        self._by_sid[sid] = session
        self._touch(session)
        return previous

    def unbind(self, sid: str) -> Session | None:
        session = self._by_sid.pop(sid, None)
        if session is not None:
            session.sids.discard(sid)
        return session

    def account(self, name: str) -> Account | None:
        """A user's cached account, if one of their sessions is cached."""
        return self._accounts.get(name)

    def sessions_of(self, user: str) -> list[Session]:
        """The user's cached sessions: every device they are signed in on right now."""
        return [session for session in self._by_key.values() if session.user == user]

    def active_users(self) -> list[str]:
        """The users with at least one live connection, each once, sorted."""
        return sorted({session.user for session in self._by_sid.values()})

    async def recheck(self) -> Rechecked:
        """Read the database again for every session with a live connection: forget those
        signed out or expired (unbinding their connections), refresh their users' chats."""
        bound = list({id(session): session for session in self._by_sid.values()}.values())
        if not bound:
            return Rechecked([], [])
        alive = await self.store.live_sessions([session.key for session in bound])
        revoked: list[tuple[Session, list[str]]] = []
        for session in bound:
            if session.key in alive:
                session.expires_at_ms = alive[session.key]
                continue
            sids = sorted(session.sids)
            for sid in sids:
                self.unbind(sid)
            self._forget(session)
            revoked.append((session, sids))
        kept = {session.user: session.account for session in bound if session.key in alive}
        await self._reread_chats(list(kept.values()))
        left = [
            (session, chat_id)
            for session in self._by_key.values()
            for chat_id in sorted(session.rooms - session.account.chats)
        ]
        for session, chat_id in left:
            session.rooms.discard(chat_id)
        return Rechecked(revoked, left)

    async def _reread_chats(self, users: list[Account]) -> None:
        """Take the users' chats from the database, keeping what this process changed
        while the query ran (a join answered in the meantime stays joined)."""
        if not users:
            return
        started = time.monotonic()
        before = {account.name: set(account.chats) for account in users}
        chats = await self.store.chats_of([account.name for account in users])
        for account in users:
            was = before[account.name]
            account.chats = (chats[account.name] | (account.chats - was)) - (was - account.chats)
            account.read_at = started

    async def _cache(self, key: str, user: str, expires_at_ms: int) -> Session:
        account = self._accounts.get(user)
        if account is None:
            chats = (await self.store.chats_of([user]))[user]
            account = self._accounts.setdefault(user, Account(user, chats))
        session = self._by_key.get(key)
        if session is None:
            session = Session(key, account, expires_at_ms)
            self._by_key[key] = session
            account.sessions += 1
            self._make_room()
        self._touch(session)
        return session

    def _touch(self, session: Session) -> None:
        self._by_key.move_to_end(session.key)  # the cache's order: least recently used first

    def _forget(self, session: Session) -> None:
        if self._by_key.pop(session.key, None) is None:
            return
        session.account.sessions -= 1
        if session.account.sessions == 0:
            self._accounts.pop(session.user, None)

    def _make_room(self) -> None:
        """Drop the least recently used cached sessions without a connection, over the bound.

        Sessions with a live connection stay, however many: their number is bounded
        by the connections the server accepts.
        """
        if len(self._by_key) <= self.max_cached:
            return
        for session in list(self._by_key.values()):  # least recently used first
            if len(self._by_key) <= self.max_cached:
                return
            if not session.sids:
                self._forget(session)
