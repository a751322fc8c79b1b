"""Putting the server together and running it under uvicorn.

`create_server` wires the parts — store, fault switches, sessions, the chat
service, the Socket.IO side and the HTTP side — into one ASGI app: Socket.IO
answers under ``/socket.io/``, Starlette everything else. `serve` runs it until
Ctrl-C (or SIGTERM), opening the store before the first request and closing it,
after the last pending write, on the way out.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import socketio  # type: ignore[import-untyped]
import uvicorn
from starlette.applications import Starlette

from chatkit.live.server.cluster.fanout import Fanout, RedisFanout
from chatkit.live.server.connections import TOTAL_HEADROOM, ConnectionGate, trusted_proxies
from chatkit.live.server.faults import FaultInjector
from chatkit.live.server.frames import FrameGuard
from chatkit.live.server.hosts import HostAllowlist, HostGuard
from chatkit.live.server.http_api import create_http_app
from chatkit.live.server.limits import Limits
from chatkit.live.server.realtime import Realtime
from chatkit.live.server.service import ChatService
from chatkit.live.server.sessions import SessionRegistry
from chatkit.live.server.settings import ServerSettings
from chatkit.live.server.slow_requests import PollingDeadline, with_header_deadline
from chatkit.live.storage import databases
from chatkit.live.storage.locations import shown
from chatkit.live.storage.messages import MessageStore

log = logging.getLogger("chatkit.live")

SHUTDOWN_GRACE_S = 3
"""How long uvicorn waits for open connections before closing them at shutdown."""
LISTEN_BACKLOG = 512


@dataclass
class LiveServer:
    """Every part of one running server, for tests and tools that want to look inside."""

    settings: ServerSettings
    store: MessageStore
    faults: FaultInjector
    sessions: SessionRegistry
    service: ChatService
    realtime: Realtime
    app: Any
    """The ASGI application to hand to uvicorn (a ``socketio.ASGIApp``, which ships no types)."""


def message_store(settings: ServerSettings) -> MessageStore:
    """The message store ``settings`` ask for, not yet open."""
    if settings.database_url is not None:
        from chatkit.live.storage.postgres.messages import PostgresStore

        return PostgresStore(settings.database_url, shared=settings.redis_url is not None)
    from chatkit.live.storage.messages import SQLiteStore

    return SQLiteStore(
        settings.db_path,
        synchronous=settings.sqlite_synchronous,
        batch_max=settings.write_batch_max,
        shared=settings.redis_url is not None,
    )


def accounts_location(settings: ServerSettings) -> str | Path:
    """Where ``settings`` keep accounts: PostgreSQL's URL, ``--accounts-db`` or the --db file."""
    if settings.database_url is not None:
        return settings.database_url
    return settings.accounts_path or settings.db_path


def create_server(
    settings: ServerSettings,
    store: MessageStore | None = None,
    *,
    on_ready: Callable[[], None] | None = None,
) -> LiveServer:
    """Build the app. ``store`` defaults to the database ``settings`` name (SQLite at
    ``db_path``, or PostgreSQL); any `MessageStore` will do (the benchmark plugs in a
    one-JSON-file store)."""
    if store is None:
        store = message_store(settings)
    faults = FaultInjector(settings.faults)
    account_store = databases.account_store(accounts_location(settings))
    sessions = SessionRegistry(
        account_store,
        settings.max_sessions,
        ttl_s=settings.session_ttl_s,
        recheck_s=settings.session_recheck_s,
        limits=Limits.from_settings(settings),
    )
    fanout = Fanout(faults)
    if settings.redis_url is not None:
        assert settings.cluster_secret is not None  # ServerSettings requires it
        fanout = RedisFanout(faults, settings.redis_url, settings.cluster_secret, store)
    service = ChatService(settings, store, faults, sessions, fanout)
    realtime = Realtime(settings, service)
    opened_store = store

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await opened_store.open()
        await account_store.open()
        watcher = asyncio.get_running_loop().create_task(service.watch_sessions())
        await realtime.open()
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            watcher.cancel()
            await service.drain()
            await realtime.close()
            await opened_store.close()
            await account_store.close()

    http_app = create_http_app(service, lifespan)
    app = HostGuard(
        PollingDeadline(
            FrameGuard(
                socketio.ASGIApp(realtime.sio, other_asgi_app=http_app),
                max_body_bytes=settings.max_frame_bytes,
            ),
            post_s=settings.request_timeout_s,
            poll_s=settings.ping_interval_s + settings.request_timeout_s,
        ),
        HostAllowlist(settings.host, settings.allowed_hosts),
    )
    return LiveServer(settings, store, faults, sessions, service, realtime, app)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket. Binding here, not in uvicorn, lets port 0 pick a free
    port that we know before announcing it (what the tests and benchmark rely on).

    The socket is made with ``IPPROTO_TCP`` spelled out: asyncio turns Nagle's
    algorithm off (TCP_NODELAY) only on sockets whose protocol says TCP, and with
    Nagle on, an echo written right after its ack waits ~40 ms for a delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def ready_line(host: str, port: int, settings: ServerSettings) -> str:
    """The one line printed when the server is ready; its URL is what scripts read."""
    scheme = "https" if settings.tls_cert is not None else "http"
    database = shown(settings.database_url or settings.db_path)
    return f"chatkit live server ready on {scheme}://{host}:{port} (db: {database})"


_READY = re.compile(r"^chatkit live server ready on https?://(?P<host>\S+):(?P<port>\d+)(?:\s|$)")


def parse_ready_line(line: str) -> tuple[str, int] | None:
    """The host and port in a `ready_line`, or None if ``line`` is not one."""
    match = _READY.match(line.strip())
    return None if match is None else (match["host"], int(match["port"]))


def uvicorn_config(app: Any, settings: ServerSettings, **options: Any) -> uvicorn.Config:
    """How uvicorn runs the app: the limits of `ServerSettings` that live in uvicorn."""
    chosen: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "lifespan": "on",
        "http": with_header_deadline(
            settings.request_timeout_s,
            ConnectionGate(
                settings.max_connections_per_address,
                max(1, settings.max_connections - TOTAL_HEADROOM),
                proxies=trusted_proxies(settings.forwarded_allow_ips),
            ),
        ),
        "ws_max_size": settings.max_frame_bytes,
        "limit_concurrency": settings.max_connections,
        # X-Forwarded-For is believed from the proxies the host named, and from nobody else
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": list(settings.forwarded_allow_ips),
        "timeout_graceful_shutdown": SHUTDOWN_GRACE_S,
    }
    if settings.tls_cert is not None and settings.tls_key is not None:
        chosen |= {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
    return uvicorn.Config(app, **(chosen | options))


async def serve(
    settings: ServerSettings,
    store: MessageStore | None = None,
    *,
    announce: Callable[[str], None] | None = None,
    admin_note: str | None = None,
) -> None:
    """Run the server until it is told to stop (Ctrl-C or SIGTERM).

    ``admin_note`` is printed after the ready line (``{token}`` becomes the admin token):
    the ready line stays the first, which is what scripts read.
    """
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]

    def ready() -> None:
        # What exists once the server is up (modules, the app, the open stores) lives as
        # long as the process: out of the collector's sight, a full collection under load
        # walks only what the messages made, not every object of every module imported.
        gc.freeze()
        lines = [ready_line(host, port, settings)]
        if admin_note is not None:
            lines.append(admin_note.format(token=settings.admin_token))
        for line in lines:
            if announce is not None:
                announce(line)
            else:
                print(line, flush=True)

    server = create_server(settings, store, on_ready=ready)
    config = uvicorn_config(server.app, settings)
    try:
        await uvicorn.Server(config).serve(sockets=[sock])
    finally:
        sock.close()
