"""``chatkit serve`` and ``python -m chatkit.live``: run the live server from a terminal.

The ``chatkit`` console script registers the subcommand with
`add_serve_command`; ``python -m chatkit.live`` takes the same arguments, so the
server runs before (and without) the console script.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from chatkit.live.server.admin import new_token, token_from_file
from chatkit.live.server.cluster.secret import secret_from_file
from chatkit.live.server.exposure import exposure_warning
from chatkit.live.server.faults import FaultSettings
from chatkit.live.server.settings import DEFAULT_DB, DEFAULT_PORT, ServerSettings
from chatkit.live.storage.databases import check_postgres
from chatkit.live.storage.locations import is_postgres_url

DESCRIPTION = (
    "Run the live chat server: Socket.IO for realtime (rooms, acked sends, echoes, typing), "
    "HTTP for health, users, history and a fallback send endpoint, messages in SQLite. "
    "The fault switches make the races the exercise is about happen on purpose."
)

DEFAULTS = ServerSettings()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's options, shared by ``chatkit serve`` and ``python -m chatkit.live``."""
    where = parser.add_argument_group("where")
    where.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    where.add_argument(
        "--tls-cert",
        type=Path,
        metavar="PEM",
        help="serve HTTPS and WSS with this certificate (with --tls-key)",
    )
    where.add_argument("--tls-key", type=Path, metavar="PEM", help="the certificate's private key")
    where.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a name clients may reach the server by (the Host header), besides loopback and "
        "--host; repeat for more (a wildcard --host also accepts any IP address)",
    )
    where.add_argument(
        "--forwarded-allow-ips",
        default="",
        metavar="ADDRESSES",
        help="comma-separated addresses or networks of the proxies in front of the server, "
        "whose X-Forwarded-For names the client; '*' trusts anyone (default: none, so every "
        "limit by address uses the connection's own address)",
    )
    where.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port; 0 picks a free one (default: %(default)s)",
    )
    where.add_argument(
        "--db",
        "--database",
        dest="db",
        default=str(DEFAULT_DB),
        metavar="FILE_OR_URL",
        help="SQLite file for messages, or a postgresql:// URL to keep messages, accounts "
        "and sessions in PostgreSQL (default: %(default)s)",
    )
    where.add_argument(
        "--redis",
        metavar="URL",
        help="share broadcasts, typing and fault switches with the other servers on the same "
        "database through this Redis (redis://[user:password@]host:port/0, rediss:// for "
        "TLS); needed to run more than one. Redis must not be reachable by users",
    )
    where.add_argument(
        "--cluster-secret-file",
        type=Path,
        metavar="FILE",
        help="the secret the servers sharing --redis sign their packets with (the same file "
        "on every host); make one with: python -m chatkit.live.server.cluster.secret FILE",
    )
    where.add_argument(
        "--accounts-db",
        type=Path,
        metavar="FILE",
        help="SQLite file for accounts, sessions and chat members (default: the --db file)",
    )
    where.add_argument(
        "--sync",
        choices=("FULL", "NORMAL"),
        default="FULL",
        help="SQLite synchronous mode: FULL survives power loss, NORMAL a killed process "
        "(default: %(default)s)",
    )
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--rate",
        type=float,
        default=DEFAULTS.rate_per_s,
        metavar="PER_SECOND",
        help="requests a second one account (or one address not signed in) may make, on average; "
        "0 turns this limit off, not the password limits "
        "(default: %(default)s)",
    )
    limits.add_argument(
        "--rate-burst",
        type=int,
        default=DEFAULTS.rate_burst,
        metavar="COUNT",
        help="requests one account may make at once before --rate applies (default: %(default)s)",
    )
    limits.add_argument(
        "--connections-per-address",
        type=int,
        default=DEFAULTS.max_connections_per_address,
        metavar="COUNT",
        help="open connections one client address may hold, HTTP and WebSocket alike "
        "(default: %(default)s)",
    )
    limits.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULTS.request_timeout_s,
        metavar="SECONDS",
        help="how long an HTTP request may take to arrive (default: %(default)s)",
    )
    limits.add_argument(
        "--sign-in-timeout",
        type=float,
        default=DEFAULTS.sign_in_timeout_s,
        metavar="SECONDS",
        help="how long a Socket.IO connection may stay open without signing in "
        "(default: %(default)s)",
    )
    faults = parser.add_argument_group("fault injection (for teaching)")
    faults.add_argument("--latency-ms", type=int, default=0, help="delay added to every send")
    faults.add_argument(
        "--lose-acks",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of sends (0..1) stored and broadcast but never acked",
    )
    faults.add_argument(
        "--refuse",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of sends (0..1) refused without storing",
    )
    faults.add_argument(
        "--echo-first",
        action="store_true",
        help="broadcast each message before acking it, so the sender's echo beats its ack",
    )
    faults.add_argument("--seed", type=int, default=None, help="seed the dice, to replay a demo")
    faults.add_argument(
        "--faults-on-http",
        action="store_true",
        help="apply the faults to the HTTP send endpoint too (by default it stays reliable)",
    )
    faults.add_argument(
        "--admin-token-file",
        type=Path,
        metavar="FILE",
        help="read the host's admin token (needed to read or turn the fault switches) from "
        "FILE, or write a fresh one there if it does not exist; without it a fresh token "
        "is printed at start",
    )
    faults.add_argument(
        "--no-fault-control",
        action="store_true",
        help="do not let clients change the fault switches while the server runs",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=("debug", "info", "warning", "error"),
        help="how much the server logs to stderr (default: %(default)s)",
    )


def settings_from(args: argparse.Namespace) -> ServerSettings:
    """Turn parsed arguments into settings; raise ValueError with a readable reason
    (OSError if the admin token file cannot be read or written)."""
    faults = FaultSettings(
        latency_ms=args.latency_ms,
        lose_acks=args.lose_acks,
        refuse=args.refuse,
        echo_first=args.echo_first,
        seed=args.seed,
        on_http=args.faults_on_http,
    )
    secret_file: Path | None = getattr(args, "cluster_secret_file", None)
    secret = None if secret_file is None else secret_from_file(secret_file)
    token_file: Path | None = getattr(args, "admin_token_file", None)
    admin_token = new_token() if token_file is None else token_from_file(token_file)[0]
    return ServerSettings(
        admin_token=admin_token,
        host=args.host,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        port=args.port,
        db_path=DEFAULT_DB if is_postgres_url(args.db) else Path(args.db),
        database_url=args.db if is_postgres_url(args.db) else None,
        redis_url=args.redis,
        cluster_secret=secret,
        accounts_path=args.accounts_db,
        sqlite_synchronous=args.sync,
        allowed_hosts=tuple(args.allowed_host),
        forwarded_allow_ips=tuple(
            part.strip() for part in args.forwarded_allow_ips.split(",") if part.strip()
        ),
        max_connections_per_address=args.connections_per_address,
        rate_per_s=args.rate,
        rate_burst=args.rate_burst,
        request_timeout_s=args.request_timeout,
        sign_in_timeout_s=args.sign_in_timeout,
        allow_fault_control=not args.no_fault_control,
        faults=faults,
    )


def serve_command(args: argparse.Namespace) -> int:
    """Run the server until Ctrl-C or SIGTERM; the exit status for the shell."""
    # the heavy imports wait until a server is wanted
    from chatkit.live.server import event_loop
    from chatkit.live.server.assembly import serve
    from chatkit.live.storage.messages import StoreError

    try:
        settings = settings_from(args)
    except (ValueError, OSError) as error:
        print(f"chatkit serve: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    warning = exposure_warning(settings.host, settings.port, tls=settings.tls_cert is not None)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    try:
        if settings.database_url is None:
            _no_other_server(settings.db_path, shared=settings.redis_url is not None)
        else:
            check_postgres(settings.database_url, shared=settings.redis_url is not None)
        if settings.redis_url is not None:
            from chatkit.live.server.cluster.redis_link import check_redis

            check_redis(settings.redis_url)
    except (StoreError, OSError) as error:
        print(f"chatkit serve: {error}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        event_loop.run(serve(settings, admin_note=admin_note(args)))
    except KeyboardInterrupt:
        pass
    except OSError as error:  # the port is taken, the db folder is not writable...
        print(f"chatkit serve: {error}", file=sys.stderr)
        return 1
    print("chatkit live server stopped", flush=True)
    return 0


def _no_other_server(database: Path, *, shared: bool) -> None:
    """Refuse at once, before any port is opened, if serving ``database`` would split it.

    With ``shared`` (``--redis``) other servers that share it are welcome; without, none
    is. The store takes the lock for good when it opens; this early look only spares the
    host a server that starts, then stops."""
    from chatkit.live.storage.messages import OneServerPerFile

    check = OneServerPerFile(database, shared=shared)
    check.acquire()
    check.release()


def admin_note(args: argparse.Namespace) -> str:
    """What the host is told about the admin token, after the ready line."""
    if args.admin_token_file is not None:
        return f"admin token (for the fault switches): in {args.admin_token_file}"
    return "admin token (for the fault switches): {token} — keep it to yourself"


def add_serve_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve`` on the ``chatkit`` console script; its handler is ``args.func``."""
    parser = subparsers.add_parser(
        "serve", help="run the live chat server", description=DESCRIPTION
    )
    add_arguments(parser)
    parser.set_defaults(func=serve_command)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m chatkit.live [options]``."""
    parser = argparse.ArgumentParser(prog="python -m chatkit.live", description=DESCRIPTION)
    add_arguments(parser)
    return serve_command(parser.parse_args(argv))


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    """SIGTERM, after uvicorn's graceful shutdown re-raises it: leave like Ctrl-C does."""
    raise KeyboardInterrupt
