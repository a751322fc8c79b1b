"""Who is who: registered sessions, their joined chats and their live connections.

The server never believes a name in a message payload. A client registers once
(``register`` over Socket.IO, or ``POST /api/register``) and gets a session
token; from then on its messages are signed with the session's user, and it may
read and post only in the chats the session joined.

One session may have several Socket.IO connections (a reconnect overlapping the
old one, say) and an HTTP client holding the same token (the failover
transport): they are all the same device, with the same chats. Two devices of the
same user register separately and are two sessions.

Sessions live in memory: a restarted server forgets them, and clients register
again (the Socket.IO transport does so on reconnect). Messages are what must
survive a restart, and they are in the store.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from chatkit.live.errors import NotMember, NotRegistered, Unavailable
from chatkit.live.limits import TokenBucket

TOKEN_BYTES = 24


@dataclass(eq=False)
class Session:
    token: str
    user: str
    chats: set[str] = field(default_factory=set)
    sids: set[str] = field(default_factory=set)
    """The Socket.IO connections bound to this session right now."""
    last_seen: float = field(default_factory=time.monotonic)
    bucket: TokenBucket = field(default_factory=lambda: TokenBucket(0, 1))
    """Every request of this session, on any transport, is charged here."""

    def require_member(self, chat_id: str) -> None:
        if chat_id not in self.chats:
            raise NotMember(f"join the chat {chat_id!r} first")


class SessionRegistry:
    """Every session by token and by connection, bounded in size.

    When full, the least recently used session that has had no connection and no
    request for ``idle_s`` seconds is forgotten; if none is that idle, registering
    is refused rather than forgetting someone still using the server (an HTTP-only
    client has no connection, but its last request says it is there).
    """

    def __init__(
        self, max_sessions: int, *, idle_s: float = 600.0, rate: float = 0, burst: int = 1
    ) -> None:
        self.max_sessions = max_sessions
        self.idle_s = idle_s
        self.rate = rate
        self.burst = burst
        self._by_token: OrderedDict[str, Session] = OrderedDict()
        self._by_sid: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._by_token)

    def register(self, user: str, token: str | None = None) -> Session:
        """Resume the session ``token`` names if it is this user's, or start a new one."""
        if token is not None:
            session = self._by_token.get(token)
            if session is not None and session.user == user:
                self._touch(session)
                return session
        self._make_room()
        session = Session(
            secrets.token_urlsafe(TOKEN_BYTES), user, bucket=TokenBucket(self.rate, self.burst)
        )
        self._by_token[session.token] = session
        return session

    def find(self, token: object) -> Session | None:
        """The session a token names, or None (a reconnect after a restart, say)."""
        return self._by_token.get(token) if isinstance(token, str) else None

    def by_token(self, token: str | None) -> Session:
        """The session a token names; `NotRegistered` if none does (any more)."""
        session = self._by_token.get(token) if token else None
        if session is None:
            raise NotRegistered("register first (the session is unknown or has expired)")
        self._touch(session)
        return session

    def by_sid(self, sid: str) -> Session:
        """The session bound to a Socket.IO connection; `NotRegistered` if none is."""
        session = self._by_sid.get(sid)
        if session is None:
            raise NotRegistered("register first: send 'register' with your user name")
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

    def active_users(self) -> list[str]:
        """The users with at least one live connection, each once, sorted."""
        return sorted({session.user for session in self._by_token.values() if session.sids})

    def _touch(self, session: Session) -> None:
        session.last_seen = time.monotonic()
        self._by_token.move_to_end(session.token)

    def _make_room(self) -> None:
        if len(self._by_token) < self.max_sessions:
            return
        idle_since = time.monotonic() - self.idle_s
        for token, session in self._by_token.items():  # least recently used first
            if session.last_seen > idle_since:
                break  # this one and every later one was used recently
            if not session.sids:
                del self._by_token[token]
                return
        raise Unavailable("the server has too many connected sessions; try again later")
