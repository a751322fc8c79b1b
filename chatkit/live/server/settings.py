"""Every limit and knob of the live server, in one frozen dataclass.

A limit that lives in a handler as a bare number is a limit nobody can find, test
or change. Here each one has a name, a default and a reason, and the server reads
them from a single `ServerSettings` it is given at start-up. The fault switches
that a terminal client may change while the server runs live apart, in
`chatkit.live.server.faults.FaultSettings`, because these here never change after start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from chatkit.live.server.admin import new_token
from chatkit.live.server.cluster.secret import how_to_make_one
from chatkit.live.server.faults import FaultSettings
from chatkit.model import MAX_BODY_CHARS

DEFAULT_PORT = 5001
DEFAULT_DB = Path("chatkit-live.sqlite3")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How one live server runs. Build it once; the server never mutates it."""

    host: str = "127.0.0.1"
    """Loopback by default: the kit's server is for a classroom laptop, not the internet."""
    tls_cert: Path | None = None
    """A PEM certificate (chain): with ``tls_key``, the server speaks HTTPS and WSS only."""
    tls_key: Path | None = None
    port: int = DEFAULT_PORT
    """0 asks the OS for a free port; the server prints the one it got."""
    db_path: Path = DEFAULT_DB
    """The SQLite file. Its ``-wal`` and ``-shm`` companions live beside it."""
    database_url: str | None = None
    """A ``postgresql://`` URL: messages, accounts and sessions live there, not in db_path."""
    redis_url: str | None = field(default=None, repr=False)
    """A Redis server (``redis://host:port/db``) that carries broadcasts, typing and the
    fault switches between server processes; None: this process is the only one. Not in
    the repr: the URL may hold Redis's password."""
    cluster_secret: bytes | None = field(default=None, repr=False)
    """The secret every server on ``redis_url`` seals its packets with (required with it;
    see `chatkit.live.server.cluster.secret`); never logged."""

    max_body_chars: int = MAX_BODY_CHARS
    """Same limit as the client's `chatkit.check_body`, so both sides agree on "too long"."""
    max_user_chars: int = 32
    max_chat_id_chars: int = 64
    max_client_id_chars: int = 128
    """Long enough for any uuid-based scheme, short enough to keep the unique index small."""
    max_chats_per_session: int = 100
    """How many chats one person may be in: bounds the rooms and members a client can add."""
    max_sessions: int = 10_000
    """Sessions cached in memory; the least recently used ones without a connection are
    dropped from the cache (not signed out: they are in the database)."""
    session_ttl_s: float = 7 * 24 * 3600.0
    """How long a session token stays valid after sign-in (a week: a course's rhythm)."""
    session_recheck_s: float = 2.0
    """How often the sessions of live connections are checked against the database, so a
    sign-out or a membership change made through another server process reaches these."""
    accounts_path: Path | None = None
    """Where accounts, sessions and chat membership are kept; None: in ``db_path``."""
    max_payload_bytes: int = 64 * 1024
    """The largest Socket.IO packet or HTTP body accepted (a 2,000-character body is ~8 KiB).
    A bigger one is answered with an error, and the connection lives on."""
    max_frame_bytes: int = 1024 * 1024
    """The largest WebSocket frame read at all. A bigger one is not read: the connection is
    closed with WebSocket code 1009 ("message too big"), so no frame can fill memory."""
    max_queued_packets: int = 500
    """Packets waiting to be written to one connection. A reader that falls this far behind
    (it stopped reading) is disconnected, so a stalled client cannot grow the server."""
    rate_per_s: float = 50.0
    """Requests a second one account may make on average, on all its sessions, and one
    address not signed in (0: no limit; the password limits stay)."""
    rate_burst: int = 200
    """Requests one account (or address not signed in) may make at once before the rate applies."""
    login_rate_per_s: float = 5.0
    """Password attempts a second from one client address, on average (0: no limit). Each
    costs a scrypt check, so this is what keeps guessing slow and the CPU free."""
    login_burst: int = 60
    """Password attempts one address may make at once: a class behind one address signs in."""
    account_login_rate_per_s: float = 0.1
    """Wrong passwords a second tried on one account, from whatever addresses (0: no limit):
    guessing one person's password from many addresses is as slow as from one. An address
    the account signed in from before has a budget of its own, so guesses from elsewhere
    do not lock the owner out where they usually sign in."""
    account_login_burst: int = 10
    """Wrong passwords one account may see at once; a right one costs nothing."""
    max_password_checks: int = 32
    """Password checks waiting or running at once, in all; one more is answered "busy" at
    once instead of queueing behind them (scrypt is the costliest thing the server does,
    and a sign-in should not wait seconds behind a flood of guesses)."""
    invite_rate_per_s: float = 0.5
    """Invitations by name one account may send a second, on average (0: no limit)."""
    invite_burst: int = 20
    """Invitations one account may send at once."""
    forwarded_allow_ips: tuple[str, ...] = ()
    """The proxies whose ``X-Forwarded-For`` names the client (addresses or networks, or
    ``*``); none by default, so every limit by address uses the socket's peer."""
    allowed_hosts: tuple[str, ...] = ()
    """``Host`` names accepted besides loopback and ``host`` (see `chatkit.live.server.hosts`)."""
    request_timeout_s: float = 10.0
    """How long an HTTP request's headers, and then its body, may take to arrive; a slow
    one (slowloris) is closed instead of holding a connection for ever."""
    max_connections: int = 2_000
    """Open connections (and requests in progress) before new HTTP requests get 503."""
    max_connections_per_address: int = 256
    """Open connections from one client address, HTTP and WebSocket alike: one address
    cannot take the server's connections from everyone else (a class behind one NAT fits)."""
    sign_in_timeout_s: float = 10.0
    """How long a Socket.IO connection may stay open without signing in before it is closed."""

    history_page_default: int = 50
    history_page_max: int = 500

    ping_interval_s: float = 25.0
    ping_timeout_s: float = 20.0
    """Engine.IO heartbeats: how fast a silently dead connection is noticed."""

    sqlite_synchronous: Literal["NORMAL", "FULL"] = "FULL"
    """FULL syncs the WAL to disk at every commit, so an acknowledged message survives even
    a power cut; NORMAL survives a killed process only. Group commit keeps FULL fast."""
    write_batch_max: int = 256
    """The most messages one SQLite transaction commits (group commit under load)."""

    allow_fault_control: bool = True
    """Whether clients may change the fault switches while the server runs (a teaching aid)."""
    faults: FaultSettings = field(default_factory=FaultSettings)
    """The fault switches the server starts with."""
    admin_token: str = field(default_factory=new_token, repr=False)
    """The host's credential for the fault switches (see `chatkit.live.server.admin`); never logged."""

    def __post_init__(self) -> None:
        positive = {
            "max_body_chars": self.max_body_chars,
            "max_user_chars": self.max_user_chars,
            "max_chat_id_chars": self.max_chat_id_chars,
            "max_client_id_chars": self.max_client_id_chars,
            "max_chats_per_session": self.max_chats_per_session,
            "max_sessions": self.max_sessions,
            "max_payload_bytes": self.max_payload_bytes,
            "max_frame_bytes": self.max_frame_bytes,
            "max_queued_packets": self.max_queued_packets,
            "rate_burst": self.rate_burst,
            "max_connections": self.max_connections,
            "max_connections_per_address": self.max_connections_per_address,
            "login_burst": self.login_burst,
            "account_login_burst": self.account_login_burst,
            "invite_burst": self.invite_burst,
            "max_password_checks": self.max_password_checks,
            "history_page_default": self.history_page_default,
            "history_page_max": self.history_page_max,
            "write_batch_max": self.write_batch_max,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1 (got {value})")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535 (got {self.port})")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")
        if self.max_frame_bytes < self.max_payload_bytes:
            raise ValueError("max_frame_bytes cannot be below max_payload_bytes")
        rates = (
            self.rate_per_s,
            self.login_rate_per_s,
            self.account_login_rate_per_s,
            self.invite_rate_per_s,
        )
        if min(rates) < 0 or self.request_timeout_s <= 0 or self.session_ttl_s <= 0:
            raise ValueError("rates and timeouts cannot be negative")
        if self.sign_in_timeout_s <= 0:
            raise ValueError(f"sign_in_timeout_s must be above 0 (got {self.sign_in_timeout_s})")
        if self.session_recheck_s <= 0:
            raise ValueError(f"session_recheck_s must be above 0 (got {self.session_recheck_s})")
        if self.redis_url is not None and self.cluster_secret is None:
            raise ValueError(
                "servers that share --redis sign what they tell each other with a secret "
                f"they share, and none was given: {how_to_make_one()}"
            )
        if self.history_page_default > self.history_page_max:
            raise ValueError("history_page_default cannot exceed history_page_max")
